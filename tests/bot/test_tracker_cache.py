"""The per-turn shortcuts of the tracker store give exactly Rasa's results.

``bot/tracker.py`` computes ``applied_events``/``past_states`` incrementally and
``bot/tracker_store.py`` answers retrieves from memory while the database has
no newer event; both must be indistinguishable from Rasa's full computation
and from a fresh database read.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Iterator, List

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    DefinePrevUserUtteredFeaturization,
    Event,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker import IncrementalTracker
from bot.tracker_store import RedactingSQLTrackerStore, deserialise_events

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(REPO_ROOT / "domain.yml"))


def user(intent: str, text: str = "hi") -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9})


def conversation() -> List[Event]:
    """Guidance turns, a form with repeated loop executions, a revert."""
    events: List[Event] = [ActionExecuted("action_listen")]
    for _ in range(3):
        events += [
            user("greet"),
            DefinePrevUserUtteredFeaturization(False),
            ActionExecuted("utter_greet"),
            BotUttered("hello"),
            ActionExecuted("action_listen"),
            user("ask_individual_payment", "我想自己交医保"),
            ActionExecuted("individual_payment_form"),
            ActiveLoop("individual_payment_form"),
            SlotSet("requested_slot", "residency_type"),
            ActionExecuted("action_listen"),
            user("inform_residency", "城镇户口"),
            SlotSet("residency_type", "urban"),
            ActionExecuted("individual_payment_form"),
            SlotSet("requested_slot", None),
            ActiveLoop(None),
            ActionExecuted("action_listen"),
            user("thank", "谢谢"),
            UserUtteranceReverted(),
            user("thank", "谢谢"),
            ActionExecuted("utter_thank", hide_rule_turn=True),
            ActionExecuted("action_listen"),
        ]
    return events


@pytest.mark.parametrize("ignore_rule_only_turns", [False, True])
def test_incremental_states_equal_rasas_after_every_event(
    domain: Domain, ignore_rule_only_turns: bool
) -> None:
    rule_only = {"slots": ["requested_slot"], "loops": []}
    tracker = IncrementalTracker("s", domain.slots)
    for event in conversation():
        tracker.update(event)
        reference = DialogueStateTracker.from_events(
            "s", list(tracker.events), domain.slots
        )
        assert tracker.applied_events() == reference.applied_events()
        assert tracker.past_states(
            domain,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only,
        ) == reference.past_states(
            domain,
            ignore_rule_only_turns=ignore_rule_only_turns,
            rule_only_data=rule_only,
        )


def test_callers_may_mutate_the_states_they_get(domain: Domain) -> None:
    tracker = IncrementalTracker("s", domain.slots)
    for event in conversation():
        tracker.update(event)
    first = tracker.past_states(domain)
    for state in first:
        state.get("user", {}).clear()
    assert tracker.past_states(domain) == DialogueStateTracker.from_events(
        "s", list(tracker.events), domain.slots
    ).past_states(domain)


def test_fast_deserialisation_is_rasas(domain: Domain) -> None:
    from rasa.shared.core.events import deserialise_events as rasas

    dicts = [json.loads(json.dumps(e.as_dict())) for e in conversation()]
    assert deserialise_events(dicts) == rasas(dicts)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    domain: Domain,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RedactingSQLTrackerStore]:
    """The store on a fresh SQLite file and on a throwaway PostgreSQL database."""
    monkeypatch.setenv("SHEBAO_ENV", "development")  # the dev sender key
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database")
    store = RedactingSQLTrackerStore(domain=domain, host=url)
    yield store
    store.engine.dispose()  # before the database is dropped


def fresh_read(store: RedactingSQLTrackerStore, sender: str) -> DialogueStateTracker:
    store._cache.clear()
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker is not None
    return tracker


def test_cached_retrieve_equals_a_database_read(
    store: RedactingSQLTrackerStore,
) -> None:
    sender = "rest:cache-test"
    tracker = asyncio.run(store.get_or_create_tracker(sender))
    for index, event in enumerate(conversation()):
        tracker.update(event)
        if index % 4 == 3:
            asyncio.run(store.save(tracker))
            tracker = asyncio.run(store.retrieve(sender))
            assert tracker is not None and store._cache  # answered from memory
    tracker.update(user("greet", "my phone is 13812345678"))
    asyncio.run(store.save(tracker))
    cached = asyncio.run(store.retrieve(sender))
    assert cached is not None
    fresh = fresh_read(store, sender)
    assert cached.current_state() == fresh.current_state()
    assert [e.as_dict() for e in cached.events] == [e.as_dict() for e in fresh.events]
    assert "13812345678" not in json.dumps(cached.current_state())


def test_another_writer_invalidates_the_cache(store: RedactingSQLTrackerStore) -> None:
    sender = "rest:two-replicas"
    other = RedactingSQLTrackerStore(domain=store.domain, host=str(store.engine.url))
    tracker = asyncio.run(store.get_or_create_tracker(sender))
    tracker.update(user("greet"))
    asyncio.run(store.save(tracker))
    assert asyncio.run(store.retrieve(sender)) is not None  # now cached here
    theirs = asyncio.run(other.retrieve(sender))
    assert theirs is not None
    theirs.update(ActionExecuted("utter_greet"))
    asyncio.run(other.save(theirs))
    ours = asyncio.run(store.retrieve(sender))
    assert ours is not None
    assert ours.latest_action_name == "utter_greet"
    assert len(ours.events) == len(theirs.events)
    # and a save from the stale copy still stores only what is new
    ours.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(ours))
    assert len(fresh_read(store, sender).events) == len(ours.events)
