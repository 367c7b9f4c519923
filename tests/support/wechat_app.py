"""The WeChat channel in this test's event loop, with a fake Rasa behind it.

:func:`serve_channel` mounts the channel's blueprint in a Sanic app (test
mode) on a free loopback port, as Rasa mounts it (``/webhooks/wechat``), and
:class:`FakeRasa` stands in for Rasa's ``on_new_message``: it records every
:class:`UserMessage`, waits for its ``gate`` (an :class:`asyncio.Event`, open
by default) and answers through the message's output channel.  Closing the
gate holds a turn for as long as a test wants, so budgets and retries are
tested deterministically, without a model.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence

import aiohttp
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.channels.wechat.channel import WeChatInput
from bot.channels.wechat.config import WeChatSettings
from common.storage import Storage
from tests.support.fake_wechat import WeChatCallbacks
from tools.devstack import free_port

TOKEN = "channel-test-token"
APP_ID = "wxchanneltest0000"
APP_SECRET = "channel-test-secret"
AES_KEY = "k9cZ2mW8qT4vX7bN1pL6sD3fG5hJ0aR2eY8uI4oQ7wE"


def stack_env(api_base_url: str) -> Dict[str, str]:
    """The WeChat settings of a test stack: this account, the fake API at the URL."""
    return {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
        "WECHAT_API_BASE_URL": api_base_url,
    }


GREETING = "您好！我是社保助手。"
RESIDENCY_BUTTONS = [
    {"title": "城镇户口", "payload": '/inform_residency{"residency_type":"urban"}'},
    {
        "title": "农业户口",
        "payload": '/inform_residency{"residency_type":"agricultural"}',
    },
]

Answer = Callable[[UserMessage], List[Dict[str, Any]]]


def default_answer(message: UserMessage) -> List[Dict[str, Any]]:
    """A greeting for ``/greet``, a question with buttons for 医保, else an echo."""
    text = message.text or ""
    if text.startswith("/greet"):
        return [{"text": GREETING}]
    if "医保" in text:
        return [
            {"text": "请问您是城镇户口还是农业户口？", "buttons": RESIDENCY_BUTTONS}
        ]
    if text.startswith("/inform_residency"):
        return [{"text": "好的，城镇户口。"}]
    if "English" in text or "hello" in text.lower():
        return [{"text": "Hello! How can I help?"}]
    return [{"text": f"收到：{text}"}]


class FakeRasa:
    """``on_new_message`` for the channel: records, waits for ``gate``, answers."""

    def __init__(self, answer: Answer = default_answer) -> None:
        self.answer = answer
        self.gate = asyncio.Event()
        self.gate.set()
        self.messages: List[UserMessage] = []
        self.started = asyncio.Event()

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        self.started.set()
        await self.gate.wait()
        assert message.output_channel is not None
        for response in self.answer(message):
            await message.output_channel.send_response(message.sender_id, response)

    @property
    def texts(self) -> List[Optional[str]]:
        return [m.text for m in self.messages]


def channel_settings(
    api_base_url: str = "http://127.0.0.1:9", **overrides: Any
) -> WeChatSettings:
    """Settings of the channel under test (safe mode available)."""
    values: Dict[str, Any] = {
        "token": TOKEN,
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "encoding_aes_key": AES_KEY,
        "api_base_url": api_base_url,
        **overrides,
    }
    return WeChatSettings(**values)


_app_names = itertools.count(1)


@contextlib.asynccontextmanager
async def serve_channel(
    channel: Any,
    on_new_message: Callable[[UserMessage], Any],
    prefix: str = "/webhooks/wechat",
) -> AsyncIterator[str]:
    """Serve any Rasa input ``channel`` under ``prefix`` on a free port; yields its webhook URL."""
    Sanic.test_mode = True
    app = Sanic(f"wechat_test_{next(_app_names)}")
    app.config.ACCESS_LOG = False
    app.blueprint(channel.blueprint(on_new_message), url_prefix=prefix)
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}{prefix}/webhook"
    finally:
        await server.before_stop()
        close = server.close()
        if close is not None:
            await close
        await server.after_stop()


@dataclass
class Served:
    """One running channel and what talks to it."""

    channel: WeChatInput
    rasa: FakeRasa
    wechat: WeChatCallbacks
    http: aiohttp.ClientSession

    def job(self, key: str) -> Any:
        """This replica's dedup job for ``key`` (``Incoming.dedup_key``)."""
        return self.channel.jobs.job(key)


@contextlib.asynccontextmanager
async def served_replicas(
    api_base_url: str, storages: Sequence[Storage], **overrides: Any
) -> AsyncIterator[List[Served]]:
    """One served channel per storage (replicas when they share one), each with
    its own fake Rasa and one HTTP session between them."""
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(aiohttp.ClientSession())
        replicas = []
        for storage in storages:
            settings = channel_settings(api_base_url, **overrides)
            channel = WeChatInput(settings, storage=storage)
            rasa = FakeRasa()
            url = await stack.enter_async_context(serve_channel(channel, rasa))
            callbacks = WeChatCallbacks(url, TOKEN, APP_ID, AES_KEY)
            replicas.append(Served(channel, rasa, callbacks, http))
        yield replicas


@contextlib.asynccontextmanager
async def served_channel(
    api_base_url: str, rasa: Optional[FakeRasa] = None, **overrides: Any
) -> AsyncIterator[Served]:
    """A channel with :func:`channel_settings` (+ ``overrides``), served and ready."""
    channel = WeChatInput(channel_settings(api_base_url, **overrides))
    fake_rasa = rasa or FakeRasa()
    async with serve_channel(channel, fake_rasa) as url:
        async with aiohttp.ClientSession() as http:
            callbacks = WeChatCallbacks(url, TOKEN, APP_ID, AES_KEY)
            yield Served(channel, fake_rasa, callbacks, http)
