"""Individual medical-insurance payment: validation of the residency form.

The answers themselves are responses in ``domain.yml`` whose variations are
conditioned on the ``residency_type`` and ``language`` slots; which answer
follows the form is decided by rules on the ``payment_topic`` slot.
"""

from __future__ import annotations

from typing import Any, Dict, Text

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from common.vocabulary import canonical_values

RESIDENCY_SLOT = "residency_type"


class ValidateIndividualPaymentForm(FormValidationAction):
    """Accepts only the canonical residency types the NLU layer produces.

    Anything else is rejected, and the form asks again with the two choices
    as buttons.
    """

    def name(self) -> Text:
        """The form name this validator is bound to."""
        return "validate_individual_payment_form"

    def validate_residency_type(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        """Keep only a residency type the domain knows; clearing it makes the form
        ask again."""
        if slot_value in canonical_values(RESIDENCY_SLOT):
            return {RESIDENCY_SLOT: slot_value}
        return {RESIDENCY_SLOT: None}
