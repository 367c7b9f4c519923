"""Conversation-level actions: language switching."""

from __future__ import annotations

from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from common.language import SUPPORTED_LANGUAGES, requested_language

LANGUAGE_SLOT = "language"


class ActionSetLanguage(Action):
    """Switches the answer language on request ("请用英文回答", widget switch).

    "请用英文回答" is written in Chinese, so the language detector set the slot
    to ``zh``; the language the request *names* wins.  A widget button sends
    ``/set_language{"language": "en"}``, which the slot mapping already applied.
    The rule that runs this action follows it with ``utter_language_set``.
    """

    def name(self) -> Text:
        """The action name the domain and rules refer to."""
        return "action_set_language"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        """Switch the reply language on request, keeping the current one otherwise."""
        text = tracker.latest_message.get("text") or ""
        language = requested_language(text) or tracker.get_slot(LANGUAGE_SLOT)
        if language not in SUPPORTED_LANGUAGES:
            language = SUPPORTED_LANGUAGES[0]
        return [SlotSet(LANGUAGE_SLOT, language)]
