"""Individual medical-insurance payment: the residency form and its answers."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.language.patterns import canonical_values

RESIDENCY_SLOT = "residency_type"

# The intent a resident asked with decides which part of the guidance to give.
TOPIC_BY_INTENT = {
    "ask_individual_payment": "payment",
    "ask_materials": "materials",
    "ask_where_to_go": "where",
    "ask_payment_amount": "amount",
}
DEFAULT_TOPIC = "payment"


def payment_topic(tracker: Tracker) -> str:
    """The payment topic of the latest user question about paying.

    Derived from the conversation rather than stored: after the form (or after a
    later correction of the residency type) we answer what was actually asked.
    """
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
        if intent in TOPIC_BY_INTENT:
            return TOPIC_BY_INTENT[intent]
    return DEFAULT_TOPIC


class ValidateIndividualPaymentForm(FormValidationAction):
    """Accepts only the canonical residency types the NLU layer produces."""

    def name(self) -> Text:
        return "validate_individual_payment_form"

    def validate_residency_type(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if slot_value in canonical_values(RESIDENCY_SLOT):
            return {RESIDENCY_SLOT: slot_value}
        dispatcher.utter_message(response="utter_residency_type_unclear")
        return {RESIDENCY_SLOT: None}


class ActionPaymentGuidance(Action):
    """Answers the payment question for the resident's residency type."""

    def name(self) -> Text:
        return "action_payment_guidance"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        residency: Optional[str] = tracker.get_slot(RESIDENCY_SLOT)
        if residency not in canonical_values(RESIDENCY_SLOT):
            dispatcher.utter_message(response="utter_ask_residency_type")
            return []
        dispatcher.utter_message(response=f"utter_{payment_topic(tracker)}_{residency}")
        return []
