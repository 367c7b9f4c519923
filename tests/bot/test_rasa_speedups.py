"""Each replacement in ``bot/rasa_speedups.py`` gives exactly Rasa's result.

They are compared with Rasa's own methods (kept by the module before it
replaces them) on the real domain and trained policies (``var/models``), on
conversations with forms, slots of every type and reverts, and at every
action of the test stories.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from rasa.core.policies.memoization import AugmentedMemoizationPolicy
from rasa.core.policies.rule_policy import (
    RULES,
    RULES_FOR_LOOP_UNHAPPY_PATH,
    RulePolicy,
)
from rasa.core.training import load_data
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups
from tests.bot.test_tracker_cache import conversation

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(REPO_ROOT / "domain.yml"))


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Dict[type, Any]:
    """The trained policies, loaded as ``rasa run`` loads them."""
    storage, metadata = LocalModelStorage.from_model_archive(
        tmp_path_factory.mktemp("model"), REPO_ROOT / "var" / "models" / "shebao.tar.gz"
    )
    loaded: Dict[type, Any] = {}
    for name, node in metadata.predict_schema.nodes.items():
        if node.uses in (RulePolicy, AugmentedMemoizationPolicy):
            context = ExecutionContext(metadata.predict_schema, node_name=name)
            config = {**node.uses.get_default_config(), **node.config}
            loaded[node.uses] = node.uses.load(config, storage, node.resource, context)
    assert set(loaded) == {RulePolicy, AugmentedMemoizationPolicy}
    return loaded


@pytest.fixture(scope="module")
def story_prefixes(domain: Domain) -> List[DialogueStateTracker]:
    """The test stories, cut before each of their actions."""
    prefixes = []
    for story in load_data(
        str(REPO_ROOT / "tests" / "stories"),
        domain,
        augmentation_factor=0,
        use_story_concatenation=False,
    ):
        events = list(story.events)
        for index, event in enumerate(events):
            if isinstance(event, ActionExecuted) and index:
                prefixes.append(
                    DialogueStateTracker.from_events("s", events[:index], domain.slots)
                )
    assert len(prefixes) > 300
    return prefixes


@contextlib.contextmanager
def replaced(cls: type, name: str, replacement: Any) -> Iterator[None]:
    original = cls.__dict__[name]
    setattr(cls, name, replacement)
    try:
        yield
    finally:
        setattr(cls, name, original)


def prediction(
    policy: Any, tracker: DialogueStateTracker, domain: Domain, rules: RulePolicy
) -> Any:
    """The policy's prediction, with the rule-only data the graph gives it."""
    result = policy.predict_action_probabilities(
        tracker, domain, rule_only_data=rules._get_rule_only_data()
    )
    return (result, result.action_metadata, result.max_confidence_index)


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


def as_conversation_state(rule_state: State) -> State:
    """A rule's state as a conversation has it (JSON lists are tuples there)."""
    return {
        kind: {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in sub_state.items()
        }
        for kind, sub_state in rule_state.items()
    }


def test_possible_rule_keys_equal_rasas(policies: Dict[type, Any]) -> None:
    """Every rule's own states, and random splices of two rules' states."""
    policy = policies[RulePolicy]
    rng = random.Random(13)
    for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH):
        lookup = policy.lookup[table]
        rules = [json.loads(key) for key in lookup]
        samples: List[List[State]] = [
            [as_conversation_state(s) for s in r] for r in rules
        ]
        for _ in range(400):
            first, second = rng.choice(rules), rng.choice(rules)
            cut = rng.randrange(len(first) + 1)
            samples.append([as_conversation_state(s) for s in first[:cut] + second])
        samples += [[], [{}]]
        matched = 0
        for states in samples:
            keys = rasa_speedups.get_possible_keys(policy, lookup, states)
            assert keys == rasa_speedups.ORIGINAL_GET_POSSIBLE_KEYS(
                policy, lookup, states
            )
            matched += bool(keys)
        assert matched >= len(rules)  # at least each rule matches its own states


