"""Per-turn work of Rasa 3.6 that can be done once, installed by the tracker store.

Each replacement gives exactly Rasa's result (``tests/bot/test_rasa_speedups.py``
compares them with Rasa's own methods) and ``tests/bot/test_upstream_api.py``
fails if an upgrade changes the Rasa code it stands in for.

- ``RemoteAction._validate_action_result`` checks every action-server response
  with ``jsonschema.validate``, which first validates Rasa's (constant) response
  schema against the JSON-Schema meta-schema — about as expensive as a turn's
  policy predictions in the profile (README, "Benchmarks").  The replacement
  builds the validator for that schema once and reports the same error
  (``best_match``, with Rasa's message appended).  A valid response is first
  checked event by event against only its own event type's branch of the
  schema's ``oneOf`` (Rasa's validator tries all 23 branches per event).
- ``DialogueStateTracker.init_copy`` (a fresh tracker with the same slots, 20
  or more times a turn: the memoization policy's truncated histories and every
  ``past_states`` replay) copies each slot with ``copy.copy``, which goes
  through ``__reduce_ex__`` — 290 µs for our 34 slots.  The replacement copies
  each slot's attribute dict directly (what ``copy.copy`` does for these
  classes) and resets it as the tracker's constructor does: 65 µs.
- ``RulePolicy._get_possible_keys`` filters every rule against every state of
  the conversation, newest first, through a lambda and
  ``_is_rule_applicable``, which reverses the rule's states again on each
  call.  The replacement reverses each rule once (remembered per policy and
  lookup table) and files it under the previous action and intent its newest
  state requires, so the newest conversation state is compared only with the
  rules that can match it; it then applies the same three tests and Rasa's
  own ``_does_rule_match_state``, and stops once every rule left is shorter
  than the states already looked at (from there on Rasa keeps them all).
- ``AugmentedMemoizationPolicy._recall_using_truncation`` builds each shorter
  history by replaying its events on a fresh tracker, then featurises it,
  which replays them again; the replayed state is never read (the states
  come from ``past_states``, which uses only the events and ``init_copy``).
  The replacement gives each shorter history its events without the first
  replay (with Rasa's own featurizer; any other featurizer gets Rasa's code).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Text, Tuple

from rasa.core.actions.action import RemoteAction
from rasa.core.constants import POLICY_MAX_HISTORY
from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies import memoization
from rasa.core.policies.memoization import AugmentedMemoizationPolicy
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.constants import DEFAULT_SENDER_ID, DOCS_BASE_URL
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET, USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import ACTION_NAME, INTENT

# Rasa's own methods, kept for the upstream-API guard and the equivalence tests
ORIGINAL_VALIDATE_ACTION_RESULT = RemoteAction._validate_action_result
ORIGINAL_INIT_COPY = DialogueStateTracker.init_copy
ORIGINAL_GET_POSSIBLE_KEYS = RulePolicy._get_possible_keys
ORIGINAL_RECALL_USING_TRUNCATION = AugmentedMemoizationPolicy._recall_using_truncation
_validator: Optional[Any] = None
_by_event: Optional["_EventValidators"] = None
_installed = False


def _response_validator() -> Any:
    global _validator
    if _validator is None:
        from jsonschema.validators import validator_for

        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)  # once, as jsonschema.validate does every time
        _validator = cls(schema)
    return _validator


@dataclass
class _EventValidators:
    """Rasa's response schema split so that each event meets only its own branch.

    The schema's event items are ``oneOf`` a branch per event type, each
    pinning ``event`` to a different constant, so an item is valid exactly
    when the branch of its own ``event`` is (every other branch fails its
    constant).  ``rest`` is the schema without the item check.
    """

    rest: Any
    branches: Dict[Any, Any]

    @classmethod
    def build(cls) -> "_EventValidators":
        from jsonschema.validators import validator_for

        schema = copy.deepcopy(RemoteAction.action_response_format_spec())
        validator_class = validator_for(schema)
        events = schema["properties"]["events"]
        items = events.pop("items")
        branches = items.pop("oneOf")
        by_event = {}
        for branch in branches:
            event = branch["properties"]["event"]["const"]
            assert event not in by_event  # distinct constants: see above
            by_event[event] = validator_class({**items, "allOf": [branch]})
        return cls(validator_class(schema), by_event)

    def valid(self, result: Any) -> bool:
        """True only if the whole schema holds (False: ask the full validator)."""
        if not self.rest.is_valid(result):
            return False
        events = result.get("events") if isinstance(result, dict) else None
        for item in events if isinstance(events, list) else ():
            if not isinstance(item, dict):
                return False
            try:
                branch = self.branches.get(item.get("event"))
            except TypeError:  # an unhashable "event"
                return False
            if branch is None or not branch.is_valid(item):
                return False
        return True


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validators built once.

    A valid response is recognised by its events' own branches; anything else
    goes through the full schema, for Rasa's error.
    """
    global _by_event
    from jsonschema.exceptions import best_match

    if _by_event is None:
        _by_event = _EventValidators.build()
    if _by_event.valid(result):
        return True
    error = best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def fresh_slot(slot: Slot) -> Slot:
    """``copy.copy(slot)`` then ``reset()``, as ``DialogueStateTracker()`` does.

    ``copy.copy`` of a ``Slot`` (no ``__copy__``, ``__reduce__``, ``__slots__``
    or ``__setstate__``: checked by the guard test) creates the object with
    ``cls.__new__`` and updates its ``__dict__`` with the original's; so does
    this, without the ``__reduce_ex__`` round trip.
    """
    copied = object.__new__(type(slot))
    copied.__dict__.update(slot.__dict__)
    copied.reset()
    return copied


