"""The WeChat channel of the running assistant, driven by signed (and encrypted)
callbacks over HTTP, with the default 4.5-second passive-reply budget."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.channels.conftest import (
    AES_KEY,
    APP_ID,
    REPO_ROOT,
    TOKEN,
    Tracker,
    ZhReply,
    user_events,
)
from tests.support.fake_wechat import FakeWeChatApi, WeChatCallbacks, sign
from tools.devstack import Stack

pytestmark = pytest.mark.stack


async def test_url_verification(
    wechat: WeChatCallbacks, http: aiohttp.ClientSession
) -> None:
    ts, nonce = str(int(time.time())), "verify1"
    good = {
        "signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": "4711",
    }
    async with http.get(wechat.url, params=good) as resp:
        assert (resp.status, await resp.text()) == (200, "4711")
    forged = {**good, "signature": sign("not-our-token", ts, nonce)}
    async with http.get(wechat.url, params=forged) as resp:
        assert resp.status == 403
        assert (await resp.json())["reason"] == "invalid_signature"


async def test_chinese_text_gets_the_assistants_answer_in_a_passive_reply(
    zh_reply: ZhReply,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    tracker: Tracker,
    openid: str,
) -> None:
    reply = await wechat.post(http, wechat.text(openid, "你好"))
    assert reply.status == 200
    assert reply.fields["MsgType"] == "text"
    assert reply.fields["ToUserName"] == openid
    # the assistant's real Chinese greeting, its buttons as numbered options
    assert reply.content == zh_reply("utter_greet")
    assert "回复数字选择：\n1. " in reply.content
    [event] = user_events(await tracker(openid))
    assert event["text"] == "你好"
    assert event["input_channel"] == "wechat"


async def test_safe_mode_round_trip(
    zh_reply: ZhReply, wechat: WeChatCallbacks, http: aiohttp.ClientSession, openid: str
) -> None:
    reply = await wechat.post(
        http, wechat.text(openid, "我想自己交医保，怎么办？"), encrypt=True
    )
    assert reply.status == 200
    assert "<Encrypt>" in reply.body and "城镇" not in reply.body
    assert reply.fields["_encrypted"] is True
    assert reply.content == zh_reply("utter_ask_residency_type")


async def test_subscribe_gets_the_assistants_chinese_welcome(
    zh_reply: ZhReply,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    tracker: Tracker,
    openid: str,
) -> None:
    reply = await wechat.post(http, wechat.event(openid, "subscribe"))
    assert reply.content == zh_reply("utter_greet")
    conversation = await tracker(openid)
    assert conversation["latest_message"]["intent"]["name"] == "greet"
    assert conversation["slots"]["language"] == "zh"


async def test_voice_uses_the_recognised_text(
    zh_reply: ZhReply,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    tracker: Tracker,
    openid: str,
) -> None:
    reply = await wechat.post(http, wechat.voice(openid, "我想自己交医保"))
    assert reply.content == zh_reply("utter_ask_residency_type")
    assert user_events(await tracker(openid))[0]["text"] == "我想自己交医保"


async def test_voice_without_recognition_and_images_get_the_text_only_notice(
    wechat: WeChatCallbacks, http: aiohttp.ClientSession, tracker: Tracker, openid: str
) -> None:
    for xml in (
        wechat.voice(openid, None),
        wechat.image(openid),
        wechat.location(openid),
    ):
        reply = await wechat.post(http, xml)
        assert "只能处理文字消息" in reply.content
    assert user_events(await tracker(openid)) == []  # nothing went to Rasa


async def test_text_only_notice_follows_an_english_conversation(
    wechat: WeChatCallbacks, http: aiohttp.ClientSession, openid: str
) -> None:
    hello = await wechat.post(
        http, wechat.text(openid, "Hello, how do I pay medical insurance?")
    )
    assert hello.content and "只能" not in hello.content
    reply = await wechat.post(http, wechat.image(openid))
    assert reply.content.startswith("Sorry, I can only read text messages")


async def test_buttons_are_numbered_and_a_number_answers_them(
    wechat: WeChatCallbacks, http: aiohttp.ClientSession, tracker: Tracker, openid: str
) -> None:
    ask = await wechat.post(http, wechat.text(openid, "我想自己交医保，怎么办？"))
    assert ask.content.endswith("回复数字选择：\n1. 城镇户口\n2. 农业户口")
    answer = await wechat.post(http, wechat.text(openid, "1"))
    assert "城镇" in answer.content and "**" not in answer.content
    assert answer.content != ask.content
    conversation = await tracker(openid)
    assert (
        user_events(conversation)[-1]["text"]
        == '/inform_residency{"residency_type":"urban"}'
    )
    assert conversation["slots"]["residency_type"] == "urban"


async def test_retries_of_one_message_reach_rasa_once(
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    tracker: Tracker,
    fake_api: FakeWeChatApi,
    openid: str,
) -> None:
    xml = wechat.text(openid, "单位怎么办理社保登记", msg_id=wechat.next_msg_id())
    # WeChat re-sends the same message with fresh signatures; here all at once.
    replies = await asyncio.gather(*(wechat.post(http, xml) for _ in range(3)))
    assert all(r.status == 200 for r in replies)
    passive = [r for r in replies if r.content]
    assert passive and all(r.content == passive[0].content for r in passive)
    late = await wechat.post(http, xml)  # a retry after the answer: same answer
    assert late.content == passive[0].content
    assert [e["text"] for e in user_events(await tracker(openid))] == [
        "单位怎么办理社保登记"
    ]
    await asyncio.sleep(0.5)
    assert fake_api.messages_to(openid) == []  # answered passively, not twice


async def test_subscribe_retries_are_one_event(
    wechat: WeChatCallbacks, http: aiohttp.ClientSession, tracker: Tracker, openid: str
) -> None:
    xml = wechat.event(openid, "subscribe", create_time=int(time.time()))
    await asyncio.gather(*(wechat.post(http, xml) for _ in range(2)))
    assert len(user_events(await tracker(openid))) == 1


def _billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">', '<!ENTITY lol1 "' + "&lol;" * 10 + '">'] + [
        f'<!ENTITY lol{i} "' + f"&lol{i - 1};" * 10 + '">' for i in range(2, 10)
    ]
    return (
        '<?xml version="1.0"?><!DOCTYPE xml [' + "".join(entities) + "]>"
        "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content>"
        "<MsgId>1</MsgId></xml>"
    ).encode()


HOSTILE = {
    "malformed": (
        400,
        "malformed_xml",
        b"<xml><FromUserName>{openid}</FromUserName><MsgType>text",
    ),
    "xxe": (
        400,
        "forbidden_xml",
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
        b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content></xml>",
    ),
    "billion-laughs": (400, "forbidden_xml", _billion_laughs()),
    "oversized": (
        413,
        "payload_too_large",
        b"<xml><FromUserName>{openid}</FromUserName><Content>"
        + "很长".encode() * 200_000
        + b"</Content></xml>",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_bodies_are_refused_before_rasa(
    case: str,
    wechat: WeChatCallbacks,
    http: aiohttp.ClientSession,
    tracker: Tracker,
    openid: str,
) -> None:
    status, reason, template = HOSTILE[case]
    params, _ = wechat.signed("<xml/>")
    body = template.replace(b"{openid}", openid.encode())
    reply = await wechat.post(http, params=params, body=body)
    assert (reply.status, reply.reason) == (status, reason)
    assert user_events(await tracker(openid)) == []


async def test_forged_and_stale_requests_are_refused_before_rasa(
    wechat: WeChatCallbacks, http: aiohttp.ClientSession, tracker: Tracker, openid: str
) -> None:
    xml = wechat.text(openid, "你好")
    params, body = wechat.signed(xml)
    forged = await wechat.post(
        http, params={**params, "signature": "0" * 40}, body=body
    )
    assert (forged.status, forged.reason) == (403, "invalid_signature")
    stale_params, stale_body = wechat.signed(xml, timestamp=int(time.time()) - 3600)
    stale = await wechat.post(http, params=stale_params, body=stale_body)
    assert (stale.status, stale.reason) == (403, "stale_timestamp")
    unsigned = await wechat.post(http, params={}, body=body)
    assert (unsigned.status, unsigned.reason) == (400, "missing_signature")
    # an encrypted body whose msg_signature was made without the token
    enc_params, enc_body = wechat.signed(xml, encrypt=True)
    enc_params["msg_signature"] = sign(
        "guess", enc_params["timestamp"], enc_params["nonce"]
    )
    tampered = await wechat.post(http, params=enc_params, body=enc_body)
    assert (tampered.status, tampered.reason) == (403, "invalid_signature")
    assert user_events(await tracker(openid)) == []


def test_send_script_signs_and_prints_the_reply(
    zh_reply: ZhReply, wechat_stack: Stack
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_ENCODING_AES_KEY": AES_KEY,
    }
    url = f"{wechat_stack.rasa_url}/webhooks/wechat/webhook"
    for extra in ([], ["--encrypt"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.wechat_send",
                "--url",
                url,
                *extra,
                "--openid",
                f"oScript{len(extra)}",
                "你好",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == zh_reply("utter_greet")
