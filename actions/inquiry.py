"""Verified contribution inquiries: "which months of 2025 have I paid?".

``contribution_inquiry_form`` asks for the ID number, has the backend send a
one-time code to the phone on file, checks the code, and then
``action_fetch_contributions`` reads the records with the resulting token.

Secrets stay out of the tracker: slots hold only the masked ID number and
``******`` for the code; the real ID number and the token live in
:data:`actions.identity_sessions.SESSIONS`.  Every message is a response in
``domain.yml`` chosen by slots (``id_number_problem``, ``code_problem``,
``inquiry_outcome``) and the language.
"""

from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendClient,
    BackendError,
    CodeExpired,
    CodeLocked,
    ContributionSummary,
    InvalidIdNumber,
    RateLimited,
    TokenRejected,
    WrongCode,
)
from actions.config import settings
from actions.identity_sessions import SESSIONS
from actions.metrics import VERIFICATION_OUTCOMES
from common.identity import (
    ID_NUMBER_PATTERN,
    is_valid_id_number,
    mask_id_number,
    normalize_id_number,
)

FORM_SLOTS = ["id_number", "verification_code"]
FAILURE_SLOT = "inquiry_failure"
# The years the backend keeps records for (its ``year`` parameter's range).
FIRST_YEAR, LAST_YEAR = 1990, 2100
MASKED_CODE = "******"
_CODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９ＸｘＸ", "0123456789XxX")

_client: Optional[BackendClient] = None


def backend() -> BackendClient:
    """The process's backend client, created on first use (not at import)."""
    global _client
    if _client is None:
        _client = BackendClient.from_settings(settings())
    return _client


def find_id_number(text: str) -> Optional[str]:
    """The 18-character ID number in ``text`` (full-width digits allowed).

    Only unbroken numbers count: they are what the transcript redaction
    recognises, so a number split by spaces is asked for again rather than
    half-stored.
    """
    match = ID_NUMBER_PATTERN.search((text or "").translate(_FULL_WIDTH))
    return normalize_id_number(match.group(0)) if match else None


