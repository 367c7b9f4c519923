"""Export shapes (the full-stack test runs `rasa data validate` on real ones)."""

from __future__ import annotations

import time

import yaml

from console.demo import action_event, slot_event, user_event
from console.events import MemoryEventSource
from console.exports import nlu_yaml, stories_yaml


def test_a_story_has_user_turns_slots_forms_and_actions_in_order():
    source = MemoryEventSource()
    now = time.time()
    for event in [
        action_event("action_session_start", now),
        action_event("action_listen", now),
        user_event("我2025年交了哪几个月", "query_my_contributions", 0.9, now),
        action_event("contribution_inquiry_form", now),
        {"event": "active_loop", "name": "contribution_inquiry_form", "timestamp": now},
        slot_event("requested_slot", "id_number", now),
        action_event("action_listen", now),
        user_event("110101********1234", "inform_number", 0.9, now),
        {"event": "active_loop", "name": None, "timestamp": now},
        user_event(
            '/set_language{"language":"en"}',
            "set_language",
            1.0,
            now,
            entities=[{"entity": "language", "value": "en"}],
        ),
    ]:
        source.add("rest:s", event)
    document = yaml.safe_load(stories_yaml([("rest:s", source.events_for("rest:s"))]))
    assert document["version"] == "3.1"
    (story,) = document["stories"]
    assert story["steps"] == [
        {"user": "我2025年交了哪几个月", "intent": "query_my_contributions"},
        {"action": "contribution_inquiry_form"},
        {"active_loop": "contribution_inquiry_form"},
        {"slot_was_set": [{"requested_slot": "id_number"}]},
        {"user": "110101********1234", "intent": "inform_number"},
        {"active_loop": None},
        {"intent": "set_language", "entities": [{"language": "en"}]},
    ]


def test_nlu_examples_group_by_correct_intent_without_duplicates():
    text = nlu_yaml(
        [
            ("hello there", "greet"),
            ("要带\n什么", "ask_materials"),
            ("hello there", "greet"),
            ("/greet", "greet"),
        ]
    )
    document = yaml.safe_load(text)
    assert document["nlu"] == [
        {"intent": "ask_materials", "examples": "- 要带 什么\n"},
        {"intent": "greet", "examples": "- hello there\n"},
    ]
    assert yaml.safe_load(nlu_yaml([])) == {"version": "3.1", "nlu": []}
