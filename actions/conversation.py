"""Conversation-level actions: human handoff and language switching."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.language.detect import SUPPORTED_LANGUAGES, requested_language

HANDOFF_SLOT = "handoff_requested"
LANGUAGE_SLOT = "language"


class ActionRequestHuman(Action):
    """Points to 12333 and leaves a handoff marker staff can search for.

    The marker is the ``handoff_requested`` slot event, stored with the
    conversation in the tracker store.
    """

    def name(self) -> Text:
        return "action_request_human"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_handoff")
        return [SlotSet(HANDOFF_SLOT, True)]


class ActionSetLanguage(Action):
    """Switches the answer language on request ("请用英文回答", widget switch)."""

    def name(self) -> Text:
        return "action_set_language"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        language = requested_language(text) or tracker.get_slot(LANGUAGE_SLOT)
        if language not in SUPPORTED_LANGUAGES:
            language = "en"
        # The confirmation is chosen by name: the slot change below only takes
        # effect after this action, too late for conditional variations.
        dispatcher.utter_message(response=f"utter_language_set_{language}")
        return [SlotSet(LANGUAGE_SLOT, language)]