def init_copy(self: DialogueStateTracker) -> DialogueStateTracker:
    """``DialogueStateTracker.init_copy`` with the slots copied directly.

    Rasa's constructor copies the given slots into a new dict and resets the
    tracker (which resets each slot); given no slots it resets an empty
    ``AnySlotDict`` instead, and the copies are then put in place, reset.
    """
    tracker = DialogueStateTracker(
        self.sender_id or DEFAULT_SENDER_ID,
        None,
        self._max_event_history,
        is_rule_tracker=self.is_rule_tracker,
    )
    tracker.slots = {slot.name: fresh_slot(slot) for slot in self.slots.values()}
    return tracker


Rule = Tuple[Text, List[State]]  # a rule key and its states, newest first


@dataclass
class _RuleIndex:
    """One lookup table's rules, reversed once and sorted by their newest state."""

    lookup: Dict[Text, Text]  # the table indexed (checked by identity)
    size: int
    longest: int
    starters: List[Rule]  # newest state without a previous action
    # the others, by the (previous action, intent) their newest state requires
    # (None: requires none)
    by_requirement: Dict[Tuple[Any, Any], List[Rule]]


def _required(rule_state: State, sub_state: Text, key: Text) -> Any:
    """The value ``_does_rule_match_state`` demands equal in the conversation."""
    value = rule_state.get(sub_state, {}).get(key)
    if isinstance(value, list):
        value = tuple(value)
    return value if value and value != SHOULD_NOT_BE_SET else None


def _rule_index(policy: RulePolicy, lookup: Dict[Text, Text]) -> _RuleIndex:
    cache: Dict[int, _RuleIndex] = policy.__dict__.setdefault("_shebao_rules", {})
    index = cache.get(id(lookup))
    if index is not None and index.lookup is lookup and index.size == len(lookup):
        return index
    starters: List[Rule] = []
    by_requirement: Dict[Tuple[Any, Any], List[Rule]] = {}
    longest = 0
    for key in lookup:
        states = list(reversed(policy._rule_key_to_state(key)))
        longest = max(longest, len(states))
        newest = states[0]
        if not newest.get(PREVIOUS_ACTION):
            starters.append((key, states))
            continue
        requirement = (
            _required(newest, PREVIOUS_ACTION, ACTION_NAME),
            _required(newest, USER, INTENT),
        )
        by_requirement.setdefault(requirement, []).append((key, states))
    index = _RuleIndex(lookup, len(lookup), longest, starters, by_requirement)
    cache[id(lookup)] = index
    return index


def _newest_state_candidates(
    policy: RulePolicy, index: _RuleIndex, state: State
) -> List[Rule]:
    """The rules ``_is_rule_applicable(key, 0, state)`` holds for.

    Without a previous action in ``state``: the rules whose newest state has
    none either (applicable without a comparison).  With one: of the rules
    whose newest state has one too, ``_does_rule_match_state`` can only hold
    for those whose required previous action and intent (if any) are the
    state's; it decides for them.
    """
    current_previous_action = state.get(PREVIOUS_ACTION)
    if not current_previous_action:
        return index.starters
    action = state.get(PREVIOUS_ACTION, {}).get(ACTION_NAME)
    intent = state.get(USER, {}).get(INTENT)
    try:
        groups = {(action, intent), (action, None), (None, intent), (None, None)}
        pool = [
            rule for group in groups for rule in index.by_requirement.get(group, ())
        ]
    except TypeError:  # an unhashable value: compare with every rule
        pool = [rule for rules in index.by_requirement.values() for rule in rules]
    match = policy._does_rule_match_state
    return [(key, rule) for key, rule in pool if match(rule[0], state)]


