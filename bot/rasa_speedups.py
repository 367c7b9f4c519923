"""Per-turn work of Rasa 3.6 that can be done once, installed by the tracker store.

``RemoteAction._validate_action_result`` checks every action-server response
with ``jsonschema.validate``, which first validates Rasa's (constant) response
schema against the JSON-Schema meta-schema — about as expensive as a turn's
policy predictions in the profile (README, "Benchmarks").  The replacement
builds the validator for that schema once and reports the same error
(``best_match``, with Rasa's message appended), so valid and invalid responses
behave exactly as before.  ``tests/bot/test_upstream_api.py`` fails if Rasa
renames what this relies on.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

# Rasa's own method, kept for the upstream-API guard test
ORIGINAL_VALIDATE_ACTION_RESULT = RemoteAction._validate_action_result
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


def install() -> None:
    """Replace the per-call schema check (idempotent)."""
    global _installed
    if not _installed:
        RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
        _installed = True
