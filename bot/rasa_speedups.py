"""Per-turn work of Rasa 3.6 that can be done once, installed by the tracker store.

Each replacement gives exactly Rasa's result (``tests/bot/test_rasa_speedups.py``
compares them with Rasa's own methods) and ``tests/bot/test_upstream_api.py``
fails if an upgrade changes the Rasa code it stands in for.

- ``RemoteAction._validate_action_result`` checks every action-server response
  with ``jsonschema.validate``, which first validates Rasa's (constant) response
  schema against the JSON-Schema meta-schema — about as expensive as a turn's
  policy predictions in the profile (README, "Benchmarks").  The replacement
  builds the validator for that schema once and reports the same error
  (``best_match``, with Rasa's message appended).
- ``DialogueStateTracker.init_copy`` (a fresh tracker with the same slots, 20
  or more times a turn: the memoization policy's truncated histories and every
  ``past_states`` replay) copies each slot with ``copy.copy``, which goes
  through ``__reduce_ex__`` — 290 µs for our 34 slots.  The replacement copies
  each slot's attribute dict directly (what ``copy.copy`` does for these
  classes) and resets it as the tracker's constructor does: 65 µs.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DEFAULT_SENDER_ID, DOCS_BASE_URL
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker

# Rasa's own methods, kept for the upstream-API guard and the equivalence tests
ORIGINAL_VALIDATE_ACTION_RESULT = RemoteAction._validate_action_result
ORIGINAL_INIT_COPY = DialogueStateTracker.init_copy
_validator: Optional[Any] = None
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


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once."""
    from jsonschema.exceptions import best_match

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


def install() -> None:
    """Install the replacements above (idempotent)."""
    global _installed
    if not _installed:
        RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
        DialogueStateTracker.init_copy = init_copy  # type: ignore[method-assign]
        _installed = True
