"""The assistant with the WeChat channel, a loopback fake of the WeChat API, clients.

Each stack test module gets its own Rasa stack (``start_stack``) configured
through ``WECHAT_*`` environment variables; a module can add settings with a
module-level ``WECHAT_ENV`` dict (the slow-path module shrinks the reply
budget that way).
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Iterator, List

import aiohttp
import pytest
import yaml

from tests.support.fake_wechat import FakeWeChatApi, WeChatCallbacks, new_openid
from tests.support.stack import start_stack
from tools.devstack import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
CHANNEL_KEY = "bot.channels.wechat.WeChatInput"

TOKEN = "channel-test-token"
APP_ID = "wxchanneltest0000"
APP_SECRET = "channel-test-secret"
AES_KEY = "k9cZ2mW8qT4vX7bN1pL6sD3fG5hJ0aR2eY8uI4oQ7wE"

Tracker = Callable[[str], Awaitable[Dict[str, Any]]]


def _require_channel_registered() -> None:
    credentials = yaml.safe_load(
        (REPO_ROOT / "credentials.yml").read_text(encoding="utf-8")
    )
    if CHANNEL_KEY not in (credentials or {}):
        pytest.fail(
            f"credentials.yml does not register the WeChat channel; add the line "
            f"'{CHANNEL_KEY}:' (see README, 'Configuring the WeChat channel')"
        )


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeWeChatApi]:
    server = FakeWeChatApi(APP_ID, APP_SECRET).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def wechat_stack(
    request: pytest.FixtureRequest, fake_api: FakeWeChatApi
) -> Iterator[Stack]:
    _require_channel_registered()
    env = {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
        "WECHAT_API_BASE_URL": fake_api.base_url,
        # hex: a random URL-safe token may start with "-", which `rasa run
        # --auth-token` then takes for an option
        "RASA_AUTH_TOKEN": secrets.token_hex(16),
        **getattr(request.module, "WECHAT_ENV", {}),
    }
    stack = start_stack(extra_env=env)
    try:
        _warm_up(stack, fake_api)
        yield stack
    finally:
        stack.stop()


def _warm_up(stack: Stack, fake_api: FakeWeChatApi) -> None:
    """One conversation turn so that model loading does not eat a test's budget.

    Returns once the answer is out: passive, or at the fake's customer-service
    endpoint (so the slow path's access token has been fetched by then).
    """
    callbacks = WeChatCallbacks(webhook_url(stack), TOKEN, APP_ID, AES_KEY)
    openid = new_openid()

    async def turn() -> bool:
        async with aiohttp.ClientSession() as session:
            reply = await callbacks.post(session, callbacks.text(openid, "你好"))
            assert reply.status == 200, reply.body
            return reply.is_success

    if asyncio.run(turn()):
        fake_api.wait_for_messages(openid, 1, timeout=60)


def webhook_url(stack: Stack) -> str:
    return f"{stack.rasa_url}/webhooks/wechat/webhook"


@pytest.fixture
def wechat(wechat_stack: Stack) -> WeChatCallbacks:
    """The WeChat platform, calling the channel of this module's stack."""
    return WeChatCallbacks(webhook_url(wechat_stack), TOKEN, APP_ID, AES_KEY)


@pytest.fixture
def openid() -> str:
    return new_openid()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def tracker(wechat_stack: Stack, http: aiohttp.ClientSession) -> Tracker:
    """The stored conversation of a user, through Rasa's HTTP API."""

    async def _get(sender_id: str) -> Dict[str, Any]:
        async with http.get(
            f"{wechat_stack.rasa_url}/conversations/{sender_id}/tracker",
            params={"token": wechat_stack.rasa_token},
        ) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    return _get


def user_events(tracker: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [e for e in tracker["events"] if e["event"] == "user"]


ZhReply = Callable[[str], str]


@pytest.fixture(scope="module")
def zh_reply(wechat_stack: Stack) -> ZhReply:
    """A response's Chinese variation as a WeChat user sees it.

    Read from the running model's domain (``GET /domain``), not domain.yml, so
    the expectation is what this model really answers.
    """
    import requests

    from bot.channels.wechat_render import render_messages

    response = requests.get(
        f"{wechat_stack.rasa_url}/domain",
        params={"token": wechat_stack.rasa_token},
        headers={"Accept": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    responses = response.json()["responses"]

    def _render(name: str) -> str:
        for variation in responses[name]:
            if any(c.get("value") == "zh" for c in variation.get("condition") or []):
                return render_messages([variation]).joined
        raise KeyError(f"{name} has no Chinese variation")

    return _render
