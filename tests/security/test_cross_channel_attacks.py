"""A resident verified on WeChat; others try to read their records from REST."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from tests.security.conftest import joined, rest
from tests.support.fake_wechat import WeChatCallbacks, new_openid
from tests.support.stack import latest_code, register_resident, stored_tracker
from tests.support.wechat_app import AES_KEY, APP_ID, TOKEN
from tools.devstack import Stack

pytestmark = pytest.mark.stack


def outcome(stack: Stack, sender_id: str) -> object:
    return stored_tracker(stack, sender_id)["slots"].get("inquiry_outcome")


async def verify_on_wechat(stack: Stack, openid: str) -> None:
    wechat = WeChatCallbacks(
        f"{stack.rasa_url}/webhooks/wechat/webhook", TOKEN, APP_ID, AES_KEY
    )
    async with aiohttp.ClientSession() as http:
        id_number = register_resident(stack)
        for text in ("我2025年交了哪几个月", id_number):
            reply = await wechat.post(http, wechat.text(openid, text), timeout=60)
            assert reply.status == 200, reply.body
        await asyncio.sleep(1)  # the ID turn may still be running (deferred reply)
        code = latest_code(stack, id_number)
        reply = await wechat.post(http, wechat.text(openid, code), timeout=60)
        assert reply.status == 200, reply.body
    deadline = time.monotonic() + 60
    while outcome(stack, f"wechat:{openid}") is None and time.monotonic() < deadline:
        await asyncio.sleep(0.5)


def test_rest_sender_cannot_read_wechat_users_records(stack: Stack) -> None:
    openid = new_openid()
    asyncio.run(verify_on_wechat(stack, openid))
    # the WeChat resident did get their records ...
    assert outcome(stack, f"wechat:{openid}") in ("paid_up", "in_arrears")
    # ... and nobody else does, whatever sender id they claim
    for forged in (openid, f"wechat:{openid}"):
        answer = joined(rest(stack, forged, "我还欠多少钱"))
        assert "身份证号" in answer and "已缴月份" not in answer
        assert outcome(stack, f"rest:{forged}") is None
