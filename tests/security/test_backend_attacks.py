"""Attacks on the contribution backend, each performed and shown to fail.

One test per finding of the security review: double redemption of a code,
stack exhaustion by nested JSON, account enumeration by timing, rate limits
across processes and with attacker-chosen keys, weak production secrets and
a published development mode.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
import requests
from sqlalchemy import create_engine, func, select

from actions.config import DEV_CLIENT_SECRET as ACTIONS_DEV_CLIENT_SECRET
from actions.config import ActionSettings
from backend.app import create_app
from backend.models import AccessToken, VerificationCode
from backend.senders import DevOutbox
from backend.settings import (
    DEV_ADMIN_TOKEN,
    DEV_CLIENT_SECRET,
    DEV_SECRET,
    BackendSettings,
)
from common.env import ConfigError
from tests.support.backend import (
    ADMIN_TOKEN,
    CLIENT_SECRET_HEADER,
    PRODUCTION_CLIENT_SECRET,
    SECRET,
    Backend,
    BackendFactory,
    sqlite_only,
    unique_id_number,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
START = "/api/v1/verification/start"
CHECK = "/api/v1/verification/check"
# Generous per-ID limits for tests that start many codes for one ID.
MANY = {"starts_per_id": 1000, "starts_per_id_per_day": 1000}


def _together(count: int, work: Callable[[int], requests.Response]) -> List:
    """Run ``work(i)`` in ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: List[Optional[requests.Response]] = [None] * count
    errors: List[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(10)
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def _count(database_url: str, statement: object) -> int:
    engine = create_engine(database_url, future=True)
    try:
        with engine.connect() as connection:
            return int(connection.execute(statement).scalar_one())  # type: ignore[call-overload]
    finally:
        engine.dispose()


def _post(
    url: str, path: str, body: Dict, headers: Optional[Dict] = None
) -> requests.Response:
    # A session per call: each thread gets its own connection.
    with requests.Session() as session:
        return session.post(url + path, json=body, headers=headers or {}, timeout=30)


# ---- 1. one code, one token ---------------------------------------------------------
def test_one_code_cannot_be_redeemed_twice_concurrently(
    make_backend: BackendFactory, database_url: str
) -> None:
    backend = make_backend(**MANY)
    id_number = unique_id_number()
    backend.create_person(id_number)
    rounds, racers = 6, 4
    for _ in range(rounds):
        assert backend.start(id_number).status_code == 200
        code = backend.outbox_codes(id_number)[-1]
        answers = _together(
            racers,
            lambda _i, code=code: _post(
                backend.url, CHECK, {"id_number": id_number, "code": code}
            ),
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [401] * (racers - 1), [a.text for a in answers]
        losers = [
            answer.json()["error"] for answer in answers if answer.status_code != 200
        ]
        assert set(losers) == {"no_active_code"}
    # Exactly one token per code made it into the database.
    assert _count(database_url, select(func.count()).select_from(AccessToken)) == rounds


def test_an_expired_code_cannot_be_redeemed(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    backend.start(id_number)
    code = backend.outbox_codes(id_number)[-1]
    backend.clock.advance(seconds=backend.settings.code_ttl)
    response = backend.check(id_number, code)
    assert response.status_code == 401 and response.json()["error"] == "code_expired"


# ---- 2. nested JSON -------------------------------------------------------------
@sqlite_only
@pytest.mark.parametrize("path", [START, CHECK, "/api/v1/persons"])
def test_deeply_nested_body_cannot_crash_the_parser(
    backend: Backend, path: str
) -> None:
    body = b'{"id_number":' + b"[" * 400 + b"]" * 400 + b"}"
    assert len(body) == 814
    response = backend.http.post(
        backend.url + path,
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {ADMIN_TOKEN}",
        },
        timeout=10,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "malformed_json"


@sqlite_only
def test_nesting_limit_is_32_levels(backend: Backend) -> None:
    def nested(depth: int) -> bytes:  # the outer object is level 1
        inner = depth - 1
        return b'{"id_number":' + b"[" * inner + b"]" * inner + b"}"

    def post(body: bytes) -> requests.Response:
        return backend.http.post(
            backend.url + START,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )

    assert post(nested(32)).json()["error"] == "invalid_id_number"
    assert post(nested(33)).json()["error"] == "malformed_json"
    huge = b"[" * 30000 + b"]" * 30000  # deeper than the C decoder allows
    assert post(huge).json()["error"] == "malformed_json"


# ---- 3. enumeration by timing, limits across processes ---------------------------
def test_slow_sms_gateway_does_not_reveal_which_ids_are_on_file(
    make_backend: BackendFactory,
) -> None:
    delay = 0.6
    backend = make_backend(sender=DevOutbox(delay=delay), **MANY)
    known = [unique_id_number() for _ in range(6)]
    for id_number in known:
        backend.create_person(id_number)
    unknown = [unique_id_number() for _ in range(6)]

    def timed(id_number: str) -> float:
        began = time.monotonic()
        response = backend.start(id_number)
        elapsed = time.monotonic() - began
        assert response.status_code == 200
        assert set(response.json()) == {"sent", "masked_phone", "expires_in"}
        return elapsed

    timed(unique_id_number())  # warm up connections
    known_times, unknown_times = [], []
    for known_id, unknown_id in zip(known, unknown, strict=True):
        known_times.append(timed(known_id))
        unknown_times.append(timed(unknown_id))
    # Nobody waits for the gateway, known or not ...
    assert max(known_times + unknown_times) < delay / 2, (known_times, unknown_times)
    # ... so the two kinds of ID take the same time, within noise.
    gap = abs(statistics.median(known_times) - statistics.median(unknown_times))
    assert gap < 0.05, (known_times, unknown_times)
    # And the codes still arrive (the dev outbox waits for deliveries under way).
    assert all(len(backend.outbox_codes(id_number)) == 1 for id_number in known)
    assert backend.outbox_codes(unknown[0]) == []


def test_concurrent_starts_for_one_id_never_exceed_the_limit(
    make_backend: BackendFactory, database_url: str
) -> None:
    # Two backends on one database stand for two backend processes.
    first, second = make_backend(), make_backend()
    assert first.settings.starts_per_id == 3
    id_number = unique_id_number()
    first.create_person(id_number)
    urls = [first.url, second.url]
    answers = _together(
        12, lambda i: _post(urls[i % 2], START, {"id_number": id_number})
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 3 + [429] * 9, [a.text for a in answers]
    subject_rows = select(func.count()).select_from(VerificationCode)
    assert _count(database_url, subject_rows) == 3


def test_concurrent_starts_never_exceed_the_global_budget(
    make_backend: BackendFactory, database_url: str
) -> None:
    first, second = make_backend(starts_global=4), make_backend(starts_global=4)
    urls = [first.url, second.url]
    answers = _together(
        10,
        lambda i: _post(
            urls[i % 2],
            START,
            {"id_number": unique_id_number()},
            {
                "X-Client-Key": f"resident-{i}",
                CLIENT_SECRET_HEADER: first.settings.client_secret,
            },
        ),
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 4 + [429] * 6
    assert _count(database_url, select(func.count()).select_from(VerificationCode)) == 4


# ---- 4. rate limits keyed on what the attacker picks --------------------------------
def _start_with(
    backend: Backend,
    id_number: str,
    key: Optional[str] = None,
    secret: Optional[str] = None,
) -> requests.Response:
    headers = {}
    if key is not None:
        headers["X-Client-Key"] = key
    if secret is not None:
        headers[CLIENT_SECRET_HEADER] = secret
    return backend.request("POST", START, {"id_number": id_number}, headers=headers)


def test_rotating_client_keys_without_the_secret_does_not_escape_the_client_limit(
    make_backend: BackendFactory,
) -> None:
    # The attacker sits on the action server's own address (127.0.0.1, which
    # used to be trusted) and sends a fresh key with every request.
    backend = make_backend(starts_per_client=3)
    statuses = [
        _start_with(backend, unique_id_number(), key=f"sender-{i}").status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_a_wrong_client_secret_does_not_make_keys_believed(
    make_backend: BackendFactory,
) -> None:
    backend = make_backend(starts_per_client=2)
    wrong = backend.settings.client_secret + "x"
    statuses = [
        _start_with(backend, unique_id_number(), key=f"k{i}", secret=wrong).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]
    # With the right secret the same keys are believed (each its own budget).
    right = backend.settings.client_secret
    assert _start_with(backend, unique_id_number(), "k9", right).status_code == 200


def test_one_id_cannot_be_flooded_by_waiting_out_the_window(
    make_backend: BackendFactory,
) -> None:
    backend = make_backend(starts_per_id=3, starts_per_id_per_day=10)
    secret = backend.settings.client_secret
    id_number = unique_id_number()
    accepted = 0
    for window in range(5):
        for i in range(3):
            key = f"sender-{window}-{i}"  # and a fresh client each time
            if _start_with(backend, id_number, key, secret).status_code == 200:
                accepted += 1
        backend.clock.advance(seconds=601)
    assert accepted == 10
    limited = _start_with(backend, id_number, "sender-x", secret)
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert limited.json()["retry_after"] > backend.settings.rate_window
    backend.clock.advance(days=1)
    assert _start_with(backend, id_number, "sender-y", secret).status_code == 200


def test_many_clients_and_ids_cannot_exceed_the_global_budget(
    make_backend: BackendFactory,
) -> None:
    backend = make_backend(starts_global=5)
    secret = backend.settings.client_secret
    statuses = [
        _start_with(backend, unique_id_number(), f"resident-{i}", secret).status_code
        for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    backend.clock.advance(seconds=601)
    assert _start_with(backend, unique_id_number(), "r", secret).status_code == 200


def test_action_server_and_backend_share_the_client_secret_setting() -> None:
    assert ACTIONS_DEV_CLIENT_SECRET == DEV_CLIENT_SECRET
    configured = ActionSettings.from_env({"SHEBAO_BACKEND_CLIENT_SECRET": "s3cr3t"})
    assert configured.backend_client_secret == "s3cr3t"
    assert ActionSettings.from_env({}).backend_client_secret == DEV_CLIENT_SECRET
    backend = BackendSettings.from_env({"BACKEND_CLIENT_SECRET": "s3cr3t"})
    assert backend.client_secret == "s3cr3t"


# ---- 5. production refusal ------------------------------------------------------------
STRONG = {
    "secret": SECRET,
    "admin_token": ADMIN_TOKEN,
    "client_secret": PRODUCTION_CLIENT_SECRET,
}
VARIABLES = {
    "secret": "BACKEND_SECRET",
    "admin_token": "BACKEND_ADMIN_TOKEN",
    "client_secret": "BACKEND_CLIENT_SECRET",
}


SMS_GATEWAY = {
    "sms_url": "https://sms.example.cn/v1/send",
    "sms_api_key": "sms-key-0123456789abcdefghijKLMNOPQR",
    "sms_template_id": "TPL_CODE_1",
}


def _production(**overrides: str) -> BackendSettings:
    settings = BackendSettings(
        database_url="sqlite://", mode="production", **STRONG, **SMS_GATEWAY
    )  # type: ignore[arg-type]
    return replace(settings, **overrides)


def test_strong_production_secrets_are_accepted() -> None:
    assert _production().production_problems() is None
    create_app(_production())


@pytest.mark.parametrize("name", sorted(VARIABLES))
@pytest.mark.parametrize(
    "weak",
    [
        "short-but-random-Xy7",
        "a" * 64,
        "abababababababababababababababab",
        DEV_SECRET,
        DEV_ADMIN_TOKEN,
        DEV_CLIENT_SECRET,
    ],
)
def test_weak_production_secret_is_refused_by_create_app(name: str, weak: str) -> None:
    settings = _production(**{name: weak})
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert VARIABLES[name] in str(refused.value)
    assert weak not in str(refused.value)  # the error never echoes a secret


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "backend.internal"])
def test_development_mode_cannot_be_published_on_a_public_interface(host: str) -> None:
    settings = BackendSettings(
        database_url="sqlite://",
        mode="development",
        environment="development",
        host=host,
    )
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert "BACKEND_MODE=development" in str(refused.value)
    assert "BACKEND_HOST" in str(refused.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_development_mode_on_loopback_is_allowed(host: str) -> None:
    settings = BackendSettings.from_env(
        {"SHEBAO_ENV": "development", "BACKEND_HOST": host}
    )
    assert settings.development and settings.production_problems() is None


def test_development_mode_is_refused_in_a_production_deployment() -> None:
    settings = BackendSettings.from_env({"BACKEND_MODE": "development"})
    assert settings.environment == "production"
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert "SHEBAO_ENV=production" in str(refused.value)
    # Without SHEBAO_ENV the backend is production, and so are its checks.
    assert not BackendSettings.from_env({}).development


def test_cli_refuses_to_publish_development_mode(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "SHEBAO_VAR_DIR": str(tmp_path),
        "SHEBAO_ENV": "development",
        "BACKEND_MODE": "development",
        "BACKEND_HOST": "0.0.0.0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "backend", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "BACKEND_HOST=0.0.0.0" in result.stderr
    assert not (tmp_path / "backend.sqlite3").exists()  # refused before migrating


# ---- 6. production without an SMS gateway ------------------------------------------
def test_production_without_a_gateway_says_what_is_missing() -> None:
    with pytest.raises(ConfigError) as refused:
        create_app(_production(sms_url="", sms_api_key="", sms_template_id=""))
    assert "BACKEND_SMS_URL" in str(refused.value)


def test_no_code_looks_like_a_period_so_every_typed_code_is_masked() -> None:
    """Redaction leaves periods (202503) visible; a code must never be one."""
    from backend.security import new_code
    from common.redaction import redact_text

    codes = {new_code() for _ in range(20_000)}
    assert all(redact_text(f"验证码 {code}") == "验证码 ******" for code in codes)
