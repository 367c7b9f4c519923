"""Request and response schemas, and strict request parsing.

The same JSON Schemas validate incoming bodies here and are published in the
OpenAPI document (``backend.openapi``), so the documented contract and the
enforced one cannot drift.  Schemas use the OpenAPI 3.0 subset of JSON Schema.

Error codes: ``malformed_json`` (not JSON / not UTF-8, or nested deeper than
``MAX_JSON_DEPTH``), ``invalid_body`` (JSON
but not an object), ``unknown_field``, ``missing_field``, ``invalid_field``
(wrong type, format or range) and ``invalid_id_number`` (any problem with an ID
number, including its GB 11643 checksum).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, Iterator, List, Optional

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from backend.errors import ApiError
from backend.models import (
    CHANNELS,
    CONTRIBUTION_STATUSES,
    ENROLLMENT_STATUSES,
    RESIDENCY_TYPES,
    SCHEMES,
)
from common.identity import is_valid_id_number

ID_NUMBER_FORMAT = "gb11643-id-number"

ID_NUMBER = {
    "type": "string",
    "pattern": "^[0-9]{17}[0-9Xx]$",
    "format": ID_NUMBER_FORMAT,
    "description": "18-character resident ID number with a valid GB 11643 "
    "check character and birth date; a lower-case x is accepted.",
    "example": "11010519491231002X",
}
TEXT = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": "^[^\\x00-\\x1f\\x7f]+$",
}
PHONE = {"type": "string", "pattern": "^1[3-9][0-9]{9}$", "example": "13812341234"}
MONEY = {
    "type": "string",
    "pattern": "^(0|[1-9][0-9]{0,7})(\\.[0-9]{1,2})?$",
    "description": "Amount in yuan as a decimal string (never a float).",
    "example": "350.00",
}
MONEY_OUT = {
    "type": "string",
    "pattern": "^(0|[1-9][0-9]{0,9})\\.[0-9]{2}$",
    "description": "Amount in yuan as a decimal string with two decimals.",
    "example": "4200.00",
}
DATE = {"type": "string", "format": "date", "example": "2024-01-15"}
PERIOD = {
    "type": "string",
    "pattern": "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$",
    "description": "Contribution month, YYYY-MM.",
    "example": "2024-03",
}
CODE = {"type": "string", "pattern": "^[0-9]{6}$", "example": "123456"}
MIN_YEAR, MAX_YEAR = 1990, 2100
YEAR = {"type": "integer", "minimum": MIN_YEAR, "maximum": MAX_YEAR}


def _object(properties: Dict[str, Any], required: Iterable[str]) -> Dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


# ---- requests -------------------------------------------------------------------
ENROLLMENT_IN = _object(
    {
        "scheme": {"type": "string", "enum": list(SCHEMES)},
        "status": {"type": "string", "enum": list(ENROLLMENT_STATUSES)},
        "since": DATE,
        "monthly_amount": MONEY,
    },
    ["scheme", "since", "monthly_amount"],
)
ENROLLMENT_IN["properties"]["status"]["default"] = "active"

PERSON_IN = _object(
    {
        "id_number": ID_NUMBER,
        "name": TEXT,
        "residency_type": {"type": "string", "enum": list(RESIDENCY_TYPES)},
        "region": TEXT,
        "phone": PHONE,
        "enrollment": ENROLLMENT_IN,
    },
    ["id_number", "name", "residency_type", "region", "phone", "enrollment"],
)

CONTRIBUTION_IN = _object(
    {
        "period": PERIOD,
        "amount": MONEY,
        "paid_on": DATE,
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "status": {
            "type": "string",
            "enum": list(CONTRIBUTION_STATUSES),
            "default": "paid",
        },
    },
    ["period", "amount", "paid_on", "channel"],
)

VERIFICATION_START_IN = _object({"id_number": ID_NUMBER}, ["id_number"])
VERIFICATION_CHECK_IN = _object(
    {"id_number": ID_NUMBER, "code": CODE}, ["id_number", "code"]
)


# ---- responses ------------------------------------------------------------------
def _closed(properties: Dict[str, Any], nullable: bool = False) -> Dict[str, Any]:
    schema = _object(properties, properties.keys())
    if nullable:
        schema["nullable"] = True
    return schema


ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "Stable machine-readable code."},
        "message": {"type": "string"},
        "remaining_attempts": {"type": "integer", "minimum": 0},
        "retry_after": {"type": "integer", "minimum": 0},
        "field": {"type": "string"},
    },
    "required": ["error", "message"],
    "additionalProperties": False,
}
MASKED_ID = {"type": "string", "example": "110105********002X"}
MASKED_PHONE = {"type": "string", "example": "138****1234"}
ENROLLMENT_OUT = _closed(
    {
        "scheme": {"type": "string", "enum": list(SCHEMES)},
        "status": {"type": "string", "enum": list(ENROLLMENT_STATUSES)},
        "since": DATE,
        "monthly_amount": MONEY_OUT,
    }
)


def contribution_out(nullable: bool = False) -> Dict[str, Any]:
    """A recorded contribution (``nullable`` for "last payment", which may be none)."""
    return _closed(
        {
            "period": PERIOD,
            "amount": MONEY_OUT,
            "paid_on": DATE,
            "channel": {"type": "string", "enum": list(CHANNELS)},
            "status": {"type": "string", "enum": list(CONTRIBUTION_STATUSES)},
        },
        nullable=nullable,
    )


PERSON_OUT = _closed(
    {
        "masked_id_number": MASKED_ID,
        "name": {"type": "string"},
        "residency_type": {"type": "string", "enum": list(RESIDENCY_TYPES)},
        "region": {"type": "string"},
        "masked_phone": MASKED_PHONE,
        "enrollment": ENROLLMENT_OUT,
    }
)
VERIFICATION_STARTED = _closed(
    {
        "sent": {"type": "boolean", "enum": [True]},
        "masked_phone": MASKED_PHONE,
        "expires_in": {
            "type": "integer",
            "minimum": 1,
            "description": "Code lifetime, s.",
        },
    }
)
TOKEN_ISSUED = _closed(
    {
        "token": {"type": "string", "minLength": 20},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds."},
    }
)
CONTRIBUTION_SUMMARY = _closed(
    {
        "person": _closed(
            {
                "masked_id_number": MASKED_ID,
                "name": {"type": "string"},
                "residency_type": {"type": "string", "enum": list(RESIDENCY_TYPES)},
                "region": {"type": "string"},
            }
        ),
        "enrollment": ENROLLMENT_OUT,
        "year": YEAR,
        "contributions": {"type": "array", "items": contribution_out()},
        "total_paid": MONEY_OUT,
        "arrears": _closed(
            {
                "months": {"type": "array", "items": PERIOD},
                "count": {"type": "integer", "minimum": 0, "maximum": 12},
                "amount": MONEY_OUT,
            }
        ),
        "last_payment": contribution_out(nullable=True),
    }
)
OUTBOX = _closed(
    {
        "messages": {
            "type": "array",
            "items": _closed(
                {
                    "masked_phone": MASKED_PHONE,
                    "code": CODE,
                    "sent_at": {"type": "string", "format": "date-time"},
                    "expires_at": {"type": "string", "format": "date-time"},
                }
            ),
        }
    }
)
HEALTH = _closed({"status": {"type": "string", "enum": ["ok"]}})


# ---- parsing --------------------------------------------------------------------
def _strict_pattern(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """``pattern`` with ECMA semantics for ``$`` (Python's also matches before a
    trailing newline, which would let "123456\\n" through)."""
    if not isinstance(instance, str):
        return
    python_pattern = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if not re.search(python_pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_FORMATS = FormatChecker(["date"])


def canonical_id_number(value: str) -> str:
    """The API's one spelling of an ID number: the check character upper-case.

    Bodies, paths and queries are normalised here, once, so handlers and
    the database only ever see this form.
    """
    return value.upper()


@_FORMATS.checks(ID_NUMBER_FORMAT)
def _is_id_number(value: object) -> bool:
    return not isinstance(value, str) or is_valid_id_number(canonical_id_number(value))


_Validator = extend(Draft7Validator, {"pattern": _strict_pattern})


def _validator(schema: Dict[str, Any]) -> Any:
    return _Validator(schema, format_checker=_FORMATS)


_VALIDATORS: Dict[int, Any] = {}


def validate(schema: Dict[str, Any], document: Any) -> None:
    """Raise the most useful ``ApiError`` for ``document`` against ``schema``."""
    validator = _VALIDATORS.setdefault(id(schema), _validator(schema))
    errors = list(validator.iter_errors(document))
    if not errors:
        return
    raise _to_api_error(min(errors, key=_priority))


def _field_path(error: ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path)


def _priority(error: ValidationError) -> tuple:
    """Unknown fields first (a typo explains the rest), then ID numbers,
    then missing fields, then everything else; shallow before deep."""
    order = {"additionalProperties": 0, "required": 2}.get(error.validator, 3)
    if error.absolute_path and error.absolute_path[-1] == "id_number":
        order = 1
    return (order, len(error.absolute_path), _field_path(error))


def _to_api_error(error: ValidationError) -> ApiError:
    path = _field_path(error)
    prefix = f"{path}." if path else ""
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(key for key in error.instance if key not in allowed)
        field = prefix + (extra[0] if extra else "?")
        return ApiError(400, "unknown_field", f"Unknown field '{field}'.", field=field)
    if error.validator == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        missing = [key for key in error.validator_value if key not in present]
        field = prefix + (missing[0] if missing else "?")
        return ApiError(
            400, "missing_field", f"Field '{field}' is required.", field=field
        )
    if path.endswith("id_number"):
        return ApiError(
            400,
            "invalid_id_number",
            "The ID number must be 18 characters with a valid birth date and "
            "check character.",
            field=path,
        )
    if not path:
        return ApiError(400, "invalid_body", "The body must be a JSON object.")
    return ApiError(400, "invalid_field", f"Field '{path}' is invalid.", field=path)


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a request body may have (ours need 3)."""


