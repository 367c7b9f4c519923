"""Answers that miss WeChat's 5-second window go out through the customer-service API.

This module's stack gets a zero passive-reply budget, which no Rasa turn can
meet (a greeting can take under 10 ms, so even a tiny budget is not enough),
so every answer takes the slow path without anything being mocked:
the channel answers ``success`` at once and the reply arrives at the fake WeChat
API, sent with a token fetched from the fake's token endpoint.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.channels.conftest import APP_ID, APP_SECRET, Tracker, ZhReply, user_events
from tests.support.fake_wechat import FakeWeChatApi, WeChatCallbacks

pytestmark = pytest.mark.stack

WECHAT_ENV = {"WECHAT_REPLY_BUDGET_SECONDS": "0"}


async def test_slow_answers_are_success_then_customer_service_messages(
    zh_reply: ZhReply,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    fake_api: FakeWeChatApi,
    openid: str,
) -> None:
    tokens_before = len(fake_api.token_requests)
    started = time.monotonic()
    first = await wechat.post(http, wechat.text(openid, "你好"))
    assert first.is_success
    # within WeChat's window even on a busy machine (Rasa's turn holds the
    # event loop for its CPU-bound part, so "at once" means after that part)
    assert time.monotonic() - started < 4.5
    [greeting] = await asyncio.to_thread(fake_api.wait_for_messages, openid, 1)
    assert greeting["msgtype"] == "text"
    assert greeting["text"]["content"] == zh_reply("utter_greet")
    assert greeting["access_token"] in fake_api.issued_tokens

    second = await wechat.post(http, wechat.text(openid, "2"), encrypt=True)
    assert second.is_success  # "success" is never encrypted
    messages = await asyncio.to_thread(fake_api.wait_for_messages, openid, 2)
    # option 2 of the greeting: employer registration
    assert messages[1]["text"]["content"] == zh_reply("utter_employer_registration")
    # one token for the whole module (fetched by the warm-up turn), reused here
    assert len(fake_api.token_requests) == tokens_before == 1
    assert fake_api.token_requests[0] == {
        "grant_type": "client_credential",
        "appid": APP_ID,
        "secret": APP_SECRET,
    }
    assert messages[0]["access_token"] == messages[1]["access_token"]


async def test_retries_during_a_slow_turn_are_answered_once(
    zh_reply: ZhReply,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    tracker: Tracker,
    fake_api: FakeWeChatApi,
    openid: str,
) -> None:
    xml = wechat.text(openid, "缴费后怎么查询", msg_id=wechat.next_msg_id())
    burst = await asyncio.gather(*(wechat.post(http, xml) for _ in range(3)))
    assert all(r.status == 200 for r in burst)
    # Which request decides is a race (a retry may still see the finished turn
    # within its own budget), but all of them answer alike and the answer goes
    # out exactly once: customer-service message(s) or the same passive reply.
    expected = zh_reply("utter_check_payment")
    if all(r.is_success for r in burst):
        delivered = await asyncio.to_thread(fake_api.wait_for_messages, openid, 1)
        assert [m["text"]["content"] for m in delivered] == [expected]
    else:
        assert [r.content for r in burst] == [expected] * 3
        delivered = []
    late = await wechat.post(http, xml)  # a retry after the answer went out
    assert late.is_success == burst[0].is_success
    await asyncio.sleep(1.5)
    assert fake_api.messages_to(openid) == delivered
    assert [e["text"] for e in user_events(await tracker(openid))] == ["缴费后怎么查询"]


async def test_a_retry_after_the_deferral_only_gets_success(
    zh_reply: ZhReply,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    fake_api: FakeWeChatApi,
    openid: str,
) -> None:
    xml = wechat.text(openid, "谢谢", msg_id=wechat.next_msg_id())
    first = await wechat.post(http, xml)
    assert first.is_success
    retries = await asyncio.gather(*(wechat.post(http, xml) for _ in range(2)))
    assert all(r.is_success for r in retries)
    [thanks] = await asyncio.to_thread(fake_api.wait_for_messages, openid, 1)
    assert thanks["text"]["content"] == zh_reply("utter_you_are_welcome")
    await asyncio.sleep(1.0)
    assert len(fake_api.messages_to(openid)) == 1


async def test_text_only_notice_also_arrives(
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    fake_api: FakeWeChatApi,
    openid: str,
) -> None:
    reply = await wechat.post(http, wechat.image(openid))
    if reply.is_success:  # even the instant notice may miss a 10 ms budget
        [notice] = await asyncio.to_thread(fake_api.wait_for_messages, openid, 1)
        content = notice["text"]["content"]
    else:
        content = reply.content
    assert "只能处理文字消息" in content
