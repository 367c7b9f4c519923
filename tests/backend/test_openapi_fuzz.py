"""Property tests against the served OpenAPI document (schemathesis + hypothesis).

For every operation, valid and invalid requests generated from the document
must never produce a 5xx, and every response must match the documented status
codes, content type and schema (schemathesis' default checks, including
"valid data is accepted" and "invalid data is rejected").  Bounded to ~30
examples per operation and mode, derandomized so CI is reproducible.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Dict

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from backend.schemas import ID_NUMBER_FORMAT
from common.identity import make_id_number
from tests.support.backend import ADMIN_TOKEN, Backend, unique_id_number

MAX_EXAMPLES = 30
# Operations without parameters or body: no invalid request can be generated.
NOTHING_TO_NEGATE = {"health", "healthReady", "healthLive", "metrics", "openapi"}


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """Valid GB 11643 ID numbers (the checksum cannot be said in JSON Schema)."""
    prefix = draw(st.integers(110000, 829999))
    born = draw(st.dates(min_value=date(1930, 1, 1), max_value=date(2015, 12, 31)))
    seq = draw(st.integers(0, 999))
    id_number = make_id_number(f"{prefix:06d}", born.strftime("%Y%m%d"), f"{seq:03d}")
    return id_number.lower() if draw(st.booleans()) else id_number


schemathesis.openapi.format(ID_NUMBER_FORMAT, id_numbers())


def _auth_for(case: schemathesis.Case, headers: Dict[str, str]) -> Dict[str, str]:
    """Real credentials, unless this case deliberately breaks the headers
    (then the broken ones must be sent as generated)."""
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if header is not None and header.mode is GenerationMode.NEGATIVE:
        return {}
    return headers


def _fuzz(backend: Backend, mode: GenerationMode) -> None:
    known = unique_id_number()
    backend.create_person(known)
    person_token = backend.login(known)
    auth: Dict[str, Dict[str, str]] = {
        "createPerson": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        "recordContribution": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        "myContributions": {"Authorization": f"Bearer {person_token}"},
    }
    schema = schemathesis.openapi.from_url(f"{backend.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.definition.raw["operationId"] for op in operations} >= {
        "createPerson",
        "recordContribution",
        "startVerification",
        "checkVerification",
        "myContributions",
        "devOutbox",
        "health",
    }
    calls = 0
    for operation in operations:
        operation_id = operation.definition.raw["operationId"]
        if mode is GenerationMode.NEGATIVE and operation_id in NOTHING_TO_NEGATE:
            continue
        calls += _exercise(operation, mode, backend.url, auth.get(operation_id, {}))
    assert calls >= 5 * 10, "the generators produced suspiciously few requests"


def _exercise(
    operation: Any, mode: GenerationMode, base_url: str, headers: Dict[str, str]
) -> int:
    """Run up to MAX_EXAMPLES generated requests for one operation; how many ran."""
    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(base_url=base_url, headers=_auth_for(case, headers))

    check()
    return calls


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_conform(backend: Backend, mode: GenerationMode) -> None:
    _fuzz(backend, mode)
