"""The WeChat channel served in the test's event loop, a fake Rasa, a fake WeChat API.

Nothing here needs the trained model or the running assistant: the channel's
blueprint runs in a Sanic app on a loopback port (``tests/support/wechat_app.py``)
with :class:`FakeRasa` as ``on_new_message``, and the customer-service API is
the loopback :class:`FakeWeChatApi`.  A pytest plugin (``tests/conftest.py``),
so ``tests/channels/wechat`` and ``tests/security`` share these fixtures.
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING, AsyncIterator, Callable, Iterator

import pytest

from tests.support.fake_wechat import FakeWeChatApi, new_openid

if TYPE_CHECKING:  # imported when used: Rasa takes seconds to import
    from tests.support.wechat_app import Served

Serve = Callable[..., "contextlib.AbstractAsyncContextManager[Served]"]


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeWeChatApi]:
    from tests.support.wechat_app import APP_ID, APP_SECRET

    server = FakeWeChatApi(APP_ID, APP_SECRET).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def serve(fake_api: FakeWeChatApi) -> Serve:
    """``async with serve(rasa=..., **settings) as served``: a channel to talk to."""
    from tests.support.wechat_app import served_channel

    return functools.partial(served_channel, fake_api.base_url)


@pytest.fixture
async def served(serve: Serve) -> AsyncIterator["Served"]:
    """The channel with the default settings (4.5-second reply budget)."""
    async with serve() as running:
        yield running


@pytest.fixture
def openid() -> str:
    return new_openid()
