"""The HTTP SMS gateway adapter against a fake gateway on a local port."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timezone
from typing import List

import pytest

from backend.app import build_sender, create_app
from backend.settings import BackendSettings
from backend.sms import HttpSmsSender
from common.env import ConfigError
from tests.support.backend import ADMIN_TOKEN, PRODUCTION_CLIENT_SECRET, SECRET
from tests.support.fake_sms import FakeSmsGateway

PHONE = "13812345678"
CODE = "492817"
API_KEY = "sms-key-0123456789abcdefghijKLMNOPQR"
NOW = datetime(2025, 6, 15, tzinfo=timezone.utc)


def _message():
    from backend.senders import CodeMessage

    return CodeMessage("11010519491231002X", PHONE, CODE, NOW, NOW)


def _sender(url: str, **kwargs: object) -> tuple:
    waits: List[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    defaults = {"timeout": 2.0, "retries": 3, "backoff": 0.5, "sleep": no_sleep}
    defaults.update(kwargs)
    return HttpSmsSender(url, API_KEY, "TPL_CODE_1", **defaults), waits  # type: ignore[arg-type]


async def _send(sender: HttpSmsSender) -> None:
    try:
        await sender.send(_message())
    finally:
        await sender.close()


def test_posts_phone_template_and_code_with_the_key() -> None:
    with FakeSmsGateway() as gateway:
        sender, waits = _sender(gateway.url)
        asyncio.run(_send(sender))
    assert len(gateway.requests) == 1 and waits == []
    request = gateway.requests[0]
    assert request["path"] == "/sms/send"
    assert request["json"] == {
        "phone": PHONE,
        "template_id": "TPL_CODE_1",
        "params": {"code": CODE},
    }
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in repr(sender)


def test_retries_5xx_with_exponential_backoff_then_delivers() -> None:
    with FakeSmsGateway(fail_times=3, fail_status=503) as gateway:
        sender, waits = _sender(gateway.url)
        asyncio.run(_send(sender))
    assert len(gateway.requests) == 4
    assert waits == [0.5, 1.0, 2.0]


def test_gives_up_after_the_bounded_retries_and_logs_only_the_masked_phone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeSmsGateway(fail_times=99, fail_status=502) as gateway:
        sender, waits = _sender(gateway.url, retries=2, max_backoff=0.75)
        with caplog.at_level(logging.INFO):
            asyncio.run(_send(sender))
    assert len(gateway.requests) == 3
    assert waits == [0.5, 0.75]  # capped
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "138****5678" in text and "status 502" in text
    assert PHONE not in text and CODE not in text and API_KEY not in text


def test_a_4xx_is_not_retried() -> None:
    with FakeSmsGateway(fail_times=99, fail_status=401) as gateway:
        sender, waits = _sender(gateway.url)
        asyncio.run(_send(sender))
    assert len(gateway.requests) == 1 and waits == []


def test_a_timeout_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    with FakeSmsGateway(fail_times=1, hang_seconds=1.5) as gateway:
        sender, waits = _sender(gateway.url, timeout=0.5)
        asyncio.run(_send(sender))
    assert len(gateway.requests) == 2 and waits == [0.5]


def test_an_unreachable_gateway_is_logged_without_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender, waits = _sender("http://127.0.0.1:1/sms", retries=1)
    with caplog.at_level(logging.INFO):
        asyncio.run(_send(sender))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "failed after 2 attempt(s)" in text
    assert PHONE not in text and CODE not in text


# ---- settings and production refusal -------------------------------------------
def _production(**overrides: object) -> BackendSettings:
    settings = BackendSettings(
        database_url="sqlite://",
        mode="production",
        environment="production",
        admin_token=ADMIN_TOKEN,
        secret=SECRET,
        client_secret=PRODUCTION_CLIENT_SECRET,
        sms_url="https://sms.example.cn/v1/send",
        sms_api_key=API_KEY,
        sms_template_id="TPL_CODE_1",
    )
    return replace(settings, **overrides)  # type: ignore[arg-type]


def test_settings_read_the_sms_variables() -> None:
    settings = BackendSettings.from_env(
        {
            "BACKEND_SMS_URL": "https://sms.example.cn/v1/send",
            "BACKEND_SMS_API_KEY": API_KEY,
            "BACKEND_SMS_TEMPLATE_ID": "TPL_CODE_1",
            "BACKEND_SMS_TIMEOUT": "2.5",
            "BACKEND_SMS_RETRIES": "1",
        }
    )
    assert (settings.sms_timeout, settings.sms_retries) == (2.5, 1)
    assert API_KEY not in repr(settings)
    sender = build_sender(settings)
    assert isinstance(sender, HttpSmsSender) and sender.retries == 1


def test_production_with_a_gateway_is_servable() -> None:
    assert _production().production_problems() is None
    app = create_app(_production())
    assert isinstance(app.ctx.sender, HttpSmsSender)


def test_production_without_a_gateway_is_refused_naming_the_variables() -> None:
    with pytest.raises(ConfigError) as refused:
        create_app(_production(sms_url="", sms_api_key="", sms_template_id=""))
    for name in ("BACKEND_SMS_URL", "BACKEND_SMS_API_KEY", "BACKEND_SMS_TEMPLATE_ID"):
        assert name in str(refused.value)


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"sms_api_key": ""}, "BACKEND_SMS_API_KEY"),
        ({"sms_api_key": "short"}, "BACKEND_SMS_API_KEY"),
        ({"sms_template_id": ""}, "BACKEND_SMS_TEMPLATE_ID"),
        ({"sms_url": "http://sms.example.cn/send"}, "https://"),
        ({"sms_url": "ftp://sms.example.cn"}, "BACKEND_SMS_URL"),
    ],
)
def test_weak_gateway_settings_are_refused(overrides: dict, variable: str) -> None:
    problem = _production(**overrides).production_problems()
    assert problem and variable in problem
    assert API_KEY not in problem


def test_cli_refuses_production_without_a_gateway(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    from pathlib import Path

    REPO_ROOT = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "SHEBAO_VAR_DIR": str(tmp_path),
        "SHEBAO_ENV": "production",
        "BACKEND_MODE": "production",
        "BACKEND_SECRET": SECRET,
        "BACKEND_ADMIN_TOKEN": ADMIN_TOKEN,
        "BACKEND_CLIENT_SECRET": PRODUCTION_CLIENT_SECRET,
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
    assert "BACKEND_SMS_URL" in result.stderr and "BACKEND_SMS_API_KEY" in result.stderr


def test_a_verification_start_delivers_through_the_gateway(make_backend) -> None:  # type: ignore[no-untyped-def]
    from tests.support.backend import unique_id_number

    with FakeSmsGateway(fail_times=1) as gateway:
        backend = make_backend(
            mode="production",
            sms_url=gateway.url,
            sms_api_key=API_KEY,
            sms_template_id="TPL_CODE_1",
        )
        id_number = unique_id_number()
        backend.create_person(id_number, phone=PHONE)
        assert backend.start(id_number).status_code == 200
        import time

        deadline = time.monotonic() + 10
        while len(gateway.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(gateway.requests) == 2  # one 503, one retry after 0.5 s
    sent = gateway.requests[-1]["json"]
    assert sent["phone"] == PHONE and len(sent["params"]["code"]) == 6
