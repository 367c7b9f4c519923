"""Each replacement in ``bot/rasa_speedups.py`` gives exactly Rasa's result.

They are compared with Rasa's own methods (kept by the module before it
replaces them) on the real domain and on conversations with forms, slots of
every type and reverts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups
from tests.bot.test_tracker_cache import conversation

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(REPO_ROOT / "domain.yml"))


def tracker_state(tracker: DialogueStateTracker) -> Dict[str, Any]:
    """Every attribute, with each slot as its type and attribute dict."""
    state = dict(vars(tracker))
    state["slots"] = {
        name: (type(slot), slot.name, dict(vars(slot)))
        for name, slot in tracker.slots.items()
    }
    state["slots_type"] = type(tracker.slots)
    state["events"] = list(tracker.events)
    state["events_maxlen"] = tracker.events.maxlen
    return state


def busy_tracker(domain: Domain, **kwargs: Any) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events(
        "s", conversation(), domain.slots, **kwargs
    )
    for event in (
        SlotSet("language", "zh"),
        SlotSet("residency_type", "urban"),
        ActionExecuted("action_listen"),
        UserUttered("城镇户口", {"name": "inform_residency", "confidence": 0.9}),
    ):
        tracker.update(event)
    return tracker


@pytest.mark.parametrize("max_event_history", [None, 5])
def test_init_copy_equals_rasas(domain: Domain, max_event_history: Any) -> None:
    tracker = busy_tracker(domain, max_event_history=max_event_history)
    tracker.is_rule_tracker = max_event_history is not None
    assert any(slot.has_been_set for slot in tracker.slots.values())
    ours = rasa_speedups.init_copy(tracker)
    theirs = rasa_speedups.ORIGINAL_INIT_COPY(tracker)
    assert type(ours) is type(theirs) is DialogueStateTracker
    assert tracker_state(ours) == tracker_state(theirs)
    # the copies are independent of the original and of each other
    for name, slot in ours.slots.items():
        assert slot is not tracker.slots[name]
    ours.update(SlotSet("residency_type", "agricultural"))
    assert tracker.get_slot("residency_type") == "urban"
    assert theirs.get_slot("residency_type") is None


def test_init_copy_of_a_tracker_without_a_domain_equals_rasas() -> None:
    tracker = DialogueStateTracker("s", None)  # AnySlotDict: slots made on demand
    tracker.update(SlotSet("anything", [1, 2]))
    ours = rasa_speedups.init_copy(tracker)
    theirs = rasa_speedups.ORIGINAL_INIT_COPY(tracker)
    assert tracker_state(ours) == tracker_state(theirs)
    assert type(ours.slots) is dict  # as Rasa's: a plain dict of the copies


def test_states_of_replayed_copies_equal_rasas(domain: Domain) -> None:
    """What the policies compute from ``init_copy`` trackers is unchanged."""
    tracker = busy_tracker(domain)
    rasa_speedups.install()
    try:
        ours = tracker.past_states(domain)
        memo = [tracker_state(t) for t, _ in tracker.generate_all_prior_trackers()]
    finally:
        DialogueStateTracker.init_copy = rasa_speedups.ORIGINAL_INIT_COPY  # type: ignore[method-assign]
        rasa_speedups._installed = False
    assert ours == tracker.past_states(domain)
    assert memo == [tracker_state(t) for t, _ in tracker.generate_all_prior_trackers()]