def test_rule_predictions_at_every_story_action_equal_rasas(
    policies: Dict[type, Any],
    domain: Domain,
    story_prefixes: List[DialogueStateTracker],
) -> None:
    policy = policies[RulePolicy]
    ours: List[Tuple[Any, ...]] = []
    with replaced(RulePolicy, "_get_possible_keys", rasa_speedups.get_possible_keys):
        ours = [prediction(policy, t, domain, policy) for t in story_prefixes]
    with replaced(
        RulePolicy, "_get_possible_keys", rasa_speedups.ORIGINAL_GET_POSSIBLE_KEYS
    ):
        theirs = [prediction(policy, t, domain, policy) for t in story_prefixes]
    assert ours == theirs
    assert sum(1 for p in ours if max(p[0].probabilities) > 0) > 100  # rules fired


def test_possible_rule_keys_equal_rasas_on_crafted_rules(
    policies: Dict[type, Any],
) -> None:
    """Rule shapes our model lacks: text-only actions, unset markers, lists."""
    import itertools

    from rasa.shared.core.constants import SHOULD_NOT_BE_SET

    listen = {"action_name": "action_listen"}
    rules = [
        [{"prev_action": {"action_text": "hi"}, "user": {"intent": "greet"}}],
        [{"prev_action": listen, "user": {"intent": "greet"}}],
        [{}, {"prev_action": listen, "user": {"intent": SHOULD_NOT_BE_SET}}],
        [{"prev_action": listen, "slots": {"x": [1.0]}}],
        [{"prev_action": {"action_name": "utter_x"}, "active_loop": {"name": "f"}}],
        [{"user": {"intent": "greet"}}],
        [
            {
                "prev_action": {"action_text": SHOULD_NOT_BE_SET},
                "user": {"intent": "greet"},
            }
        ],
        [
            {"prev_action": {"action_name": "utter_x"}},
            {"prev_action": listen, "active_loop": {"name": SHOULD_NOT_BE_SET}},
        ],
    ]
    lookup = {json.dumps(rule): f"action_{i}" for i, rule in enumerate(rules)}
    parts: List[List[Tuple[str, Any]]] = [
        [("prev_action", listen), ("prev_action", {"action_text": "hi"})]
        + [("prev_action", {"action_name": "utter_x"})],
        [("user", {"intent": "greet"}), ("user", {"intent": "bye"})]
        + [("user", {"text": "hi"})],
        [("slots", {"x": (1.0,)}), ("slots", {"x": (0.0,)})],
        [("active_loop", {"name": "f"}), ("active_loop", {"name": SHOULD_NOT_BE_SET})],
    ]
    states: List[State] = []
    for choice in itertools.product(*[[None, *options] for options in parts]):
        states.append(dict(item for item in choice if item is not None))
    policy = policies[RulePolicy]
    rng = random.Random(5)
    matched = 0
    for length in (1, 2, 3):
        for _ in range(600):
            sample = [rng.choice(states) for _ in range(length)]
            keys = rasa_speedups.get_possible_keys(policy, lookup, sample)
            assert keys == rasa_speedups.ORIGINAL_GET_POSSIBLE_KEYS(
                policy, lookup, sample
            )
            matched += len(keys)
    assert matched > 1000


