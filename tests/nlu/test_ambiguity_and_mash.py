"""AmbiguityDetector and KeyboardMashFallback, on hand-built parse data."""

from __future__ import annotations

from typing import List, Optional, Tuple

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import (
    AmbiguityDetector,
    KeyboardMashFallback,
    is_keyboard_mash,
)
from common.intents import AMBIGUOUS_INTENT

Ranking = List[Tuple[str, float]]


def parsed(ranking: Ranking, fallback: bool = False) -> Message:
    """A message as the classifier (and maybe the FallbackClassifier) left it."""
    rows = [{"name": name, "confidence": conf} for name, conf in ranking]
    if fallback:
        rows.insert(0, {"name": "nlu_fallback", "confidence": 0.65})
    message = Message(data={"text": "some text"})
    message.set("intent", rows[0], add_to_output=True)
    message.set("intent_ranking", rows, add_to_output=True)
    return message


def detect(ranking: Ranking, fallback: bool = False) -> Message:
    detector = AmbiguityDetector({"margin": 0.2, "min_confidence": 0.2})
    return detector.process([parsed(ranking, fallback)])[0]


def intent_of(message: Message) -> Optional[str]:
    return message.get("intent", {}).get("name")


def test_two_close_topics_are_ambiguous_and_the_ranking_is_kept():
    message = detect(
        [("ask_materials", 0.45), ("ask_employer_registration", 0.4), ("greet", 0.15)]
    )
    assert intent_of(message) == AMBIGUOUS_INTENT
    names = [r["name"] for r in message.get("intent_ranking")]
    assert names == [
        AMBIGUOUS_INTENT,
        "ask_materials",
        "ask_employer_registration",
        "greet",
    ]
    assert message.get("intent")["confidence"] == pytest.approx(0.85)


@pytest.mark.parametrize(
    "ranking",
    [
        [("ask_materials", 0.45), ("ask_where_to_go", 0.4)],
        [("ask_individual_payment", 0.41), ("ask_materials", 0.40)],
        [("ask_where_to_go", 0.38), ("ask_individual_payment", 0.36)],
    ],
)
def test_a_close_call_the_payment_guidance_answers_is_no_question(ranking):
    # Where to go and what to bring are both in the payment guidance.
    message = detect(ranking)
    assert intent_of(message) == "ask_individual_payment"
    assert message.get("intent")["confidence"] == pytest.approx(ranking[0][1])
    assert message.get("intent_ranking")[0]["name"] == "ask_individual_payment"


def test_a_clear_winner_is_left_alone():
    message = detect([("ask_materials", 0.7), ("ask_where_to_go", 0.25)])
    assert intent_of(message) == "ask_materials"


def test_a_weak_runner_up_is_not_a_contender():
    message = detect([("ask_materials", 0.3), ("ask_where_to_go", 0.15)])
    assert intent_of(message) == "ask_materials"


@pytest.mark.parametrize(
    "ranking",
    [
        [("ask_materials", 0.45), ("out_of_scope", 0.4)],
        [("thank", 0.45), ("goodbye", 0.4)],
        [("ask_unanswered", 0.45), ("ask_where_to_go", 0.4)],
    ],
)
def test_only_two_answerable_topics_make_an_ambiguity(ranking):
    assert intent_of(detect(ranking)) == ranking[0][0]


def test_a_close_call_the_fallback_classifier_caught_becomes_a_question():
    message = detect([("ask_check_payment", 0.33), ("ask_materials", 0.31)], True)
    assert intent_of(message) == AMBIGUOUS_INTENT
    names = [r["name"] for r in message.get("intent_ranking")]
    assert "nlu_fallback" not in names
    assert names[1:3] == ["ask_check_payment", "ask_materials"]


def test_a_message_without_a_ranking_is_left_alone():
    message = Message(data={"text": ""})
    AmbiguityDetector({}).process([message])
    assert message.get("intent") is None


VOCABULARY = frozenset({"thx", "hmm", "bye", "ok"})


@pytest.mark.parametrize(
    "text",
    [
        "asdfgh",
        "jkl;jkl; zzzz",
        "qwerty uiop",
        "zxcvbnm",
        "sdfsdf",
        "lkjh",
        "啊啊啊啊啊",
    ],
)
def test_keyboard_mash_is_detected(text):
    assert is_keyboard_mash(text, VOCABULARY)


