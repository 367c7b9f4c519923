"""Smoke test of the WeChat channel in the running assistant (trained model, every
service): signed plain and encrypted Chinese callbacks, end to end.

The channel's behaviour in detail is tested in process (tests/channels/wechat);
this only proves the real stack wires it up: credentials.yml registers it, the
settings come from ``WECHAT_*`` variables, the model answers, and the turn is
stored under the sender id ``wechat:<OpenID>``.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, List

import aiohttp
import pytest
import requests

from tests.support.fake_wechat import FakeWeChatApi, Reply, WeChatCallbacks, new_openid
from tests.support.stack import stored_tracker
from tests.support.wechat_app import AES_KEY, APP_ID, TOKEN
from tools.devstack import Stack

pytestmark = pytest.mark.stack


@pytest.fixture
def wechat(stack: Stack) -> WeChatCallbacks:
    return WeChatCallbacks(
        f"{stack.rasa_url}/webhooks/wechat/webhook", TOKEN, APP_ID, AES_KEY
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def zh_responses(stack: Stack, name: str) -> List[Dict[str, Any]]:
    """The Chinese variations of a response in the running model's domain."""
    response = requests.get(
        f"{stack.rasa_url}/domain",
        params={"token": stack.rasa_token},
        headers={"Accept": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    return [
        variation
        for variation in response.json()["responses"][name]
        if any(c.get("value") == "zh" for c in variation.get("condition") or [])
    ]


async def answer(reply: Reply, wechat_api: FakeWeChatApi, openid: str) -> str:
    """The answer: passive, or (a cold first turn may miss the budget) by the API."""
    assert reply.status == 200, reply.body
    if not reply.is_success:
        return reply.content
    messages = await asyncio.to_thread(wechat_api.wait_for_messages, openid, 1, 60)
    return "\n\n".join(m["text"]["content"] for m in messages)


async def test_signed_plain_chinese_text_gets_the_assistants_greeting(
    stack: Stack,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    wechat_api: FakeWeChatApi,
) -> None:
    openid = new_openid()
    reply = await wechat.post(http, wechat.text(openid, "你好"), timeout=60)
    content = await answer(reply, wechat_api, openid)
    greetings = [v["text"] for v in zh_responses(stack, "utter_greet")]
    assert any(content.startswith(text.split("**")[0]) for text in greetings), content
    assert "回复数字选择：\n1. " in content
    events = stored_tracker(stack, f"wechat:{openid}")["events"]
    [user] = [e for e in events if e["event"] == "user"]
    assert (user["text"], user["input_channel"]) == ("你好", "wechat")
    assert not [
        e for e in stored_tracker(stack, openid)["events"] if e["event"] == "user"
    ]


async def test_encrypted_chinese_text_gets_an_encrypted_answer(
    wechat: WeChatCallbacks, http: aiohttp.ClientSession, wechat_api: FakeWeChatApi
) -> None:
    openid = new_openid()
    reply = await wechat.post(
        http, wechat.text(openid, "我想自己交医保，怎么办？"), encrypt=True, timeout=60
    )
    if not reply.is_success:
        assert "<Encrypt>" in reply.body and "城镇" not in reply.body
        assert reply.fields["_encrypted"] is True
    content = await answer(reply, wechat_api, openid)
    assert content.endswith("回复数字选择：\n1. 城镇户口\n2. 农业户口")


@pytest.mark.parametrize("english", [False, True])
async def test_menu_click_gets_the_intents_answer_in_the_users_language(
    stack: Stack,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    wechat_api: FakeWeChatApi,
    english: bool,
) -> None:
    openid = new_openid()
    if english:  # the channel remembers the language the user writes in
        reply = await wechat.post(http, wechat.text(openid, "Hello"), timeout=60)
        await answer(reply, wechat_api, openid)
    before = len(wechat_api.messages_to(openid))
    reply = await wechat.post(
        http,
        wechat.menu(openid, "CLICK", "/ask_individual_payment"),
        encrypt=True,
        timeout=60,
    )
    assert reply.status == 200, reply.body
    if reply.is_success:  # over the reply budget: the customer-service API
        messages = await asyncio.to_thread(
            wechat_api.wait_for_messages, openid, before + 1, 60
        )
        content = "\n\n".join(m["text"]["content"] for m in messages[before:])
    else:
        content = reply.content
    if english:
        assert "urban" in content and "agricultural" in content, content
    else:
        assert content.endswith("回复数字选择：\n1. 城镇户口\n2. 农业户口"), content
    events = stored_tracker(stack, f"wechat:{openid}")["events"]
    intents = [
        e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"
    ]
    assert intents[-1] == "ask_individual_payment"
    view = await wechat.post(
        http, wechat.menu(openid, "VIEW", "https://www.example.gov.cn/"), timeout=60
    )
    assert view.is_success
