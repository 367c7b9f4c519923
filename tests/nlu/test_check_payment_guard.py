"""CheckPaymentGuard: a payment story asking whether the payment went through."""

from __future__ import annotations

import pytest

from bot.nlu.check_payment_guard import CheckPaymentGuard, asks_to_check_payment
from tests.support.nlu_messages import ranked


@pytest.mark.parametrize(
    "text",
    [
        "My aunt paid at the village office on Monday and got no slip. "
        "How does she verify the payment went through?",
        "I paid yesterday. Can I find out whether it was paid properly?",
        "上个月在村里交了新农合，没给收据，能查一下交上没有吗？",
        "我爸交了医保，心里不踏实。到账了吗怎么看？",
        "钱交了，可以去网点查吗？要带什么？",
    ],
)
def test_questions_about_a_payment_going_through(text: str) -> None:
    assert asks_to_check_payment(text)


@pytest.mark.parametrize(
    "text",
    [
        "I paid my rent late. Where do I go to pay medical insurance?",
        "how do I go through the application for the rural scheme?",
        "交医保要带什么材料",
        "我想自己交医保，怎么办？",
        # the check is in the story, the question is another one
        "I checked and it was paid last year. How much is it this year?",
    ],
)
def test_other_payment_questions(text: str) -> None:
    assert not asks_to_check_payment(text)


def test_a_payment_question_asking_if_it_went_through_becomes_the_check_answer():
    message = ranked(
        "My mum paid at the counter and lost the receipt. How can she confirm the "
        "payment was made?",
        [("ask_individual_payment", 0.97), ("ask_check_payment", 0.02)],
    )
    out = CheckPaymentGuard().process([message])[0]
    assert out.get("intent") == {"name": "ask_check_payment", "confidence": 0.97}


def test_other_intents_are_left_alone():
    message = ranked(
        "can you check my payments went through in 2025?",
        [("query_my_contributions", 0.9), ("ask_check_payment", 0.1)],
    )
    out = CheckPaymentGuard().process([message])[0]
    assert out.get("intent")["name"] == "query_my_contributions"
