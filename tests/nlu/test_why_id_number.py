"""WhyIdNumberGuard: "why do you need my ID number?" only when it asks what for."""

from __future__ import annotations

import pytest

from bot.nlu.components import WhyIdNumberGuard, without_intent
from tests.support.nlu_messages import ranked

WHY = "ask_why_id_number"


@pytest.mark.parametrize(
    "text",
    [
        "why do you need my ID number?",
        "what is my ID number for",
        "is it safe to type my ID number here",
        "为什么要身份证号",
        "你们要身份证号干什么？",
        "输身份证号安全吗",
    ],
)
def test_a_question_what_the_number_is_for_keeps_the_intent(text):
    out = WhyIdNumberGuard().process([ranked(text, [(WHY, 0.9), ("cancel", 0.1)])])
    assert out[0].get("intent")["name"] == WHY


def test_a_message_only_naming_the_number_takes_the_next_intent_rescaled():
    message = ranked(
        "交医保要身份证号吗",
        [(WHY, 0.6), ("ask_materials", 0.3), ("ask_document", 0.1)],
    )
    out = WhyIdNumberGuard().process([message])[0]
    assert out.get("intent")["name"] == "ask_materials"
    assert out.get("intent")["confidence"] == pytest.approx(0.75)
    assert [r["name"] for r in out.get("intent_ranking")] == [
        "ask_materials",
        "ask_document",
    ]


def test_a_runner_up_among_many_stays_below_the_fallback_threshold():
    spread = [(f"intent_{n}", 0.01) for n in range(10)]
    message = ranked("I forgot my ID number", [(WHY, 0.9), *spread])
    out = WhyIdNumberGuard().process([message])[0]
    assert out.get("intent")["name"] == "intent_0"
    assert out.get("intent")["confidence"] == pytest.approx(0.1)
    assert out.get("intent")["confidence"] < 0.35  # config.yml FallbackClassifier


def test_without_intent_keeps_the_others_and_leaves_the_input_alone():
    ranking = [{"name": WHY, "confidence": 0.5}, {"name": "greet", "confidence": 0.5}]
    assert without_intent(ranking, WHY) == [{"name": "greet", "confidence": 1.0}]
    assert ranking[1]["confidence"] == 0.5
