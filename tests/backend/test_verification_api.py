"""One-time codes: the flow, expiry, attempt limits, rate limits, enumeration
resistance and token scoping."""

from __future__ import annotations

import logging
from typing import Optional

import pytest

from backend.settings import BackendSettings
from common.redaction import redact_text
from tests.support.backend import (
    CLIENT_SECRET_HEADER,
    Backend,
    BackendFactory,
    sqlite_only,
    unique_id_number,
    wrong_code,
)

ME = "/api/v1/me/contributions"


def test_full_flow(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number, phone="13912345678")

    started = backend.start(id_number)
    assert started.status_code == 200, started.text
    assert started.json() == {
        "sent": True,
        "masked_phone": "139****5678",
        "expires_in": 300,
    }

    outbox = backend.request(
        "GET", "/api/v1/dev/outbox", params={"id_number": id_number}
    ).json()
    (message,) = outbox["messages"]
    assert message["masked_phone"] == "139****5678"
    assert len(message["code"]) == 6 and message["code"].isdigit()

    checked = backend.check(id_number, message["code"])
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert len(body["token"]) >= 20

    summary = backend.summary(body["token"], 2025)
    assert summary.status_code == 200, summary.text
    assert summary.json()["person"]["masked_id_number"].startswith(id_number[:6])


