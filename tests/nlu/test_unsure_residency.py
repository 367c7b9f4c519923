"""UnsureResidencyFilter: naming both residency types without choosing one is no answer."""

from __future__ import annotations

from typing import List, Optional

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import UnsureResidencyFilter, unsure_of_residency


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
