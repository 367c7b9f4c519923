"""A question about whether a payment went through is about checking it.

"My dad paid his rural medical insurance at the village last week but got no
receipt. How can he check the payment was made?" is all payment words but its
question: the classifier reads a payment question and the resident gets where
to pay, again. :class:`CheckPaymentGuard` gives ``ask_check_payment`` (the three
ways to check, and the offer to look up one's own records) to a message
predicted as a payment question whose questions (``question_sentences``: every
sentence with a question mark, or else the last one) ask to check or confirm
that a payment was made.
"""

from __future__ import annotations

import re
from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import _set_intent, _StatelessComponent
from bot.nlu.question_focus import question_sentences
from common.intents import COVERED_BY_PAYMENT_GUIDANCE

CHECK_INTENT = "ask_check_payment"

_ASKS_TO_CHECK = re.compile(
    # 查一下 / 查询 / 核实 / 确认 ... that it was paid, or "交上了没有", "到账了吗"
    r"(查|核实|核对|确认|看看|问问).{0,10}(交上|缴上|交成功|缴成功|到账|交了没|交没交|"
    r"缴了没|有没有交|交费记录|缴费记录|缴费情况|交费情况)|"
    r"(交上|缴上|到账|交成功|缴成功)(了)?(没|吗|么)|线下查|去.{0,4}查|"
    r"\b(check|verify|confirm|make sure|find out|see)\b.{0,40}"
    r"\b(paid|payment|went through|gone through|was made|arrived|received|go through)\b|"
    r"\b(went|gone) through\b",
    re.IGNORECASE,
)


def asks_to_check_payment(text: str) -> bool:
    """Whether one of the message's questions asks to check a payment was made."""
    return any(_ASKS_TO_CHECK.search(sentence) for sentence in question_sentences(text))


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class CheckPaymentGuard(_StatelessComponent):
    """A payment question that asks whether the payment went through: checking."""

    def process(self, messages: List[Message]) -> List[Message]:
        """Turns such payment questions into ``ask_check_payment``."""
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            # the payment questions a story of paying pulls a check question to
            if intent not in COVERED_BY_PAYMENT_GUIDANCE:
                continue
            if asks_to_check_payment(message.get(TEXT) or ""):
                ranking = list(message.get(INTENT_RANKING_KEY) or [])
                _set_intent(message, CHECK_INTENT, ranking)
        return messages
