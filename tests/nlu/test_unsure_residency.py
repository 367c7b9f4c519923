"""UnsureResidencyFilter: naming both residency types without choosing one is no answer."""

from __future__ import annotations

from typing import List, Optional

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import (
    HukouTypeTopicGuard,
    UnsureResidencyFilter,
    unsure_of_residency,
)


def parsed(text: str, intent: str, values: List[str]) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.9}, add_to_output=True)
    entities = [{"entity": "residency_type", "value": v} for v in values]
    entities.append({"entity": "language", "value": "zh"})
    message.set("entities", entities, add_to_output=True)
    return message


def residency_values(message: Message) -> List[Optional[str]]:
    return [
        e.get("value")
        for e in message.get("entities", [])
        if e.get("entity") == "residency_type"
    ]


def test_not_sure_drops_both_types_and_keeps_other_entities():
    message = parsed(
        "不知道是城镇还是农业", "inform_not_sure", ["urban", "agricultural"]
    )
    out = UnsureResidencyFilter().process([message])[0]
    assert residency_values(out) == []
    assert [e["entity"] for e in out.get("entities")] == ["language"]


@pytest.mark.parametrize(
    "text, intent, values, unsure",
    [
        ("不知道是城镇还是农业", "inform_not_sure", ["urban", "agricultural"], True),
        ("i don't know if it's urban", "inform_not_sure", ["urban"], True),
        (
            "not sure if i'm urban or rural, how do i pay?",
            "ask_individual_payment",
            ["urban", "agricultural"],
            True,
        ),
        ("不是城镇，是农村", "inform_residency", ["urban", "agricultural"], False),
        ("我办了农转非，现在是城镇户口", "inform_residency", ["urban", "urban"], False),
        ("actually, my hukou is rural", "inform_residency", ["agricultural"], False),
        ("我不知道去哪，我是农村户口", "ask_where_to_go", ["agricultural"], False),
        ("不清楚", "inform_not_sure", [], False),
    ],
)
def test_unsure_of_residency(text, intent, values, unsure):
    assert unsure_of_residency(text, intent, values) is unsure


def test_a_chosen_type_is_kept():
    message = parsed("不对，我是农村户口", "inform_residency", ["agricultural"])
    out = UnsureResidencyFilter().process([message])[0]
    assert residency_values(out) == ["agricultural"]


def entity(value: str, start: int) -> dict:
    return {"entity": "residency_type", "value": value, "start": start}


@pytest.mark.parametrize(
    "text, first, second, kept",
    [
        (
            "oh sorry, she's agricultural not urban",
            "agricultural",
            "urban",
            ["agricultural"],
        ),
        ("it's not rural, it's urban", "agricultural", "urban", ["urban"]),
        ("是农村，不是城镇", "agricultural", "urban", ["agricultural"]),
        ("以前是农村户口，现在是城镇户口", "agricultural", "urban", ["urban"]),
        ("不是城镇，是农村", "urban", "agricultural", ["agricultural"]),
    ],
)
def test_a_type_taken_back_is_dropped(text, first, second, kept):
    words = {
        "agricultural": ["agricultural", "rural", "农村"],
        "urban": ["urban", "城镇"],
    }

    def find(value: str, after: int = 0) -> int:
        return min(i for i in (text.find(w, after) for w in words[value]) if i >= 0)

    start1 = find(first)
    start2 = find(second, start1 + 1)
    message = Message(data={"text": text})
    message.set(
        "intent", {"name": "inform_residency", "confidence": 0.9}, add_to_output=True
    )
    message.set(
        "entities", [entity(first, start1), entity(second, start2)], add_to_output=True
    )
    out = UnsureResidencyFilter().process([message])[0]
    assert residency_values(out) == kept


def test_both_types_as_a_question_are_no_answer():
    assert unsure_of_residency(
        "what's the difference between urban and agricultural",
        "inform_residency",
        ["urban", "agricultural"],
    )
    assert unsure_of_residency(
        "城镇和农业有什么区别", "out_of_scope", ["urban", "agricultural"]
    )


@pytest.mark.parametrize(
    "text, intent, values",
    [
        (
            "我不知道自己是城镇户口还是农村户口，医保该怎么交？",
            "ask_individual_payment",
            ["urban", "agricultural"],
        ),
        ("what do I need to bring? I don't know my hukou type", "ask_materials", []),
        ("不清楚我是什么户口，去哪里交医保", "ask_where_to_go", []),
    ],
)
def test_a_payment_question_unsure_of_the_type_becomes_not_sure(text, intent, values):
    # The not-sure answer (what the type is, who can tell, both paths) answers it.
    out = UnsureResidencyFilter().process([parsed(text, intent, values)])[0]
    assert out.get("intent")["name"] == "inform_not_sure"
    assert residency_values(out) == []


