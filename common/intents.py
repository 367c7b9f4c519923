"""Intent names shared by the NLU components (``bot``) and the actions (``actions``).

``nlu_ambiguous`` is never trained: :class:`bot.nlu.components.AmbiguityDetector`
predicts it when the two best intents are answerable topics with close
confidences, and ``action_disambiguate`` asks which of the two was meant.
"""

from __future__ import annotations

AMBIGUOUS_INTENT = "nlu_ambiguous"

# Topics the guidance answers; a close call between two of them is worth a
# "did you mean A or B?" question (each has a title response in domain.yml,
# ``utter_intent_title_<intent>``, in both languages).
TOPIC_INTENTS = (
    "ask_individual_payment",
    "ask_materials",
    "ask_where_to_go",
    "ask_payment_amount",
    "ask_document",
    "ask_employer_registration",
    "ask_employer_change",
    "ask_agency_notification",
    "ask_legal_basis",
    "ask_check_payment",
)

# A close call inside this group needs no question: the answer to the first
# (where to go *and* what to bring) also answers the other two.
PAYMENT_GUIDANCE_INTENT = "ask_individual_payment"
COVERED_BY_PAYMENT_GUIDANCE = frozenset(
    {"ask_individual_payment", "ask_materials", "ask_where_to_go"}
)

# Entities a button payload carries over from the ambiguous message.
CARRIED_ENTITIES = ("residency_type", "document")


def title_response(intent: str) -> str:
    """The name of the response holding an intent's button title."""
    return f"utter_intent_title_{intent}"
