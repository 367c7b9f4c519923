"""A dialogue tracker whose per-turn bookkeeping does not grow with the history.

Rasa recomputes two things from the whole conversation several times a turn:
``applied_events()`` (every event, with undo handling) and ``past_states()``
(the policies' dialogue states: a replay of every applied event on a fresh
tracker).  Both are pure functions of the event sequence, and events are only
ever appended, so :class:`IncrementalTracker` remembers how far it got and
processes only the events added since.  The results are identical to Rasa's
(the code below follows ``DialogueStateTracker.applied_events`` and
``Domain.states_for_tracker_history`` of Rasa 3.6 step by step); whenever the
remembered prefix is not exactly the start of the current history (events
replaced, a new form name appearing, a bounded event history) it falls back
to the full computation.

The remembered results live in ``_incremental``, a dict that copies of a
tracker handed out by the tracker store share (bot/tracker_store.py); every
use checks the remembered prefix by identity first, so sharing is safe.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import AbstractSet, Any, Dict, List, Optional, Text, Tuple

from rasa.shared.core.constants import PREVIOUS_ACTION, USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker


@dataclass(frozen=True)
class _Applied:
    length: int  # len(tracker.events) covered
    last: Optional[Event]  # tracker.events[length - 1]
    loop_names: frozenset
    applied: Tuple[Event, ...]


@dataclass
class _States:
    replay: DialogueStateTracker  # state after the consumed events
    consumed: List[Event] = field(default_factory=list)
    states: List[State] = field(default_factory=list)
    last_ml_action_sub_state: Optional[Dict[Text, Any]] = None
    turn_was_hidden: bool = False


def _copy_state(state: State) -> State:
    """A copy for the caller.

    Rasa's featurizer deletes keys of the ``user`` sub-state in place
    (``_choose_last_user_input``, ``_remove_user_text_if_intent``); that one is
    copied, the others (read only; their values are strings and tuples) shared.
    """
    copied = dict(state)
    user = state.get(USER)
    if user is not None:
        copied[USER] = dict(user)  # type: ignore[assignment]
    return copied


class IncrementalTracker(DialogueStateTracker):
    """``DialogueStateTracker`` with incremental ``applied_events``/``past_states``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._incremental: Dict[Any, Any] = {}

    # -- applied events ---------------------------------------------------------

    def applied_events(self) -> List[Event]:
        """Rasa's ``applied_events``, continuing from the last computed prefix."""
        events = self.events
        length = len(events)
        if events.maxlen is not None:
            return super().applied_events()
        cached: Optional[_Applied] = self._incremental.get("applied")
        if (
            cached is not None
            and 0 < cached.length <= length
            and events[cached.length - 1] is cached.last
        ):
            new_events = list(itertools.islice(events, cached.length, length))
            new_loops = {
                e.name for e in new_events if isinstance(e, ActiveLoop) and e.name
            }
            if new_loops <= cached.loop_names:
                if not new_events:
                    return list(cached.applied)
                applied = list(cached.applied)
                self._apply(new_events, cached.loop_names, applied)
                self._remember_applied(length, cached.loop_names, applied)
                return applied
        loop_names = frozenset(
            e.name for e in events if isinstance(e, ActiveLoop) and e.name
        )
        applied = []
        self._apply(list(events), loop_names, applied)
        if length:
            self._remember_applied(length, loop_names, applied)
        return applied

    def _remember_applied(
        self, length: int, loop_names: frozenset, applied: List[Event]
    ) -> None:
        self._incremental["applied"] = _Applied(
            length, self.events[length - 1], loop_names, tuple(applied)
        )

    def _apply(
        self, events: List[Event], loop_names: AbstractSet[Text], applied: List[Event]
    ) -> None:
        """The loop body of ``DialogueStateTracker.applied_events`` (Rasa 3.6)."""
        for event in events:
            if isinstance(event, (Restarted, SessionStarted)):
                applied.clear()
            elif isinstance(event, ActionReverted):
                self._undo_till_previous(ActionExecuted, applied)
            elif isinstance(event, UserUtteranceReverted):
                self._undo_till_previous(UserUttered, applied)
                self._undo_till_previous(ActionExecuted, applied)
            elif (
                isinstance(event, ActionExecuted)
                and event.action_name in loop_names
                and not self._first_loop_execution_or_unhappy_path(
                    event.action_name, applied
                )
            ):
                self._undo_till_previous_loop_execution(event.action_name, applied)
            else:
                applied.append(event)

    # -- past states ------------------------------------------------------------

    def past_states(
        self,
        domain: Domain,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: Optional[Dict[Text, Any]] = None,
    ) -> List[State]:
        """Rasa's ``past_states``, replaying only the events added since last time."""
        if self.events.maxlen is not None:
            return super().past_states(
                domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
            )
        key = (
            "states",
            id(domain),
            omit_unset_slots,
            ignore_rule_only_turns,
            json.dumps(rule_only_data, sort_keys=True, default=str),
        )
        applied = self.applied_events()
        entry: Optional[_States] = self._incremental.get(key)
        if entry is None or not _is_prefix(entry.consumed, applied):
            entry = _States(replay=self.init_copy())
            self._incremental[key] = entry
        ignore = ignore_rule_only_turns
        for event in applied[len(entry.consumed) :]:
            if isinstance(event, ActionExecuted):
                self._add_state(
                    domain,
                    entry,
                    entry.replay,
                    event.hide_rule_turn,
                    omit_unset_slots,
                    ignore,
                    rule_only_data,
                )
            entry.replay.update(event)
            entry.consumed.append(event)
        # the final state (after the last event) is not remembered: the next
        # event changes it
        final = _States(
            replay=entry.replay,
            states=entry.states,
            last_ml_action_sub_state=entry.last_ml_action_sub_state,
            turn_was_hidden=entry.turn_was_hidden,
        )
        snapshot = len(entry.states)
        self._add_state(
            domain, final, entry.replay, False, omit_unset_slots, ignore, rule_only_data
        )
        result = [_copy_state(s) for s in entry.states]
        del entry.states[snapshot:]
        return result

    @staticmethod
    def _add_state(
        domain: Domain,
        entry: _States,
        tr: DialogueStateTracker,
        hide_rule_turn: bool,
        omit_unset_slots: bool,
        ignore_rule_only_turns: bool,
        rule_only_data: Optional[Dict[Text, Any]],
    ) -> None:
        """One step of ``Domain.states_for_tracker_history`` (Rasa 3.6)."""
        states = entry.states
        if ignore_rule_only_turns:
            if not entry.turn_was_hidden:
                entry.last_ml_action_sub_state = domain._get_prev_action_sub_state(tr)
            if (
                not tr.followup_action
                and not tr.latest_action_name == tr.active_loop_name
            ):
                entry.turn_was_hidden = hide_rule_turn
            if entry.turn_was_hidden:
                return
        state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            domain._remove_rule_only_features(state, rule_only_data)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if entry.last_ml_action_sub_state:
                state[PREVIOUS_ACTION] = entry.last_ml_action_sub_state  # type: ignore[assignment]
        states.append(domain._clean_state(state))


def _is_prefix(prefix: List[Event], events: List[Event]) -> bool:
    return len(prefix) <= len(events) and all(
        a is b for a, b in zip(prefix, events[: len(prefix)], strict=True)
    )
