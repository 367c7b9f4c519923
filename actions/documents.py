"""Short, honest answers about a single document named by the resident."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

# Employer documents share one answer: the seed names them together.
RESPONSE_BY_DOCUMENT = {
    "id_card": "utter_document_id_card",
    "household_register": "utter_document_household_register",
    "unemployment_certificate": "utter_document_unemployment_certificate",
    "photo_receipt": "utter_document_photo_receipt",
    "bank_passbook": "utter_document_bank_passbook",
    "business_licence": "utter_document_employer_documents",
    "registration_certificate": "utter_document_employer_documents",
    "unit_seal": "utter_document_employer_documents",
    "social_insurance_certificate": "utter_document_social_insurance_certificate",
}
UNKNOWN_DOCUMENT_RESPONSE = "utter_document_unknown"


def asked_document(tracker: Tracker) -> Optional[str]:
    """The document named in this message, else the one discussed last."""
    named = list(tracker.get_latest_entity_values("document"))
    return named[0] if named else tracker.get_slot("document")


class ActionExplainDocument(Action):
    """Explains one document, or asks which one when none was named."""

    def name(self) -> Text:
        return "action_explain_document"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Dict[Text, Any]]:
        document = asked_document(tracker)
        dispatcher.utter_message(
            response=RESPONSE_BY_DOCUMENT.get(document or "", UNKNOWN_DOCUMENT_RESPONSE)
        )
        return []