def get_possible_keys(
    self: RulePolicy, lookup: Dict[Text, Text], states: List[State]
) -> Set[Text]:
    """``RulePolicy._get_possible_keys`` without its per-call, per-rule overhead.

    Keeps a rule key exactly when Rasa's ``_is_rule_applicable`` holds for
    every (turn index, state) pair, newest state first.
    """
    if not states:
        return set(lookup)
    index = _rule_index(self, lookup)
    candidates = _newest_state_candidates(self, index, states[-1])
    longest = max((len(rule) for _, rule in candidates), default=0)
    match = self._does_rule_match_state
    for turn, state in enumerate(reversed(states[:-1]), start=1):
        if turn >= longest:
            break  # every rule left is applicable at this and all older turns
        current_previous_action = state.get(PREVIOUS_ACTION)
        kept = []
        for key, rule in candidates:
            if turn >= len(rule):
                kept.append((key, rule))
                continue
            rule_state = rule[turn]
            rule_previous_action = rule_state.get(PREVIOUS_ACTION)
            if not rule_previous_action and not current_previous_action:
                kept.append((key, rule))
            elif not rule_previous_action or not current_previous_action:
                continue
            elif match(rule_state, state):
                kept.append((key, rule))
        candidates = kept
        longest = max((len(rule) for _, rule in candidates), default=0)
    return {key for key, _ in candidates}


def _with_events(
    tracker: DialogueStateTracker, events: List[Event]
) -> DialogueStateTracker:
    """``tracker.init_copy()`` holding ``events``, not replayed (see above)."""
    shorter = tracker.init_copy()
    shorter.events = shorter._create_events(events)
    return shorter


def _trim_by_max_history(
    tracker: DialogueStateTracker, max_history: Optional[int]
) -> DialogueStateTracker:
    """``memoization._trim_tracker_by_max_history``, events only."""
    count = memoization._get_max_applied_events_for_max_history(tracker, max_history)
    if not count:
        return tracker
    return _with_events(tracker, tracker.applied_events()[-count:])


def _strip_until_action_executed(
    tracker: DialogueStateTracker, again: bool = False
) -> Optional[DialogueStateTracker]:
    """``_strip_leading_events_until_action_executed``, events only."""
    first = second = None
    applied = tracker.applied_events()
    for index, event in enumerate(applied):
        if isinstance(event, ActionExecuted):
            if first is None:
                first = index
            else:
                second = index
                break
    start = second if again else first
    if start is None or not applied[start:]:
        return None
    return _with_events(tracker, applied[start:])


def recall_using_truncation(
    self: AugmentedMemoizationPolicy,
    old_states: List[State],
    tracker: DialogueStateTracker,
    domain: Domain,
    rule_only_data: Optional[Dict[Text, Any]],
) -> Optional[Text]:
    """Rasa's ``_recall_using_truncation`` without replaying each shorter history."""
    if type(self.featurizer) is not MaxHistoryTrackerFeaturizer:
        return ORIGINAL_RECALL_USING_TRUNCATION(
            self, old_states, tracker, domain, rule_only_data
        )
    memoization.logger.debug("Launch DeLorean...")
    truncated = _strip_until_action_executed(
        _trim_by_max_history(tracker, self.config[POLICY_MAX_HISTORY])
    )
    while truncated is not None:
        states = self._prediction_states(
            truncated, domain, rule_only_data=rule_only_data
        )
        if old_states != states:
            memorised = self._recall_states(states)
            if memorised is not None:
                memoization.structlogger.debug(
                    "memoization.states_recall", states=copy.deepcopy(states)
                )
                return memorised
            old_states = states
        truncated = _strip_until_action_executed(truncated, again=True)
    memoization.structlogger.debug(
        "memoization.states_recall", old_states=copy.deepcopy(old_states)
    )
    return None


def install() -> None:
    """Install the replacements above (idempotent)."""
    global _installed
    if not _installed:
        RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
        DialogueStateTracker.init_copy = init_copy  # type: ignore[method-assign]
        RulePolicy._get_possible_keys = get_possible_keys  # type: ignore[method-assign]
        AugmentedMemoizationPolicy._recall_using_truncation = recall_using_truncation  # type: ignore[method-assign]
        _installed = True