def _check_document(document: Any) -> None:
    """400 ``malformed_json`` for a lone surrogate anywhere or nesting deeper
    than ``MAX_JSON_DEPTH``; walked with an explicit stack, never recursively
    (a body of a few hundred brackets must not exhaust the interpreter's stack)."""
    stack: List[tuple] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if any("\ud800" <= char <= "\udfff" for char in value):
                raise ApiError(
                    400, "malformed_json", "The body is not valid UTF-8 text."
                )
            continue
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ApiError(
                    400,
                    "malformed_json",
                    f"The body nests deeper than {MAX_JSON_DEPTH} levels.",
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    stack.append((key, depth + 1))
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)


def parse_body(body: bytes, schema: Dict[str, Any]) -> Dict[str, Any]:
    """Decode a JSON request body and validate it against ``schema``."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "The body is not valid JSON.") from None
    _check_document(document)
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_body", "The body must be a JSON object.")
    validate(schema, document)
    if isinstance(document.get("id_number"), str):
        document["id_number"] = canonical_id_number(document["id_number"])
    return document


def parse_id_number(value: Optional[str], field: str = "id_number") -> str:
    """A path or query ID number, normalized (upper-case X); else 400
    ``invalid_id_number`` (or ``missing_field``)."""
    if value is None:
        raise ApiError(
            400, "missing_field", f"Field '{field}' is required.", field=field
        )
    candidate = canonical_id_number(value)
    if not is_valid_id_number(candidate):
        raise ApiError(
            400,
            "invalid_id_number",
            "The ID number must be 18 characters with a valid birth date and "
            "check character.",
            field=field,
        )
    return candidate


def parse_year(values: Optional[List[str]], default: int) -> int:
    """The ``year`` query parameter (1990-2100), or ``default`` when absent."""
    if not values:
        return default
    raw = values[0]
    if not re.fullmatch(r"-?[0-9]{1,6}", raw):
        raise ApiError(
            400,
            "invalid_field",
            "Query parameter 'year' must be an integer.",
            field="year",
        )
    year = int(raw)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ApiError(
            400,
            "invalid_field",
            "Query parameter 'year' must be 1990-2100.",
            field="year",
        )
    return year