class ValidateContributionInquiryForm(FormValidationAction):
    """Verifies the resident step by step; ends the form early when it must stop.

    When the inquiry cannot go on (rate limit, expired code, too many wrong
    codes, backend down) the reason goes into the ``inquiry_failure`` slot and
    the form ends; ``action_fetch_contributions`` then reports it.
    """

    def name(self) -> Text:
        return "validate_contribution_inquiry_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        # Already verified in this conversation, or the inquiry had to stop:
        # nothing to ask, the form ends and the records (or the reason) follow.
        if SESSIONS.token(tracker.sender_id, _channel(tracker)) or tracker.get_slot(
            FAILURE_SLOT
        ):
            return []
        return FORM_SLOTS

    async def validate_id_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        text = str(slot_value or "")
        id_number = find_id_number(text)
        if id_number is None:
            return {"id_number": None, "id_number_problem": "format"}
        if not is_valid_id_number(id_number):
            return {"id_number": None, "id_number_problem": "checksum"}
        try:
            started = await backend().start_verification(
                id_number, client_key=client_key(tracker)
            )
        except InvalidIdNumber:
            _outcome("id_number", "invalid")
            return {"id_number": None, "id_number_problem": "checksum"}
        except RateLimited:
            _outcome("id_number", "rate_limited")
            return _stop("rate_limited")
        except BackendError:
            _outcome("id_number", "unavailable")
            return _stop("unavailable")
        _outcome("id_number", "code_sent")
        SESSIONS.code_sent(tracker.sender_id, id_number, ttl=started.expires_in)
        return {
            "id_number": mask_id_number(id_number),
            "id_number_problem": None,
            "masked_phone": started.masked_phone,
            "code_problem": None,
            "code_valid_minutes": str(max(1, math.ceil(started.expires_in / 60))),
            "max_wrong_codes": str(settings().max_wrong_codes),
        }

    async def validate_verification_code(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        sender_id = tracker.sender_id
        match = _CODE.search(str(slot_value or ""))
        if match is None:
            return {"verification_code": None, "code_problem": "format"}
        id_number = SESSIONS.pending_id_number(sender_id)
        if id_number is None:
            return _stop("code_expired", "verification_code")
        try:
            token = await backend().check_code(id_number, match.group(0))
        except WrongCode:
            if SESSIONS.wrong_code(sender_id) >= settings().max_wrong_codes:
                SESSIONS.forget_pending(sender_id)
                _outcome("code", "too_many_attempts")
                return _stop("too_many_attempts", "verification_code")
            _outcome("code", "wrong")
            return {"verification_code": None, "code_problem": "wrong"}
        except (CodeExpired, CodeLocked):
            SESSIONS.forget_pending(sender_id)
            _outcome("code", "expired")
            return _stop("code_expired", "verification_code")
        except BackendError:
            _outcome("code", "unavailable")
            return _stop("unavailable", "verification_code")
        _outcome("code", "verified")
        SESSIONS.verified(
            sender_id, token, ttl=settings().verified_ttl, channel=_channel(tracker)
        )
        return {"verification_code": MASKED_CODE, "code_problem": None}


def _outcome(step: str, outcome: str) -> None:
    """Count a verification step's outcome (``shebao_actions_verification_outcomes_total``)."""
    VERIFICATION_OUTCOMES.labels(step=step, outcome=outcome).inc()


def _channel(tracker: Tracker) -> Optional[str]:
    """The channel the resident's latest message came through."""
    return tracker.get_latest_input_channel()


def client_key(tracker: Tracker) -> str:
    """Who asks for a code, as the *server* knows it (for the backend's rate limits).

    The channel's fingerprint of the client address when it has one (REST,
    web), else the conversation (a WeChat OpenID is server-verified).  Never
    a value the client chooses freely.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata") or {}
            return str(metadata.get("client") or tracker.sender_id)
    return tracker.sender_id


def _stop(reason: str, slot: str = "id_number") -> Dict[Text, Any]:
    """Slots that end the form because the inquiry cannot go on, and say why."""
    return {
        slot: None,
        FAILURE_SLOT: reason,
        "id_number_problem": None,
        "code_problem": None,
    }


def inquiry_year(value: Any) -> Optional[int]:
    """The year a records question is about (this year by default), or ``None`` if unusable."""
    if value in (None, ""):
        return date.today().year
    try:
        year = int(str(value).strip())
    except ValueError:
        return None
    return year if FIRST_YEAR <= year <= LAST_YEAR else None


def month_list(periods: List[str]) -> str:
    """ "2025-01, 2025-02, 2025-03, 2025-05" -> "2025-01–2025-03, 2025-05"."""
    if not periods:
        return "-"
    ordered = sorted(periods)
    runs: List[List[str]] = [[ordered[0]]]
    for period in ordered[1:]:
        year, month = map(int, runs[-1][-1].split("-"))
        following = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
        if period == following:
            runs[-1].append(period)
        else:
            runs.append([period])
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def summary_slots(summary: ContributionSummary) -> Dict[str, Any]:
    """The slots ``utter_inquiry_result`` fills its template with."""
    last = summary.last_payment
    return {
        "inquiry_outcome": "in_arrears" if summary.arrears.count else "paid_up",
        "inquiry_year": str(summary.year),
        "paid_months": month_list(list(summary.paid_months)),
        "paid_count": str(len(summary.paid_months)),
        "total_paid": money(summary.total_paid),
        "arrears_count": str(summary.arrears.count),
        "arrears_months": month_list(list(summary.arrears.months)),
        "arrears_amount": money(summary.arrears.amount),
        "last_payment": (
            f"{last.period} ¥{money(last.amount)} ({last.paid_on.isoformat()})"
            if last
            else "-"
        ),
    }


class ActionFetchContributions(Action):
    """Reads the verified resident's records, or says why it cannot."""

    def name(self) -> Text:
        return "action_fetch_contributions"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        sender_id = tracker.sender_id
        # The form asks again next time: its slots never carry over.
        reset = [SlotSet(slot, None) for slot in FORM_SLOTS] + [
            SlotSet("id_number_problem", None),
            SlotSet("code_problem", None),
            SlotSet(FAILURE_SLOT, None),
        ]
        failure = tracker.get_slot(FAILURE_SLOT)
        if failure:
            SESSIONS.forget_pending(sender_id)
            return reset + [SlotSet("inquiry_outcome", failure)]
        token = SESSIONS.token(sender_id, _channel(tracker))
        if token is None:
            return reset + [SlotSet("inquiry_outcome", "verification_expired")]
        year = inquiry_year(tracker.get_slot("inquiry_year"))
        if year is None:
            return reset + [SlotSet("inquiry_outcome", "unsupported_year")]
        try:
            summary = await backend().contributions(token, year)
        except TokenRejected:
            SESSIONS.forget_token(sender_id)
            return reset + [SlotSet("inquiry_outcome", "verification_expired")]
        except BackendError:
            # Unavailable, slow, or a request the backend refused: never a crash.
            return reset + [SlotSet("inquiry_outcome", "unavailable")]
        return reset + [
            SlotSet(name, value) for name, value in summary_slots(summary).items()
        ]
