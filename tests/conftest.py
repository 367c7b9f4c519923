"""Shared fixtures: the real domain, tracker factories and the running assistant."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.support.fake_wechat import FakeWeChatApi
from tests.support.stack import start_stack
from tools.devstack import Stack

REPO_ROOT = Path(__file__).resolve().parent.parent
# All of a test session's stack traffic comes from one address.
SESSION_CLIENT_RATE_LIMIT = "10000/minute"

# The contribution backend on a local port (SQLite and PostgreSQL), for the
# backend's own tests and the inquiry actions' tests alike.
# The WeChat channel in process (tests/channels/wechat, tests/security).
# Redis on 127.0.0.1:6379 under a random key prefix (shared state, lock store).
pytest_plugins = [
    "tests.support.backend_fixtures",
    "tests.support.wechat_fixtures",
    "tests.support.redis_fixtures",
]


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """The real domain.yml, as the action server receives it."""
    return yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


TrackerFactory = Callable[..., Tracker]


@pytest.fixture
def make_tracker() -> TrackerFactory:
    """Build a Tracker from a slot dict, the latest message and past events."""

    def _make(
        slots: Optional[Dict[str, Any]] = None,
        text: str = "",
        intent: Optional[str] = None,
        entities: Optional[List[Dict[str, Any]]] = None,
        events: Optional[List[Dict[str, Any]]] = None,
        active_loop: Optional[str] = None,
        sender_id: str = "test-user",
    ) -> Tracker:
        latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0} if intent else {},
            "entities": entities or [],
        }
        user_event = {"event": "user", "text": text, "parse_data": latest}
        return Tracker.from_dict(
            {
                "sender_id": sender_id,
                "slots": slots or {},
                "latest_message": latest,
                "events": (events or []) + [user_event],
                "paused": False,
                "followup_action": None,
                "active_loop": {"name": active_loop} if active_loop else {},
                "latest_action_name": "action_listen",
            }
        )

    return _make


@pytest.fixture(scope="session")
def wechat_api() -> Iterator[FakeWeChatApi]:
    """The loopback fake of the WeChat API that the session's stack talks to."""
    from tests.support.wechat_app import APP_ID, APP_SECRET

    server = FakeWeChatApi(APP_ID, APP_SECRET).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def stack(wechat_api: FakeWeChatApi) -> Iterator[Stack]:
    """The whole assistant, started once per test session on free ports.

    Development mode is explicit (``SHEBAO_ENV=development``); the WeChat
    channel runs in safe mode with test credentials against ``wechat_api``.
    Every test talks to it from 127.0.0.1, so the per-client message limit is
    sized for the whole session; the per-conversation limit keeps its default
    (``tests/security/test_rate_limit_attacks.py`` floods against it).
    """
    from tests.support.wechat_app import stack_env

    running = start_stack(
        extra_env={
            "SHEBAO_ENV": "development",
            **stack_env(wechat_api.base_url),
            "SHEBAO_RATE_LIMIT_CLIENT": SESSION_CLIENT_RATE_LIMIT,
        }
    )
    try:
        yield running
    finally:
        running.stop()