def response_samples() -> List[Any]:
    """Action-server responses: every kind of event, valid and broken ones."""
    from rasa.shared.core.events import (
        ActionExecutionRejected,
        ActiveLoop,
        AllSlotsReset,
        BotUttered,
        FollowupAction,
        LoopInterrupted,
        Restarted,
        SessionStarted,
    )

    events: List[Dict[str, Any]] = [e.as_dict() for e in conversation()]
    events += [
        e.as_dict()
        for e in (
            SlotSet("residency_type", None),
            SlotSet("months", [1, 2]),
            ActiveLoop(None),
            AllSlotsReset(),
            FollowupAction("utter_greet"),
            LoopInterrupted(True),
            ActionExecutionRejected("individual_payment_form"),
            Restarted(),
            SessionStarted(),
            BotUttered("hi", {"buttons": []}, {"utter_action": "utter_greet"}),
        )
    ]
    events.append({"event": "slot", "name": "x", "value": 1})
    broken: List[Any] = []
    for event in events:
        broken += [
            {k: v for k, v in event.items() if k != "event"},
            {**event, "event": "no_such_event"},
            {**event, "event": 5},
            {**event, "event": ["slot"]},
            {**event, "timestamp": "yesterday"},
            {**event, "metadata": 3},
            {**event, "name": 7},
            {**event, "text": 7},
            {**event, "parse_data": "text"},
            {k: v for k, v in event.items() if k not in ("name", "value")},
        ]
    samples: List[Any] = [{"events": [e], "responses": []} for e in events + broken]
    samples += [
        {"events": events, "responses": [{"text": "hi"}]},
        {"events": events + broken[:1], "responses": []},
        {"events": [], "responses": "no"},
        {"events": "no", "responses": []},
        {"events": [3], "responses": []},
        {"responses": [{"text": "hi"}]},
        {},
        [],
        "events",
        None,
    ]
    return samples


def test_event_by_event_validation_accepts_exactly_what_the_schema_does() -> None:
    fast = rasa_speedups._EventValidators.build()
    full = rasa_speedups._response_validator()
    samples = response_samples()
    verdicts = [fast.valid(sample) for sample in samples]
    assert verdicts == [full.is_valid(sample) for sample in samples]
    assert 30 < sum(verdicts) < len(samples) - 100  # both kinds, many of each


def test_invalid_responses_get_rasas_error() -> None:
    """Rasa's error is ``jsonschema.validate``'s: the best match of the errors."""
    import jsonschema
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction

    action = RemoteAction("validate_individual_payment_form", None)
    full = rasa_speedups._response_validator()
    for sample in response_samples():
        error = best_match(full.iter_errors(sample))
        if error is None:
            assert rasa_speedups.validate_action_result(action, sample) is True
            continue
        with pytest.raises(jsonschema.ValidationError) as ours:
            rasa_speedups.validate_action_result(action, sample)
        assert ours.value.message.startswith(error.message + ". Failed to")
        assert ours.value.path == error.path


def test_memoization_predictions_at_every_story_action_equal_rasas(
    policies: Dict[type, Any],
    domain: Domain,
    story_prefixes: List[DialogueStateTracker],
) -> None:
    policy, rules = policies[AugmentedMemoizationPolicy], policies[RulePolicy]
    busy = busy_tracker(domain)
    prefixes = story_prefixes + [
        DialogueStateTracker.from_events("s", list(busy.events)[:n], domain.slots)
        for n in range(1, len(busy.events) + 1)
    ]
    name = "_recall_using_truncation"
    with replaced(
        AugmentedMemoizationPolicy, name, rasa_speedups.recall_using_truncation
    ):
        ours = [prediction(policy, t, domain, rules) for t in prefixes]
    with replaced(
        AugmentedMemoizationPolicy, name, rasa_speedups.ORIGINAL_RECALL_USING_TRUNCATION
    ):
        theirs = [prediction(policy, t, domain, rules) for t in prefixes]
    assert ours == theirs
    assert sum(1 for p in ours if max(p[0].probabilities) > 0) > 100  # recalled


def test_truncated_histories_hold_the_events_rasa_replays(domain: Domain) -> None:
    from rasa.core.policies import memoization

    tracker = busy_tracker(domain)
    for max_history in (1, 2, 4, None):
        ours: Any = rasa_speedups._trim_by_max_history(tracker, max_history)
        theirs: Any = memoization._trim_tracker_by_max_history(tracker, max_history)
        again = False
        while theirs is not None:
            assert ours is not None
            assert list(ours.events) == list(theirs.events)
            assert ours.applied_events() == theirs.applied_events()
            assert ours.past_states(domain) == theirs.past_states(domain)
            ours = rasa_speedups._strip_until_action_executed(ours, again)
            strip = (
                AugmentedMemoizationPolicy._strip_leading_events_until_action_executed
            )
            theirs = strip(theirs, again)
            again = True
        assert ours is None
