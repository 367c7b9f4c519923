"""Rasa internals our plug-ins rely on: fail loudly when an upgrade changes them.

``bot/tracker_store.py`` overrides ``SQLTrackerStore.save`` and calls its
private ``_additional_events``; ``bot/channels/rest.py`` overrides the private
``_extract_*`` hooks of Rasa's ``RestInput``; ``bot/channels/socketio.py``
replaces handlers on the ``AsyncServer`` Rasa's ``SocketIOInput`` creates and
sets its engine.io ``cors_allowed_origins``.  If Rasa renames any of these,
the plug-ins would silently fall back to Rasa's behaviour (unredacted events,
unvalidated input, any origin) — these tests fail first.
"""

from __future__ import annotations

import inspect

import rasa
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from rasa.core.tracker_store import SQLTrackerStore

UPGRADE = "Rasa {version} changed an internal API that {what} relies on; re-check it"


def test_rasa_is_the_pinned_version() -> None:
    assert rasa.__version__ == "3.6.21", UPGRADE.format(
        version=rasa.__version__, what="bot/"
    )


def test_sql_tracker_store_internals_used_by_the_redacting_store() -> None:
    parameters = list(inspect.signature(SQLTrackerStore._additional_events).parameters)
    assert parameters == ["self", "session", "tracker"], UPGRADE.format(
        version=rasa.__version__, what="bot/tracker_store.py"
    )
    query = list(inspect.signature(SQLTrackerStore._event_query).parameters)
    assert query == ["self", "session", "sender_id", "fetch_events_from_all_sessions"]
    import rasa.core.tracker_store as tracker_store_module

    assert callable(
        tracker_store_module.ensure_schema_exists
    )  # our session_scope uses it
    for name in ("session_scope", "SQLEvent", "save"):
        assert hasattr(SQLTrackerStore, name), name


def test_rest_input_still_reads_the_request_through_the_hooks_we_override() -> None:
    source = inspect.getsource(RestInput.blueprint)
    for hook in (
        "_extract_sender",
        "_extract_message",
        "_extract_input_channel",
        "get_metadata",
    ):
        assert f"self.{hook}(" in source, UPGRADE.format(
            version=rasa.__version__, what=f"bot/channels/rest.py ({hook})"
        )


def test_socketio_input_exposes_the_server_we_harden() -> None:
    source = inspect.getsource(SocketIOInput.blueprint)
    assert "self.sio = sio" in source and "AsyncServer(" in source, UPGRADE.format(
        version=rasa.__version__, what="bot/channels/socketio.py"
    )
    assert "session_request" in source and "self.user_message_evt" in source


def test_remote_action_validation_hook_we_replace() -> None:
    from bot.rasa_speedups import ORIGINAL_VALIDATE_ACTION_RESULT

    source = inspect.getsource(ORIGINAL_VALIDATE_ACTION_RESULT)
    assert "validate(result, self.action_response_format_spec())" in source, (
        UPGRADE.format(version=rasa.__version__, what="bot/rasa_speedups.py")
    )


def test_fast_action_result_validation_behaves_like_rasas() -> None:
    import jsonschema
    import pytest
    from rasa.core.actions.action import RemoteAction

    from bot.rasa_speedups import validate_action_result

    action = RemoteAction("validate_individual_payment_form", None)
    good = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": []}
    assert validate_action_result(action, good) is True
    bad = {"events": [{"event": 5}], "responses": "no"}
    with pytest.raises(jsonschema.ValidationError) as ours:
        validate_action_result(action, bad)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        jsonschema.validate(bad, RemoteAction.action_response_format_spec())
    assert ours.value.message.startswith(theirs.value.message)


def test_tracker_init_copy_we_replace_copies_and_resets_the_slots() -> None:
    import copy
    import copyreg

    from rasa.shared.core import slots as slots_module
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.utils.common import all_subclasses

    from bot.rasa_speedups import ORIGINAL_INIT_COPY

    what = UPGRADE.format(version=rasa.__version__, what="bot/rasa_speedups.py")
    source = inspect.getsource(ORIGINAL_INIT_COPY)
    assert "return DialogueStateTracker(" in source, what
    assert "self.slots.values()" in source and "is_rule_tracker=" in source, what
    constructor = inspect.getsource(DialogueStateTracker.__init__)
    assert "{slot.name: copy.copy(slot) for slot in slots}" in constructor, what
    assert (
        "self.slots = AnySlotDict()" in constructor and "self._reset()" in constructor
    )
    assert "self._reset_slots()" in inspect.getsource(DialogueStateTracker._reset)
    assert "slot.reset()" in inspect.getsource(DialogueStateTracker._reset_slots)
    # copy.copy of a slot is "new object, same __dict__" for every slot class
    for cls in [slots_module.Slot, *all_subclasses(slots_module.Slot)]:
        assert cls not in copy._copy_dispatch  # type: ignore[attr-defined]
        assert cls not in copyreg.dispatch_table
        for name in (
            "__copy__",
            "__reduce__",
            "__getstate__",
            "__setstate__",
            "__slots__",
        ):
            assert name not in vars(cls), (cls, name, what)
        assert cls.__reduce_ex__ is object.__reduce_ex__, (cls, what)


