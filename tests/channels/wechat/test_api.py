"""The customer-service API client against the loopback fake of WeChat."""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from bot.channels.wechat.api import (
    WeChatApiClient,
    WeChatApiError,
    WeChatCustomerServiceOutput,
)
from bot.channels.wechat.memory import UserMemory
from tests.support.fake_wechat import FakeWeChatApi

APP_ID, SECRET = "wxapiunit0000000", "api-unit-secret"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChatApi]:
    server = FakeWeChatApi(APP_ID, SECRET).start()
    yield server
    server.stop()


async def test_token_is_cached_until_shortly_before_expiry(fake: FakeWeChatApi) -> None:
    now = [1000.0]
    client = WeChatApiClient(fake.base_url, APP_ID, SECRET, clock=lambda: now[0])
    before = len(fake.token_requests)
    try:
        await client.send_text("oUser1", "你好")
        await client.send_text("oUser1", "再见")
        assert len(fake.token_requests) == before + 1
        now[0] += 7200 - 301  # still inside the refresh margin of 300 s
        await client.send_text("oUser1", "again")
        assert len(fake.token_requests) == before + 1
        now[0] += 2  # within 300 s of expiry: refresh
        await client.send_text("oUser1", "later")
        assert len(fake.token_requests) == before + 2
    finally:
        await client.close()
    sent = fake.messages_to("oUser1")
    assert [m["text"]["content"] for m in sent[-4:]] == [
        "你好",
        "再见",
        "again",
        "later",
    ]
    assert "你好".encode() in sent[-4]["raw"]  # real UTF-8, not \\u escapes
    assert sent[-1]["access_token"] == fake.issued_tokens[-1]


async def test_a_revoked_token_is_replaced_once(fake: FakeWeChatApi) -> None:
    client = WeChatApiClient(fake.base_url, APP_ID, SECRET)
    try:
        await client.access_token()
        client._token = "revoked"  # as if WeChat had invalidated it
        await client.send_text("oUser2", "hi")
    finally:
        await client.close()
    assert fake.messages_to("oUser2")[-1]["access_token"] != "revoked"


async def test_wrong_secret_is_an_api_error(fake: FakeWeChatApi) -> None:
    client = WeChatApiClient(fake.base_url, APP_ID, "wrong")
    try:
        with pytest.raises(WeChatApiError) as info:
            await client.send_text("oUser3", "hi")
        assert info.value.errcode == 40125
        assert "wrong" not in str(info.value)  # the secret never reaches logs
    finally:
        await client.close()


async def test_unreachable_api_is_an_api_error() -> None:
    client = WeChatApiClient("http://127.0.0.1:9", APP_ID, SECRET, timeout_seconds=2)
    try:
        with pytest.raises(WeChatApiError):
            await client.access_token()
    finally:
        await client.close()


async def test_output_channel_sends_numbered_buttons(fake: FakeWeChatApi) -> None:
    client = WeChatApiClient(fake.base_url, APP_ID, SECRET)
    memory = UserMemory(buttons_ttl=60)
    output = WeChatCustomerServiceOutput(client, memory, max_reply_bytes=2048)
    try:
        await output.send_response(
            "oUser4",
            {
                "text": "请选择",
                "buttons": [{"title": "转人工", "payload": "/request_human"}],
            },
        )
    finally:
        await client.close()
    assert (
        fake.messages_to("oUser4")[-1]["text"]["content"]
        == "请选择\n\n回复数字选择：\n1. 转人工"
    )
    assert memory.button("oUser4", 1) == {
        "title": "转人工",
        "payload": "/request_human",
    }
    assert json.loads(fake.messages_to("oUser4")[-1]["raw"])["msgtype"] == "text"


async def test_output_channel_addresses_the_bare_openid_of_a_sender_id(
    fake: FakeWeChatApi,
) -> None:
    """Rasa's sender id is ``wechat:<OpenID>``; WeChat knows only the OpenID."""
    client = WeChatApiClient(fake.base_url, APP_ID, SECRET)
    memory = UserMemory(buttons_ttl=60)
    output = WeChatCustomerServiceOutput(client, memory, max_reply_bytes=2048)
    try:
        await output.send_response(
            "wechat:oUser5",
            {"text": "请选择", "buttons": [{"title": "是", "payload": "/affirm"}]},
        )
    finally:
        await client.close()
    assert [m["text"]["content"] for m in fake.messages_to("oUser5")] == [
        "请选择\n\n回复数字选择：\n1. 是"
    ]
    assert fake.messages_to("wechat:oUser5") == []
    assert memory.button("oUser5", 1) == {"title": "是", "payload": "/affirm"}