def test_code_works_once(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    backend.start(id_number)
    code = backend.outbox_codes(id_number)[-1]
    assert backend.check(id_number, code).status_code == 200
    again = backend.check(id_number, code)
    assert again.status_code == 401 and again.json()["error"] == "no_active_code"


def test_lower_case_x_in_verification(backend: Backend) -> None:
    id_number = "11010519491231002X"
    backend.create_person(id_number)
    assert backend.start(id_number.lower()).status_code == 200
    code = backend.outbox_codes(id_number)[-1]
    assert backend.check(id_number.lower(), code).status_code == 200


def test_check_without_start(backend: Backend) -> None:
    response = backend.check(unique_id_number(), "123456")
    assert response.status_code == 401
    assert response.json()["error"] == "no_active_code"


def test_wrong_code_reports_remaining_attempts(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    backend.start(id_number)
    code = backend.outbox_codes(id_number)[-1]
    response = backend.check(id_number, wrong_code(code))
    assert response.status_code == 401
    assert response.json()["error"] == "wrong_code"
    assert response.json()["remaining_attempts"] == 4
    assert backend.check(id_number, code).status_code == 200


def test_five_wrong_codes_lock_the_code(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    backend.start(id_number)
    code = backend.outbox_codes(id_number)[-1]
    remaining = [
        backend.check(id_number, wrong_code(code)).json()["remaining_attempts"]
        for _ in range(5)
    ]
    assert remaining == [4, 3, 2, 1, 0]
    locked = backend.check(id_number, code)  # even the right code
    assert locked.status_code == 403
    assert locked.json() == {
        "error": "code_locked",
        "message": locked.json()["message"],
        "remaining_attempts": 0,
    }
    # A new code starts a fresh count.
    backend.start(id_number)
    assert (
        backend.check(id_number, backend.outbox_codes(id_number)[-1]).status_code == 200
    )


def test_code_expires_after_five_minutes(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    backend.start(id_number)
    code = backend.outbox_codes(id_number)[-1]
    backend.clock.advance(seconds=299)
    backend.start(id_number)  # a second code replaces the first ...
    fresh = backend.outbox_codes(id_number)[-1]
    if fresh != code:
        assert backend.check(id_number, code).json()["error"] == "wrong_code"
    backend.clock.advance(seconds=300)  # ... and expires 5 minutes after it was sent
    expired = backend.check(id_number, fresh)
    assert expired.status_code == 401
    assert expired.json()["error"] == "code_expired"


def test_code_valid_until_expiry(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    backend.start(id_number)
    backend.clock.advance(seconds=299)
    assert (
        backend.check(id_number, backend.outbox_codes(id_number)[-1]).status_code == 200
    )


def test_rate_limit_per_id_number(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    assert [backend.start(id_number).status_code for _ in range(3)] == [200, 200, 200]
    limited = backend.start(id_number)
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert limited.json()["retry_after"] == 600
    assert limited.headers["Retry-After"] == "600"
    assert len(backend.outbox_codes(id_number)) == 3  # no fourth code was sent
    backend.clock.advance(seconds=601)
    assert backend.start(id_number).status_code == 200


def test_rate_limit_per_client(backend: Backend) -> None:
    statuses = [backend.start(unique_id_number()).status_code for _ in range(20)]
    assert statuses == [200] * 20
    limited = backend.start(unique_id_number())
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"


def _start_as(backend: Backend, key: str, secret: Optional[str] = None) -> int:
    headers = {"X-Client-Key": key}
    if secret is not None:
        headers[CLIENT_SECRET_HEADER] = secret
    response = backend.request(
        "POST",
        "/api/v1/verification/start",
        {"id_number": unique_id_number()},
        headers=headers,
    )
    return response.status_code


def test_action_server_is_limited_per_client_key(make_backend: BackendFactory) -> None:
    # The action server proves itself with the shared secret and names each resident.
    backend = make_backend(starts_per_client=2)
    secret = backend.settings.client_secret
    assert [_start_as(backend, "resident-a", secret) for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert _start_as(backend, "resident-b", secret) == 200


def test_caller_without_the_secret_cannot_dodge_the_limit_with_keys(
    make_backend: BackendFactory,
) -> None:
    backend = make_backend(starts_per_client=2)
    assert [_start_as(backend, f"key-{i}") for i in range(3)] == [200, 200, 429]


def test_overlong_client_key_is_rejected(backend: Backend) -> None:
    assert _start_as(backend, "k" * 201) == 400


def test_unknown_id_looks_like_a_known_one(backend: Backend) -> None:
    known, unknown = unique_id_number(), unique_id_number()
    backend.create_person(known)
    known_answer, unknown_answer = backend.start(known), backend.start(unknown)
    assert known_answer.status_code == unknown_answer.status_code == 200
    assert set(known_answer.json()) == set(unknown_answer.json())
    decoy = unknown_answer.json()["masked_phone"]
    assert len(decoy) == 11 and decoy[3:7] == "****" and decoy.startswith("1")
    assert backend.start(unknown).json()["masked_phone"] == decoy  # stable per ID
    assert backend.outbox_codes(unknown) == []  # nothing was really sent

    # Checking behaves the same way too, down to the lock.
    for expected in (4, 3, 2, 1, 0):
        response = backend.check(unknown, "000000")
        assert response.status_code == 401
        assert response.json()["error"] == "wrong_code"
        assert response.json()["remaining_attempts"] == expected
    assert backend.check(unknown, "000000").json()["error"] == "code_locked"
    # ... and the same rate limit (third start allowed, fourth refused).
    assert backend.start(unknown).status_code == 200
    assert backend.start(unknown).status_code == 429


def test_token_is_scoped_to_one_person(backend: Backend) -> None:
    alice, bob = unique_id_number("19800101"), unique_id_number("19900202")
    backend.create_person(alice, name="甲")
    backend.create_person(bob, name="乙")
    backend.pay(bob, "2025-01")
    alice_token = backend.login(alice)
    summary = backend.summary(alice_token, 2025).json()
    assert summary["person"]["name"] == "甲"
    assert summary["contributions"] == []
    # There is no way to name another person on /me: extra parameters are ignored.
    other = backend.request(
        "GET", ME, token=alice_token, params={"year": "2025", "id_number": bob}
    ).json()
    assert other["person"]["name"] == "甲"


def test_token_expires(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    token = backend.login(id_number)
    backend.clock.advance(seconds=899)
    assert backend.summary(token, 2025).status_code == 200
    backend.clock.advance(seconds=1)
    expired = backend.summary(token, 2025)
    assert expired.status_code == 401 and expired.json()["error"] == "token_expired"


def test_token_ttl_is_configurable(make_backend: BackendFactory) -> None:
    backend = make_backend(token_ttl=60)
    id_number = unique_id_number()
    backend.create_person(id_number)
    backend.start(id_number)
    response = backend.check(id_number, backend.outbox_codes(id_number)[-1])
    assert response.json()["expires_in"] == 60


@sqlite_only
@pytest.mark.parametrize("token", [None, "made-up-token-value-123456", "Bearer"])
def test_me_rejects_missing_or_unknown_tokens(backend: Backend, token: str) -> None:
    response = backend.request("GET", ME, token=token)
    assert response.status_code == 401
    assert response.json()["error"] in {"unauthorized", "invalid_token"}


@sqlite_only
@pytest.mark.parametrize(
    "body, code",
    [
        ({"id_number": "110105194912310021"}, "invalid_id_number"),
        ({"id_number": 110105194912310021}, "invalid_id_number"),
        ({}, "missing_field"),
        ({"id_number": "11010519491231002X", "phone": "13812341234"}, "unknown_field"),
    ],
)
def test_start_validation(backend: Backend, body: dict, code: str) -> None:
    response = backend.request("POST", "/api/v1/verification/start", body)
    assert response.status_code == 400 and response.json()["error"] == code


@sqlite_only
@pytest.mark.parametrize(
    "bad_code", ["12345", "1234567", "abcdef", "12345\n", 123456, ""]
)
def test_check_validation(backend: Backend, bad_code: object) -> None:
    response = backend.request(
        "POST",
        "/api/v1/verification/check",
        {"id_number": "11010519491231002X", "code": bad_code},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_field",
        "message": "Field 'code' is invalid.",
        "field": "code",
    }


def test_dev_outbox_validates_its_query(backend: Backend) -> None:
    missing = backend.request("GET", "/api/v1/dev/outbox")
    assert missing.status_code == 400 and missing.json()["error"] == "missing_field"
    invalid = backend.request("GET", "/api/v1/dev/outbox", params={"id_number": "123"})
    assert invalid.status_code == 400 and invalid.json()["error"] == "invalid_id_number"


def test_production_mode_has_no_outbox_and_logs_no_secrets(
    make_backend: BackendFactory, caplog: pytest.LogCaptureFixture
) -> None:
    backend = make_backend(mode="production")
    id_number = unique_id_number()
    backend.create_person(id_number, phone="13712345678")
    with caplog.at_level(logging.DEBUG):
        assert backend.start(id_number).status_code == 200
        assert (
            backend.request(
                "POST", f"/api/v1/persons/{id_number}/contributions", {}, token="x"
            ).status_code
            == 403
        )
    outbox = backend.request(
        "GET", "/api/v1/dev/outbox", params={"id_number": id_number}
    )
    assert outbox.status_code == 404 and outbox.json()["error"] == "not_found"
    logged = "\n".join(  # the server's records (urllib3 logs the test's own requests)
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("backend.", "sanic."))
    )
    assert "137****5678" in logged  # the sender says where the code went ...
    assert (
        "13712345678" not in logged and id_number not in logged
    )  # ... and nothing more
    assert redact_text(logged) == logged  # no ID number, phone or 6-digit code at all
    openapi = backend.request("GET", "/api/v1/openapi.json").json()
    assert "/api/v1/dev/outbox" not in openapi["paths"]


def test_settings_defaults_are_documented() -> None:
    settings = BackendSettings(database_url="sqlite://")
    assert (settings.code_ttl, settings.max_code_attempts, settings.token_ttl) == (
        300,
        5,
        900,
    )
    assert (
        settings.starts_per_id,
        settings.starts_per_client,
        settings.rate_window,
        settings.starts_per_id_per_day,
        settings.starts_global,
    ) == (3, 20, 600, 10, 1000)
