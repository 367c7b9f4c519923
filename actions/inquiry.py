"""Verified contribution inquiries: "which months of 2025 have I paid?".

``contribution_inquiry_form`` asks for the ID number, has the backend send a
one-time code to the phone on file, checks the code, and then
``action_fetch_contributions`` reads the records with the resulting token.

Secrets stay out of the tracker: slots hold only the masked ID number and
``******`` for the code; the real ID number and the token live in
:data:`actions.identity_sessions.SESSIONS`.  Every message is a response in
``domain.yml`` chosen by slots (``id_number_problem``, ``code_problem``,
``inquiry_outcome``) and the language.

When the shared state (Redis) cannot be reached, the inquiry stops as it does
for a backend that is down ("unavailable": try later, or 12333) before any
code is sent; forgetting state that cannot be reached is only logged, since
every entry expires by itself.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import date
from typing import Any, Dict, List, Optional, Text, Tuple

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
from actions.inquiry_answers import (
    overview_slots,
    summary_slots,
)
from actions.metrics import VERIFICATION_OUTCOMES
from common.identity import (
    ID_NUMBER_PATTERN,
    is_valid_id_number,
    mask_id_number,
    normalize_id_number,
)
from common.storage import StorageUnavailable

FORM_SLOTS = ["id_number", "verification_code"]
FAILURE_SLOT = "inquiry_failure"
# The years the backend keeps records for (its ``year`` parameter's range).
FIRST_YEAR, LAST_YEAR = 1990, 2100
# How many years a question naming no year covers, at most.
MAX_OVERVIEW_YEARS = 30
MASKED_CODE = "******"
_CODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_DIGIT = re.compile(r"[0-9]")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９ＸｘＸ", "0123456789XxX")

logger = logging.getLogger(__name__)

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
        """The form name this validator is bound to."""
        return "validate_contribution_inquiry_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """Skip the ID and code questions when they are already settled in this
        conversation."""
        # Already verified in this conversation, or the inquiry had to stop:
        # nothing to ask, the form ends and the records (or the reason) follow.
        # The shared state out of reach ends it too: action_fetch_contributions
        # then finds it out of reach and says "try later".
        try:
            token = SESSIONS.token(
                tracker.sender_id, _channel(tracker), client_key(tracker)
            )
        except StorageUnavailable:
            _state_unavailable("required_slots")
            return []
        if token or tracker.get_slot(FAILURE_SLOT):
            return []
        # Started by a bare number that is no ID number (a code typed out of
        # context): no ID request; action_fetch_contributions says what it can do.
        if tracker.get_slot("requested_slot") is None and _stray_number(tracker):
            return []
        return FORM_SLOTS

    async def extract_id_number(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """An ID number in the message that started the inquiry ("我的身份证号是…").

        The form's own mapping only reads the answer to its question; this
        reads the first message, as text for ``validate_id_number``, which
        replaces it with the masked number (only the validated slots leave the
        action server).
        """
        if tracker.get_slot("requested_slot") is not None:
            return {}
        text = (tracker.latest_message or {}).get("text") or ""
        return {"id_number": text} if find_id_number(text) else {}

    async def validate_id_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Accept only a well-formed ID number and start the SMS verification for it."""
        text = str(slot_value or "")
        id_number = find_id_number(text)
        if id_number is None:
            # "how much do I owe" again (or "我自己查吧", which the NLU may read
            # as a records question) is no malformed ID: ask the plain question.
            problem: Optional[str] = "format"
            if _restated_question(tracker):
                problem = None
            elif not _DIGIT.search(text.translate(_FULL_WIDTH)):
                problem = "unwilling"  # no attempt at a number at all
            return {"id_number": None, "id_number_problem": problem}
        if not is_valid_id_number(id_number):
            return {"id_number": None, "id_number_problem": "checksum"}
        try:
            # A new number replaces any pending one; this also proves the
            # state can be kept before the backend sends a code.
            SESSIONS.forget_pending(tracker.sender_id)
        except StorageUnavailable:
            _state_unavailable("id_number")
            _outcome("id_number", "unavailable")
            return _stop("unavailable")
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
        try:
            SESSIONS.code_sent(tracker.sender_id, id_number, ttl=started.expires_in)
        except StorageUnavailable:
            _state_unavailable("id_number")
            _outcome("id_number", "unavailable")
            return _stop("unavailable")
        _outcome("id_number", "code_sent")
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
        """Check the one-time code with the backend; only a confirmed code unlocks
        the records."""
        match = _CODE.search(str(slot_value or ""))
        if match is None:
            problem = None if _restated_question(tracker) else "format"
            return {"verification_code": None, "code_problem": problem}
        try:
            return await self._check_code(tracker, match.group(0))
        except StorageUnavailable:
            _state_unavailable("code")
            _outcome("code", "unavailable")
            return _stop("unavailable", "verification_code")

    async def _check_code(self, tracker: Tracker, code: str) -> Dict[Text, Any]:
        """The code's verdict; raises StorageUnavailable when the state is out of reach."""
        sender_id = tracker.sender_id
        id_number = SESSIONS.pending_id_number(sender_id)
        if id_number is None:
            return _stop("code_expired", "verification_code")
        try:
            token = await backend().check_code(id_number, code)
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
            sender_id,
            token,
            ttl=settings().verified_ttl,
            channel=_channel(tracker),
            client=client_key(tracker),
        )
        return {"verification_code": MASKED_CODE, "code_problem": None}


