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

import re
from datetime import date
from decimal import Decimal
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.identity_sessions import MAX_WRONG_CODES, SESSIONS
from bot.backend.client import (
    BackendClient,
    BackendUnavailable,
    CodeExpired,
    CodeLocked,
    ContributionSummary,
    InvalidIdNumber,
    RateLimited,
    TokenRejected,
    WrongCode,
)
from bot.identity import (
    ID_NUMBER_PATTERN,
    is_valid_id_number,
    mask_id_number,
    normalize_id_number,
)

FORM_SLOTS = ["id_number", "verification_code"]
MASKED_CODE = "******"
_CODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９ＸｘＸ", "0123456789XxX")

_client: Optional[BackendClient] = None


def backend() -> BackendClient:
    """The process's backend client, created on first use (not at import)."""
    global _client
    if _client is None:
        _client = BackendClient.from_env()
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
    """Verifies the resident step by step; ends the form early when it must stop."""

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
        if SESSIONS.token(tracker.sender_id) or SESSIONS.failure(tracker.sender_id):
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
                id_number, client_key=tracker.sender_id
            )
        except InvalidIdNumber:
            return {"id_number": None, "id_number_problem": "checksum"}
        except RateLimited:
            SESSIONS.fail(tracker.sender_id, "rate_limited")
            return {"id_number": None, "id_number_problem": None}
        except BackendUnavailable:
            SESSIONS.fail(tracker.sender_id, "unavailable")
            return {"id_number": None, "id_number_problem": None}
        SESSIONS.code_sent(tracker.sender_id, id_number)
        return {
            "id_number": mask_id_number(id_number),
            "id_number_problem": None,
            "masked_phone": started.masked_phone,
            "code_problem": None,
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
            SESSIONS.fail(sender_id, "code_expired")
            return {"verification_code": None, "code_problem": None}
        try:
            token = await backend().check_code(id_number, match.group(0))
        except WrongCode:
            if SESSIONS.wrong_code(sender_id) >= MAX_WRONG_CODES:
                SESSIONS.fail(sender_id, "too_many_attempts")
                return {"verification_code": None, "code_problem": None}
            return {"verification_code": None, "code_problem": "wrong"}
        except (CodeExpired, CodeLocked):
            SESSIONS.fail(sender_id, "code_expired")
            return {"verification_code": None, "code_problem": None}
        except BackendUnavailable:
            SESSIONS.fail(sender_id, "unavailable")
            return {"verification_code": None, "code_problem": None}
        SESSIONS.verified(sender_id, token)
        return {"verification_code": MASKED_CODE, "code_problem": None}


def month_list(periods: List[str]) -> str:
    """"2025-01, 2025-02, 2025-03, 2025-05" -> "2025-01–2025-03, 2025-05"."""
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
            f"{last.period} ¥{money(last.amount)} ({last.paid_on.isoformat()})" if last else "-"
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
        ]
        failure = SESSIONS.take_failure(sender_id)
        if failure:
            return reset + [SlotSet("inquiry_outcome", failure)]
        token = SESSIONS.token(sender_id)
        if token is None:
            return reset + [SlotSet("inquiry_outcome", "verification_expired")]
        year = int(tracker.get_slot("inquiry_year") or date.today().year)
        try:
            summary = await backend().contributions(token, year)
        except TokenRejected:
            SESSIONS.forget_token(sender_id)
            return reset + [SlotSet("inquiry_outcome", "verification_expired")]
        except BackendUnavailable:
            return reset + [SlotSet("inquiry_outcome", "unavailable")]
        return reset + [SlotSet(name, value) for name, value in summary_slots(summary).items()]