def test_rule_policy_key_filter_we_replace() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    from bot.rasa_speedups import ORIGINAL_GET_POSSIBLE_KEYS

    what = UPGRADE.format(version=rasa.__version__, what="bot/rasa_speedups.py")
    source = inspect.getsource(ORIGINAL_GET_POSSIBLE_KEYS)
    assert "for i, state in enumerate(reversed(states)):" in source, what
    assert "self._is_rule_applicable(_key, i, state)" in source, what
    applicable = inspect.getsource(RulePolicy._is_rule_applicable)
    for line in (
        "reversed_rule_states = list(reversed(self._rule_key_to_state(rule_key)))",
        "if turn_index >= len(reversed_rule_states):",
        "current_previous_action = conversation_state.get(PREVIOUS_ACTION)",
        "if not rule_previous_action and not current_previous_action:",
        "if not rule_previous_action or not current_previous_action:",
        "return self._does_rule_match_state(",
    ):
        assert line in applicable, (line, what)
    # the rule index files rules by the values this comparison demands equal
    match = inspect.getsource(RulePolicy._does_rule_match_state)
    for line in (
        "conversation_sub_state = conversation_state.get(state_type, {})",
        "value_from_rules = tuple(value_from_rules)",
        "value_from_conversation = conversation_sub_state.get(key)",
        "and value_from_rules != SHOULD_NOT_BE_SET",
        "and value_from_conversation != value_from_rules",
    ):
        assert line in match, (line, what)


def test_action_response_schema_has_one_branch_per_event_type() -> None:
    from rasa.core.actions.action import RemoteAction

    what = UPGRADE.format(version=rasa.__version__, what="bot/rasa_speedups.py")
    schema = RemoteAction.action_response_format_spec()
    items = schema["properties"]["events"]["items"]
    assert items["required"] == ["event"] and items["type"] == "object", what
    consts = [branch["properties"]["event"]["const"] for branch in items["oneOf"]]
    assert len(consts) == len(set(consts)) > 20, what
    assert all(isinstance(const, str) for const in consts), what


def test_memoization_truncation_we_replace_reads_only_events() -> None:
    """The shorter histories' replayed state is never read: events are enough."""
    from rasa.core.featurizers.tracker_featurizers import (
        MaxHistoryTrackerFeaturizer,
        TrackerFeaturizer,
    )
    from rasa.core.policies import memoization
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_speedups import ORIGINAL_RECALL_USING_TRUNCATION

    what = UPGRADE.format(version=rasa.__version__, what="bot/rasa_speedups.py")
    recall = inspect.getsource(ORIGINAL_RECALL_USING_TRUNCATION)
    for line in (
        "_trim_tracker_by_max_history(tracker, self.config[POLICY_MAX_HISTORY])",
        "truncated_tracker = self._strip_leading_events_until_action_executed(",
        "states = self._prediction_states(",
        "if old_states != states:",
        "memorised = self._recall_states(states)",
        "truncated_tracker, again=True",
    ):
        assert line in recall, (line, what)
    strip = inspect.getsource(
        memoization.AugmentedMemoizationPolicy._strip_leading_events_until_action_executed
    )
    assert "truncated_tracker = tracker.init_copy()" in strip, what
    assert "events = applied_events[idx_to_use:]" in strip, what
    trim = inspect.getsource(memoization._trim_tracker_by_max_history)
    assert "applied_events = tracker.applied_events()[-max_applied_events:]" in trim
    # featurising a tracker reads its events through past_states only
    prediction = inspect.getsource(MaxHistoryTrackerFeaturizer.prediction_states)
    assert (
        "self._create_states(" in prediction
        and "tracker."
        not in prediction.replace("tracker,", "").replace("tracker in trackers", "")
    ), what
    assert "tracker.past_states(" in inspect.getsource(TrackerFeaturizer._create_states)
    history = inspect.getsource(Domain.states_for_tracker_history)
    assert "tracker.generate_all_prior_trackers()" in history, what
    assert history.count("tracker.") == 1, what
    prior = inspect.getsource(DialogueStateTracker.generate_all_prior_trackers)
    assert "tracker = self.init_copy()" in prior, what
    assert "for event in self.applied_events():" in prior, what
    applied = inspect.getsource(DialogueStateTracker.applied_events)
    assert "self.events" in applied and "self.slots" not in applied, what
