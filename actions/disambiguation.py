"""``action_disambiguate``: "did you mean A or B?" with one button per topic.

The NLU's :class:`bot.nlu.components.AmbiguityDetector` predicts
``nlu_ambiguous`` when the two best intents are answerable topics with close
confidences and keeps the ranking in the parse data.  This action offers those
two topics as buttons whose payloads are the intents (with the residency type
or document the resident already named), titled by the
``utter_intent_title_<intent>`` responses in the conversation's language.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from common.intents import CARRIED_ENTITIES, TOPIC_INTENTS, title_response

LANGUAGE_SLOT = "language"


def ambiguous_topics(ranking: List[Dict[str, Any]]) -> List[str]:
    """The two best topic intents of an intent ranking, best first."""
    return [str(r["name"]) for r in ranking if r.get("name") in TOPIC_INTENTS][:2]


def title(domain: DomainDict, intent: str, language: Optional[str]) -> str:
    """An intent's button title in the language, from its title response."""
    variations = (domain.get("responses") or {}).get(title_response(intent)) or []
    default = intent
    for variation in variations:
        conditions = variation.get("condition") or []
        if not conditions:
            default = str(variation.get("text") or intent)
        elif any(
            c.get("name") == LANGUAGE_SLOT and c.get("value") == language
            for c in conditions
        ):
            return str(variation.get("text") or intent)
    return default


def payload(intent: str, entities: List[Dict[str, Any]]) -> str:
    """``/intent`` plus the slot-filling entities the resident already gave."""
    carried = {
        str(e["entity"]): e["value"]
        for e in entities
        if e.get("entity") in CARRIED_ENTITIES and e.get("value")
    }
    return f"/{intent}{json.dumps(carried)}" if carried else f"/{intent}"


class ActionDisambiguate(Action):
    """Asks which of two close topics the resident meant."""

    def name(self) -> Text:
        """The action name the domain and rules refer to."""
        return "action_disambiguate"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        """Offer the close-scoring topics as buttons instead of guessing one of them."""
        message = tracker.latest_message or {}
        topics = ambiguous_topics(message.get("intent_ranking") or [])
        if len(topics) < 2:
            dispatcher.utter_message(response="utter_default")
            return []
        language = tracker.get_slot(LANGUAGE_SLOT)
        titles = [title(domain, intent, language) for intent in topics]
        entities = message.get("entities") or []
        dispatcher.utter_message(
            response="utter_disambiguate",
            buttons=[
                {"title": t, "payload": payload(intent, entities)}
                for t, intent in zip(titles, topics, strict=True)
            ],
            first=titles[0],
            second=titles[1],
        )
        return []