@pytest.mark.parametrize(
    "text",
    [
        "thx",
        "hmm",
        "ok bye",
        "howdy",
        "helo",
        "xinnonghe",
        "yibao",
        "asdfgh 你好",
        "/greet",
        "123456",
        "000000",
        "啊啊",
        "好的好的",
        "",
    ],
)
def test_words_typos_pinyin_and_chinese_are_not_mash(text):
    assert not is_keyboard_mash(text, VOCABULARY)


def test_keyboard_mash_becomes_nlu_fallback():
    component = KeyboardMashFallback(None, None, VOCABULARY)  # type: ignore[arg-type]
    mash, word = parsed([("thank", 0.9)]), parsed([("thank", 0.9)])
    mash.set("text", "asdfgh")
    word.set("text", "thx")
    component.process([mash, word])
    assert intent_of(mash) == "nlu_fallback"
    assert intent_of(word) == "thank"


def test_keyboard_mash_carries_no_language():
    # The conversation keeps its language: a Chinese resident's mash gets a
    # Chinese "please rephrase".
    component = KeyboardMashFallback(None, None, VOCABULARY)  # type: ignore[arg-type]
    mash = parsed([("thank", 0.9)])
    mash.set("text", "asdf qwer")
    mash.set("entities", [{"entity": "language", "value": "en"}])
    component.process([mash])
    assert intent_of(mash) == "nlu_fallback"
    assert mash.get("entities") == []


def test_a_close_call_with_the_type_given_is_the_type_given():
    # "I converted to a non-agricultural hukou": the answer follows the topic.
    ranking = [("ask_individual_payment", 0.46), ("inform_residency", 0.455)]
    message = parsed(ranking, fallback=True)
    message.set("entities", [{"entity": "residency_type", "value": "urban"}])
    detector = AmbiguityDetector({"margin": 0.1, "min_confidence": 0.2})
    out = detector.process([message])[0]
    assert intent_of(out) == "inform_residency"


def test_a_close_call_with_the_type_but_no_type_named_is_left_alone():
    ranking = [("ask_individual_payment", 0.46), ("inform_residency", 0.455)]
    detector = AmbiguityDetector({"margin": 0.1, "min_confidence": 0.2})
    out = detector.process([parsed(ranking, fallback=True)])[0]
    assert intent_of(out) == "nlu_fallback"


def test_a_held_down_chinese_character_keeps_its_language():
    component = KeyboardMashFallback(None, None, VOCABULARY)  # type: ignore[arg-type]
    mash = parsed([("greet", 0.9)])
    mash.set("text", "啊啊啊啊啊")
    mash.set("entities", [{"entity": "language", "value": "zh"}])
    component.process([mash])
    assert intent_of(mash) == "nlu_fallback"
    assert mash.get("entities") == [{"entity": "language", "value": "zh"}]


@pytest.mark.parametrize(
    "text, expected",
    [
        # a story about someone's rural hukou: their own payment question
        (
            "我外婆户口还在老家农村，想帮她把医保办上，怎么弄",
            "ask_individual_payment",
        ),
        # who tells the agency about a hukou move: still a close call
        ("户口迁到城里了，派出所会通知社保吗", AMBIGUOUS_INTENT),
    ],
)
def test_notification_against_a_payment_question_with_a_hukou_type(text, expected):
    ranking = [("ask_agency_notification", 0.46), ("ask_individual_payment", 0.42)]
    message = parsed(ranking)
    message.set("text", text)
    message.set("entities", [{"entity": "residency_type", "value": "agricultural"}])
    detector = AmbiguityDetector({"margin": 0.1, "min_confidence": 0.2})
    assert intent_of(detector.process([message])[0]) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "She has an urban hukou. How much will she have to pay?",
            "ask_payment_amount",
        ),
        ("她是城镇户口，自己交医保要多少钱？", "ask_payment_amount"),
        # no "how much": still a question back
        ("she is urban, what about her medical insurance", AMBIGUOUS_INTENT),
    ],
)
def test_a_close_call_with_the_amount_asking_how_much_is_the_amount(text, expected):
    ranking = [("ask_individual_payment", 0.46), ("ask_payment_amount", 0.42)]
    message = parsed(ranking)
    message.set("text", text)
    detector = AmbiguityDetector({"margin": 0.1, "min_confidence": 0.2})
    assert intent_of(detector.process([message])[0]) == expected