def _restated_question(tracker: Tracker) -> bool:
    """The message was a records question, not an attempt at a number."""
    intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    return intent == "query_my_contributions"


def _state_unavailable(step: str) -> None:
    """Log that the shared state is out of reach (no sender id: it can be a credential)."""
    logger.warning("inquiry.state_unavailable step=%s", step)


def _forget_pending_quietly(sender_id: str, step: str) -> None:
    """Forget the pending ID number; if the state is out of reach, it expires by itself."""
    try:
        SESSIONS.forget_pending(sender_id)
    except StorageUnavailable:
        _state_unavailable(step)


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


def asked_year(tracker: Tracker) -> Tuple[bool, Any]:
    """Whether the latest records question named a year, and which.

    The ``inquiry_year`` slot keeps the last year named, so "how much do I
    owe" after "and 2024?" must not be read as a 2024 question: the answer
    follows the latest records question itself.  Without one (the inquiry
    began with an ID number), the slot decides.
    """
    events = list(tracker.events)
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") != "user" or not _records_question(events, index):
            continue
        parse = event.get("parse_data") or {}
        for entity in parse.get("entities") or []:
            if entity.get("entity") == "year":
                return True, entity.get("value")
        return False, None
    value = tracker.get_slot("inquiry_year")
    return value not in (None, ""), value


def _records_question(events: List[Dict[str, Any]], index: int) -> bool:
    """Whether the user event at ``index`` asked about the resident's records.

    A records question, or an amount question that started the inquiry ("总共要
    补多少钱" right after the records: data/rules/payment_check.yml).
    """
    intent = ((events[index].get("parse_data") or {}).get("intent") or {}).get("name")
    if intent == "query_my_contributions":
        return True
    if intent != "ask_payment_amount":
        return False
    for event in events[index + 1 :]:
        if event.get("event") == "action":
            return event.get("name") == "contribution_inquiry_form"
    return False


INQUIRY_RESET_SLOTS = FORM_SLOTS + ["id_number_problem", "code_problem", FAILURE_SLOT]


def _inquiry_reset() -> List[EventType]:
    """The form asks again next time: its slots never carry over."""
    return [SlotSet(slot, None) for slot in INQUIRY_RESET_SLOTS]


def _stray_number(tracker: Tracker) -> bool:
    """The inquiry was started by a bare number that is no ID number (and no
    verification or failure explains it): nothing to look up, no ID to ask for."""
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    return (
        intent == "inform_number"
        and find_id_number(message.get("text") or "") is None
        and not tracker.get_slot(FAILURE_SLOT)
    )


class ActionFetchContributions(Action):
    """Reads the verified resident's records, or says why it cannot.

    A question naming a year gets that year; one naming none ("how much do I
    owe") gets every year from the enrolment to now and the total owed.
    """

    def name(self) -> Text:
        """The action name the domain and rules refer to."""
        return "action_fetch_contributions"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        """Fetch the verified person's records and answer the question that was
        asked."""
        sender_id = tracker.sender_id
        reset = _inquiry_reset()
        failure = tracker.get_slot(FAILURE_SLOT)
        if failure:
            _forget_pending_quietly(sender_id, "fetch")
            return reset + [SlotSet("inquiry_outcome", failure)]
        try:
            token = SESSIONS.token(sender_id, _channel(tracker), client_key(tracker))
        except StorageUnavailable:
            _state_unavailable("fetch")
            return reset + [SlotSet("inquiry_outcome", "unavailable")]
        if token is None:
            outcome = (
                "number_unclear" if _stray_number(tracker) else "verification_expired"
            )
            return reset + [SlotSet("inquiry_outcome", outcome)]
        language = tracker.get_slot("language")
        named, value = asked_year(tracker)
        try:
            if named:
                year = inquiry_year(value)
                if year is None:
                    return reset + [SlotSet("inquiry_outcome", "unsupported_year")]
                slots = summary_slots(
                    await backend().contributions(token, year), language
                )
            else:
                slots = overview_slots(await self._all_years(token), language)
        except TokenRejected:
            try:
                SESSIONS.forget_token(sender_id)
            except StorageUnavailable:
                _state_unavailable("fetch")
            return reset + [SlotSet("inquiry_outcome", "verification_expired")]
        except BackendError:
            # Unavailable, slow, or a request the backend refused: never a crash.
            return reset + [SlotSet("inquiry_outcome", "unavailable")]
        return reset + [SlotSet(name, value) for name, value in slots.items()]

    @staticmethod
    async def _all_years(token: str) -> List[ContributionSummary]:
        """The backend's current year (it names the enrolment date), then each
        earlier year back to the enrolment (at most ``MAX_OVERVIEW_YEARS``)."""
        current = await backend().contributions(token)
        this_year = current.year
        first = max(
            current.enrollment.since.year,
            this_year - MAX_OVERVIEW_YEARS + 1,
            FIRST_YEAR,
        )
        summaries = [current]
        for year in range(first, this_year):
            summaries.append(await backend().contributions(token, year))
        return summaries


class ActionResetInquiry(Action):
    """The resident left the verification form: forget its state and the ID number."""

    def name(self) -> Text:
        """The action name the domain and rules refer to."""
        return "action_reset_inquiry"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        """Drop the inquiry state so a new ID number can be checked from scratch."""
        _forget_pending_quietly(tracker.sender_id, "reset")
        return _inquiry_reset()
