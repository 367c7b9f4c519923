"""The WeChat channel served in the test's event loop, a fake Rasa, a fake WeChat API.

Nothing here needs the trained model or the running assistant: the channel's
blueprint runs in a Sanic app on a loopback port (``tests/support/wechat_app.py``)
with :class:`FakeRasa` as ``on_new_message``, and the customer-service API is
the loopback :class:`FakeWeChatApi`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterator

import aiohttp
import pytest

from bot.channels.wechat.channel import WeChatInput
from tests.support.fake_wechat import FakeWeChatApi, WeChatCallbacks, new_openid
from tests.support.wechat_app import (
    AES_KEY,
    APP_ID,
    APP_SECRET,
    TOKEN,
    FakeRasa,
    channel_settings,
    serve_channel,
)


@dataclass
class Served:
    """One running channel and what talks to it."""

    channel: WeChatInput
    rasa: FakeRasa
    wechat: WeChatCallbacks
    http: aiohttp.ClientSession

    def job(self, key: str) -> Any:
        """The dedup job stored for ``key`` (``Incoming.dedup_key``)."""
        return self.channel.storage.get("wechat:dedup:" + key)


Serve = Callable[..., "contextlib.AbstractAsyncContextManager[Served]"]


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeWeChatApi]:
    server = FakeWeChatApi(APP_ID, APP_SECRET).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def serve(fake_api: FakeWeChatApi) -> Serve:
    """``async with serve(**settings) as served``: a channel with these settings."""

    @contextlib.asynccontextmanager
    async def _serve(
        rasa: "FakeRasa | None" = None, **overrides: Any
    ) -> AsyncIterator[Served]:
        channel = WeChatInput(channel_settings(fake_api.base_url, **overrides))
        fake_rasa = rasa or FakeRasa()
        async with serve_channel(channel, fake_rasa) as url:
            async with aiohttp.ClientSession() as http:
                yield Served(
                    channel,
                    fake_rasa,
                    WeChatCallbacks(url, TOKEN, APP_ID, AES_KEY),
                    http,
                )

    return _serve


@pytest.fixture
async def served(serve: Serve) -> AsyncIterator[Served]:
    """The channel with the default settings (4.5-second reply budget)."""
    async with serve() as running:
        yield running


@pytest.fixture
def openid() -> str:
    return new_openid()