@pytest.mark.parametrize(
    "text, intent, values",
    [
        ("我不知道去哪，我是农村户口", "ask_where_to_go", ["agricultural"]),
        ("i don't know where to go", "ask_where_to_go", []),
        (
            "how much is it? not sure if urban or rural",
            "ask_payment_amount",
            ["urban", "agricultural"],
        ),
    ],
)
def test_other_questions_keep_their_intent(text, intent, values):
    out = UnsureResidencyFilter().process([parsed(text, intent, values)])[0]
    assert out.get("intent")["name"] == intent


def test_the_only_type_taken_back_is_dropped():
    # "我之前是农业户口" (and nothing else) is no answer: the form asks again.
    text = "我之前是农业户口，后来上学户口走了，现在怎么交医保"
    message = parsed(text, "ask_individual_payment", [])
    message.set(
        "entities",
        [
            {
                "entity": "residency_type",
                "value": "agricultural",
                "start": text.index("农业"),
            }
        ],
        add_to_output=True,
    )
    out = UnsureResidencyFilter().process([message])[0]
    assert residency_values(out) == []


def test_the_type_of_the_hukou_wins_over_where_one_lives():
    text = "我户口在城里，但是人在农村住，在哪交医保"
    urban, rural = text.index("户口在城里"), text.index("农村")
    message = parsed(text, "ask_where_to_go", [])
    message.set(
        "entities",
        [
            {
                "entity": "residency_type",
                "value": "urban",
                "start": urban,
                "end": urban + 5,
            },
            {
                "entity": "residency_type",
                "value": "agricultural",
                "start": rural,
                "end": rural + 2,
            },
        ],
        add_to_output=True,
    )
    out = UnsureResidencyFilter().process([message])[0]
    assert residency_values(out) == ["urban"]


def ranked(text: str, ranking: List[tuple], values: List[str]) -> Message:
    message = parsed(text, ranking[0][0], values)
    message.set(
        "intent_ranking",
        [{"name": n, "confidence": c} for n, c in ranking],
        add_to_output=True,
    )
    return message


def test_an_employer_topic_naming_a_hukou_type_is_the_residents_question():
    message = ranked(
        "我在物流公司干了六年，被裁了，我是城市户口，医保要去哪里继续交",
        [("ask_employer_registration", 0.6), ("ask_where_to_go", 0.2)],
        ["urban"],
    )
    out = HukouTypeTopicGuard().process([message])[0]
    assert out.get("intent")["name"] == "ask_where_to_go"
    assert out.get("intent")["confidence"] == 0.6


def test_an_employer_topic_without_a_hukou_type_is_left_alone():
    message = ranked(
        "公司成立了要怎么办社保登记",
        [("ask_employer_registration", 0.6), ("ask_where_to_go", 0.2)],
        [],
    )
    out = HukouTypeTopicGuard().process([message])[0]
    assert out.get("intent")["name"] == "ask_employer_registration"


def test_the_notification_question_about_a_hukou_move_is_kept():
    message = ranked(
        "户口迁到城里了，派出所会通知社保吗",
        [("ask_agency_notification", 0.9), ("ask_where_to_go", 0.02)],
        ["urban"],
    )
    out = HukouTypeTopicGuard().process([message])[0]
    assert out.get("intent")["name"] == "ask_agency_notification"


def _close_call(text: str, first: str, second: str, values: List[str]) -> Message:
    message = ranked(text, [(first, 0.41), (second, 0.38)], values)
    message.set("intent", {"name": "nlu_ambiguous", "confidence": 0.41})
    return message


def test_a_close_call_with_an_employer_topic_is_the_residents_when_a_hukou_is_named():
    message = _close_call(
        "我是农业户口，打了几年零工，现在想自己续上医保，要准备失业证明吗",
        "ask_employer_registration",
        "ask_materials",
        ["agricultural"],
    )
    out = HukouTypeTopicGuard().process([message])[0]
    assert out.get("intent") == {"name": "ask_materials", "confidence": 0.41}


@pytest.mark.parametrize(
    "first, second, values",
    [
        # no hukou named: the question back stays
        ("ask_employer_registration", "ask_materials", []),
        # two personal topics: not this guard's call
        ("ask_where_to_go", "ask_materials", ["urban"]),
    ],
)
def test_other_close_calls_are_left_alone(first, second, values):
    message = _close_call("要去哪里办，带什么", first, second, values)
    out = HukouTypeTopicGuard().process([message])[0]
    assert out.get("intent")["name"] == "nlu_ambiguous"
