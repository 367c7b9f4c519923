"""Conversation sessions: what a new session keeps, and ending a chat on request."""

from __future__ import annotations

import logging
from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import (
    ActionExecuted,
    AllSlotsReset,
    EventType,
    SessionStarted,
    SlotSet,
)
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.config import settings
from actions.identity_sessions import SESSIONS
from common.storage import StorageUnavailable

logger = logging.getLogger(__name__)

# What a resident said about themselves that a new session may remember. The
# inquiry's results (paid months, arrears) never carry over: a new session
# must not show the last one's records.
CARRY_OVER_SLOTS = ("language", "residency_type")


def _kept_slots(tracker: Tracker) -> List[EventType]:
    return [
        SlotSet(name, tracker.get_slot(name))
        for name in CARRY_OVER_SLOTS
        if tracker.get_slot(name) is not None
    ]


def operator_slots() -> List[EventType]:
    """The operator's texts that answers quote (privacy page, service hours)."""
    config = settings()
    return [
        SlotSet("privacy_url", config.privacy_url),
        SlotSet("service_hours_en", config.service_hours_en),
        SlotSet("service_hours_zh", config.service_hours_zh),
    ]


class ActionSessionStart(Action):
    """Starts a session keeping only :data:`CARRY_OVER_SLOTS`, with the operator's texts."""

    def name(self) -> Text:
        """Replaces Rasa's default so a new session keeps the language and operator
        texts."""
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Start the session with the kept slots and the operator's configured texts."""
        return [
            SessionStarted(),
            *_kept_slots(tracker),
            *operator_slots(),
            ActionExecuted("action_listen"),
        ]


class ActionEndChat(Action):
    """ "End chat": forget the verification server-side and every slot but the language."""

    def name(self) -> Text:
        """The action name the domain and rules refer to."""
        return "action_end_chat"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """End the chat: forget verification and slots, but keep the user's language."""
        try:
            SESSIONS.end(tracker.sender_id)
        except StorageUnavailable:
            # Out of reach: the token expires by itself (SHEBAO_VERIFIED_TTL).
            logger.warning("end_chat.state_unavailable")
        language = tracker.get_slot("language")
        return [AllSlotsReset(), SlotSet("language", language), *operator_slots()]
