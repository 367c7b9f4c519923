"""Turn metrics (NLU graph component) and the ops channel of the Rasa server."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, Optional

import pytest
import requests
import sqlalchemy as sa
from rasa.shared.nlu.training_data.message import Message
from sanic import Sanic

from bot.metrics import FALLBACKS, HANDOFFS, TURNS, OpsInput, TurnMetrics
from tests.support.backend import LiveServer


def _message(text: str, intent: str, language: Optional[str] = "zh") -> Message:
    entities = [{"entity": "language", "value": language}] if language else []
    return Message(
        data={"text": text, "intent": {"name": intent}, "entities": entities}
    )


def _value(counter: Any, **labels: str) -> float:
    return float(counter.labels(**labels)._value.get())


def test_counts_turns_fallbacks_and_handoffs() -> None:
    component = TurnMetrics()
    turns, fallbacks, handoffs = (
        _value(TURNS, language="zh"),
        _value(FALLBACKS, language="zh"),
        _value(HANDOFFS, language="en"),
    )
    messages = [
        _message("我想自己交医保", "ask_self_payment"),
        _message("啊啊啊", "nlu_fallback"),
        _message("/request_human", "nlu_fallback", language="en"),  # a button payload
        _message("转人工", "request_human", language=None),
    ]
    assert component.process(messages) is messages
    assert _value(TURNS, language="zh") - turns == 2
    assert _value(FALLBACKS, language="zh") - fallbacks == 1
    assert _value(HANDOFFS, language="en") - handoffs == 1
    assert messages[0].get("intent") == {"name": "ask_self_payment"}  # unchanged


def test_a_broken_message_never_breaks_the_turn() -> None:
    message = Message(data={"text": None, "intent": None, "entities": None})
    assert TurnMetrics().process([message]) == [message]


class _Agent:
    def __init__(self, ready: bool, engine: Any) -> None:
        self._ready = ready
        self.tracker_store = SimpleNamespace(
            _tracker_store=SimpleNamespace(engine=engine)
        )

    def is_ready(self) -> bool:
        return self._ready


def _serve(agent: Any, name: str) -> LiveServer:
    app = Sanic(name)
    app.ctx.agent = agent
    channel = OpsInput.from_credentials(None)

    async def on_new_message(_: Any) -> None:
        raise AssertionError("the ops channel opens no conversation")

    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/ops")
    return LiveServer(app).start()


@pytest.mark.parametrize(
    "ready, url, status",
    [
        (True, "sqlite://", 200),
        (False, "sqlite://", 503),
        (True, "postgresql://postgres@127.0.0.1:1/none", 503),
    ],
)
def test_readiness(ready: bool, url: str, status: int) -> None:
    engine = sa.create_engine(url)
    server = _serve(_Agent(ready, engine), f"ops_ready_{ready}_{status}_{len(url)}")
    try:
        assert (
            requests.get(server.url + "/webhooks/ops/live", timeout=5).status_code
            == 200
        )
        answer = requests.get(server.url + "/webhooks/ops/ready", timeout=10)
        assert answer.status_code == status, answer.text
    finally:
        server.stop()
        engine.dispose()


def test_metrics_endpoint_has_no_personal_data() -> None:
    TurnMetrics().process(
        [_message("身份证 11010519491231002X 手机 13812345678", "nlu_fallback")]
    )
    server = _serve(_Agent(True, None), "ops_metrics")
    try:
        answer = requests.get(server.url + "/webhooks/ops/metrics", timeout=5)
    finally:
        server.stop()
    assert answer.status_code == 200
    text = answer.text
    assert 'shebao_rasa_turns_total{language="zh"}' in text
    assert (
        "shebao_rasa_fallbacks_total" in text and "shebao_rasa_handoffs_total" in text
    )
    assert "11010519491231002X" not in text and "13812345678" not in text
    labels = " ".join(re.findall(r"\{[^}]*\}", text))
    assert not re.search(r"\d{6,}", labels)
