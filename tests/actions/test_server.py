"""The action server's probes and metrics, served on a local port."""

from __future__ import annotations

import re
from typing import Iterator

import pytest
import requests

from actions.config import ActionSettings
from actions.server import TOKEN_HEADER, create_action_app
from tests.support.backend import Backend, LiveServer

TOKEN = "test-actions-token-0123456789abcdefXYZ"


def _serve(backend_url: str) -> LiveServer:
    settings = ActionSettings(
        backend_url=backend_url, backend_timeout=1.0, actions_token=TOKEN
    )
    return LiveServer(create_action_app(settings)).start()


@pytest.fixture
def action_server(backend: Backend) -> Iterator[LiveServer]:
    server = _serve(backend.url)
    yield server
    server.stop()


def _call(server: LiveServer, action: str, text: str) -> requests.Response:
    body = {
        "next_action": action,
        "sender_id": "web:13812345678",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "web:13812345678",
            "slots": {"language": "zh"},
            "latest_message": {"text": text, "intent": {}, "entities": []},
            "events": [],
            "latest_event_time": None,
            "active_loop": {},
            "paused": False,
            "followup_action": None,
            "latest_action_name": None,
        },
    }
    return requests.post(
        f"{server.url}/webhook", json=body, headers={TOKEN_HEADER: TOKEN}, timeout=10
    )


def test_probes(action_server: LiveServer) -> None:
    for path in ("/health", "/health/live", "/health/ready"):
        answer = requests.get(action_server.url + path, timeout=5)
        assert answer.status_code == 200, path
    assert (
        requests.get(action_server.url + "/health/ready", timeout=5).json()["backend"]
        == "ok"
    )


def test_readiness_fails_when_the_backend_is_unreachable() -> None:
    server = _serve("http://127.0.0.1:1")
    try:
        assert requests.get(server.url + "/health/live", timeout=5).status_code == 200
        ready = requests.get(server.url + "/health/ready", timeout=5)
        assert ready.status_code == 503 and ready.json()["backend"] == "unreachable"
        metrics = requests.get(server.url + "/metrics", timeout=5).text
        assert 'shebao_actions_backend_errors_total{kind="unreachable"}' in metrics
    finally:
        server.stop()


def test_metrics_count_action_runs_without_personal_data(
    action_server: LiveServer,
) -> None:
    secret_text = (
        "请用英文回答 我的身份证 11010519491231002X 手机 13812345678 验证码 492817"
    )
    assert _call(action_server, "action_set_language", secret_text).status_code == 200
    assert (
        _call(action_server, "no such action; 11010519491231002X", "x").status_code
        == 404
    )
    # without the token nothing runs (and nothing is counted as a run of that action)
    assert (
        requests.post(f"{action_server.url}/webhook", json={}, timeout=5).status_code
        == 401
    )
    answer = requests.get(action_server.url + "/metrics", timeout=5)
    assert answer.status_code == 200
    text = answer.text
    assert (
        'shebao_actions_runs_total{action="action_set_language",status="200"}' in text
    )
    assert 'shebao_actions_runs_total{action="other",status="404"}' in text
    assert 'shebao_actions_run_seconds_count{action="action_set_language"}' in text
    for secret in ("11010519491231002X", "13812345678", "492817", "web:", TOKEN):
        assert secret not in text
    labels = " ".join(re.findall(r"\{[^}]*\}", text))
    assert not re.search(r"\d{6,}", labels)
