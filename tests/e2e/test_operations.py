"""Operations on the running stack: probes and metrics of every service, and a
conversation with buttons that leaves no ERROR line in the Rasa and action logs."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Dict

import pytest
import requests

from tests.e2e.conftest import buttons, texts
from tools.devstack import Stack

pytestmark = pytest.mark.stack


def _get(url: str) -> requests.Response:
    return requests.get(url, timeout=10)


def test_every_service_answers_its_probes(stack: Stack) -> None:
    probes = [
        f"{stack.backend_url}/health/live",
        f"{stack.backend_url}/health/ready",
        f"{stack.actions_url}/health/live",
        f"{stack.actions_url}/health/ready",
        f"{stack.rasa_url}/",
        f"{stack.rasa_url}/webhooks/ops/live",
        f"{stack.rasa_url}/webhooks/ops/ready",
        f"{stack.web_url}/health/live",
        f"{stack.web_url}/health/ready",
    ]
    for url in probes:
        assert _get(url).status_code == 200, url
    for url in (
        f"{stack.backend_url}/metrics",
        f"{stack.actions_url}/metrics",
        f"{stack.rasa_url}/webhooks/ops/metrics",
    ):
        answer = _get(url)
        assert answer.status_code == 200 and "# TYPE" in answer.text, url


def _offsets(stack: Stack) -> Dict[str, int]:
    return {name: _log(stack, name).stat().st_size for name in ("rasa", "actions")}


def _log(stack: Stack, name: str) -> Path:
    return stack.log_dir / f"{name}.log"


def _metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def test_a_conversation_with_buttons_logs_no_error(stack: Stack, chat) -> None:  # type: ignore[no-untyped-def]
    before = _offsets(stack)
    metrics_before = _get(f"{stack.rasa_url}/webhooks/ops/metrics").text
    replies = chat("我想自己交医保，怎么办？")
    payloads = {b["title"]: b["payload"] for b in buttons(replies)}
    assert payloads["城镇户口"] == '/inform_residency{"residency_type":"urban"}'
    assert "身份证" in texts(chat(payloads["城镇户口"]))
    chat("actually my hukou is agricultural")
    chat("what do I need to bring")
    chat("转人工")
    chat("qwxzv plmkj")
    time.sleep(1.0)  # let both processes flush their logs
    metrics_after = _get(f"{stack.rasa_url}/webhooks/ops/metrics").text
    assert (
        _metric(metrics_after, "shebao_rasa_turns_total")
        - _metric(metrics_before, "shebao_rasa_turns_total")
        >= 6
    )
    assert _metric(metrics_after, "shebao_rasa_handoffs_total") > _metric(
        metrics_before, "shebao_rasa_handoffs_total"
    )
    errors = []
    for name, offset in before.items():
        with _log(stack, name).open("rb") as handle:
            handle.seek(offset)
            new = handle.read().decode("utf-8", "replace")
        errors += [
            f"{name}: {line}"
            for line in new.splitlines()
            if re.search(r"\bERROR\b|Traceback|Task was destroyed", line)
        ]
    assert errors == []


def test_service_logs_carry_no_library_deprecation_notices(stack: Stack) -> None:
    """Sanic's "once" filter let every library deprecation through at start-up
    (common/warnings_policy.py)."""
    for name in ("rasa", "actions", "backend", "web"):
        text = _log(stack, name).read_text(encoding="utf-8", errors="replace")
        notices = [line for line in text.splitlines() if "DeprecationWarning" in line]
        assert notices == [], name
