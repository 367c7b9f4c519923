"""bot.nlu.persons: of two people's residency types, the one the question is about."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import UnsureResidencyFilter
from bot.nlu.persons import HE, SELF, SHE, THEY, clauses, person_of
from bot.nlu.persons import residency_of_person_asked_about as resolve


def typed(text: str, *phrases: Tuple[str, str]) -> List[Dict[str, Any]]:
    """Residency entities at the first occurrence of each phrase, plus a language."""
    entities: List[Dict[str, Any]] = []
    for phrase, value in phrases:
        start = text.index(phrase)
        entities.append(
            {
                "entity": "residency_type",
                "value": value,
                "start": start,
                "end": start + len(phrase),
            }
        )
    entities.append({"entity": "language", "value": "zh", "start": 0, "end": 1})
    return entities


def values(entities: List[Dict[str, Any]]) -> List[Optional[str]]:
    return [e["value"] for e in entities if e["entity"] == "residency_type"]


@pytest.mark.parametrize(
    "text, phrases, expected",
    [
        (
            "她是农村户口，我是城镇户口，她去哪办",
            [("农村户口", "agricultural"), ("城镇户口", "urban")],
            ["agricultural"],
        ),
        (
            "我是城镇户口，她是农村户口，我去哪办",
            [("城镇户口", "urban"), ("农村户口", "agricultural")],
            ["urban"],
        ),
        (
            "我婆婆农业户口，我老公是城市户口。想给婆婆办医保，应该去哪？",
            [("农业户口", "agricultural"), ("城市户口", "urban")],
            ["agricultural"],
        ),
        (
            "My aunt's hukou is rural and mine is urban. Where should she go?",
            [("rural", "agricultural"), ("urban", "urban")],
            ["agricultural"],
        ),
        (
            "My dad is urban, my mum is rural. What does my dad need to bring?",
            [("urban", "urban"), ("rural", "agricultural")],
            ["urban"],
        ),
        (
            "my parents are rural but i'm urban, where do they go?",
            [("rural", "agricultural"), ("urban", "urban")],
            ["agricultural"],
        ),
    ],
)
def test_the_type_of_the_person_asked_about_is_kept(text, phrases, expected):
    assert values(resolve(text, typed(text, *phrases))) == expected


@pytest.mark.parametrize(
    "text",
    [
        "我妈是农村户口，我爸是城镇户口，去哪办",
        "我老婆是农村户口，我是城镇户口，我们俩去哪交医保",
    ],
)
def test_an_unclear_person_drops_both_types_for_both_paths(text):
    entities = typed(text, ("农村户口", "agricultural"), ("城镇户口", "urban"))
    out = resolve(text, entities)
    assert values(out) == []
    assert [e["entity"] for e in out] == ["language"]


@pytest.mark.parametrize(
    "text, phrases",
    [
        # one person, two types: a correction, left to the negation rules
        ("不是城镇，我户口在农村", [("城镇", "urban"), ("农村", "agricultural")]),
        (
            "我以前是农村户口，现在是城镇户口",
            [("农村户口", "agricultural"), ("城镇户口", "urban")],
        ),
        # one type only
        ("她是农村户口，她去哪办", [("农村户口", "agricultural")]),
    ],
)
def test_messages_about_one_person_are_left_alone(text, phrases):
    entities = typed(text, *phrases)
    assert resolve(text, entities) == entities


@pytest.mark.parametrize(
    "clause, kind, word",
    [
        ("我妈是农村户口", SHE, "妈"),
        ("我老公是城市户口", HE, "老公"),
        ("其他材料呢", None, None),
        ("我是城镇户口", SELF, ""),
        ("他们都是农村的", THEY, ""),
        ("My aunt's hukou is rural", SHE, "aunt"),
        ("my grandparents are rural", THEY, "grandparents"),
        ("her hukou is urban", SHE, ""),
    ],
)
def test_person_of_a_clause(clause, kind, word):
    person = person_of(clause)
    if kind is None:
        assert person is None
    else:
        assert person is not None and (person.kind, person.word) == (kind, word)


def test_clauses_split_on_punctuation_and_conjunctions():
    text = "my aunt is rural and I am urban. where?"
    assert [text[s:e].strip() for s, e in clauses(text)] == [
        "my aunt is rural",
        "I am urban",
        "where",
    ]


def test_the_filter_keeps_the_type_of_the_person_asked_about():
    text = "她是农村户口，我是城镇户口，她去哪办"
    message = Message(data={"text": text})
    message.set("intent", {"name": "ask_where_to_go", "confidence": 0.9})
    message.set(
        "entities",
        typed(text, ("农村户口", "agricultural"), ("城镇户口", "urban")),
    )
    out = UnsureResidencyFilter().process([message])[0]
    assert values(out.get("entities")) == ["agricultural"]
