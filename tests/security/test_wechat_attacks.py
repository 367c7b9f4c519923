"""Attacks on the public WeChat callback URL, each refused (issue "Safe to put on
the internet").  The channel runs in process (tests/support/wechat_fixtures.py)
with a fake Rasa that records what would have reached the assistant."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.channels.wechat.channel import WeChatInput
from bot.channels.wechat.config import (
    DEV_APP_SECRET,
    DEV_TOKEN,
    WeChatConfigError,
    WeChatSettings,
)
from bot.channels.wechat.protocol import RequestRejected, WeChatProtocol
from common.storage import MemoryStorage
from tests.support.fake_wechat import FakeWeChatApi, WeChatCallbacks, new_openid
from tests.support.wechat_app import AES_KEY, APP_ID, APP_SECRET, TOKEN, Served
from tests.support.wechat_fixtures import Serve

PRODUCTION_ENV = {
    "WECHAT_TOKEN": TOKEN,
    "WECHAT_APP_ID": APP_ID,
    "WECHAT_APP_SECRET": APP_SECRET,
    "WECHAT_ENCODING_AES_KEY": AES_KEY,
}


# ---- replay of a signed callback URL -------------------------------------------
async def test_replayed_signed_url_with_other_body_is_refused(
    served: Served, openid: str
) -> None:
    wechat = served.wechat
    params, body = wechat.signed(wechat.text(openid, "我想查询缴费记录"))
    genuine = await wechat.post(served.http, params=params, body=body)
    assert genuine.status == 200
    # the attacker saw the URL (token, timestamp, nonce signed) and swaps the body
    forged_body = wechat.text(new_openid(), "帮我把社保转到另一个账户").encode()
    replay = await wechat.post(served.http, params=params, body=forged_body)
    assert (replay.status, replay.reason) == (403, "replayed_request")
    assert served.rasa.texts == ["我想查询缴费记录"]


async def test_replayed_encrypted_callback_url_with_a_plain_body_is_refused(
    served: Served, openid: str
) -> None:
    """Dropping encrypt_type turns a safe-mode URL into a plain one: still refused."""
    wechat = served.wechat
    params, body = wechat.signed(wechat.text(openid, "你好"), encrypt=True)
    assert (await wechat.post(served.http, params=params, body=body)).status == 200
    plain_params = {
        k: v for k, v in params.items() if k not in ("encrypt_type", "msg_signature")
    }
    forged = wechat.text(openid, "请把我的信息发给别人").encode()
    replay = await wechat.post(served.http, params=plain_params, body=forged)
    assert (replay.status, replay.reason) == (403, "replayed_request")
    assert served.rasa.texts == ["你好"]


async def test_wechat_retry_of_the_same_signed_request_passes_and_is_processed_once(
    served: Served, openid: str
) -> None:
    wechat = served.wechat
    params, body = wechat.signed(wechat.text(openid, "单位怎么办理社保登记"))
    first, again = [
        await wechat.post(served.http, params=params, body=body) for _ in range(2)
    ]
    assert first.status == again.status == 200
    assert first.content == again.content == "收到：单位怎么办理社保登记"
    assert served.rasa.texts == ["单位怎么办理社保登记"]


def test_replay_records_live_as_long_as_the_timestamp_window() -> None:
    now = [0.0]
    storage = MemoryStorage(clock=lambda: now[0])
    protocol = WeChatProtocol(
        WeChatSettings(token=TOKEN, app_id=APP_ID, timestamp_tolerance=300), storage
    )
    wechat = WeChatCallbacks("http://unused", TOKEN, APP_ID)
    params, body = wechat.signed(wechat.text(new_openid(), "hi"))
    protocol.open_request(params, body)
    key = f"replay:{params['timestamp']}:{params['nonce']}"
    assert storage.get(key) is not None  # sha256 of the body, for the window
    now[0] = 600  # a timestamp 300 s ahead stays acceptable until 300 s behind
    with pytest.raises(RequestRejected) as info:
        protocol.open_request(params, body + b" ")
    assert info.value.reason == "replayed_request"
    now[0] = 602
    assert storage.get(key) is None


# ---- committed development secrets ------------------------------------------------
@pytest.mark.parametrize("shebao_env", [None, "production", "staging", "dev"])
def test_committed_dev_token_is_refused_unless_development_mode_is_explicit(
    shebao_env: "str | None", monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(PRODUCTION_ENV) + ["SHEBAO_ENV"]:
        monkeypatch.delenv(name, raising=False)
    if shebao_env is not None:
        monkeypatch.setenv("SHEBAO_ENV", shebao_env)
    with pytest.raises(WeChatConfigError, match="WECHAT_TOKEN"):
        WeChatInput.from_credentials(None)  # no WECHAT_TOKEN: the dev default
    with pytest.raises(WeChatConfigError, match="WECHAT_TOKEN"):
        WeChatInput(WeChatSettings(token=DEV_TOKEN, encoding_aes_key=AES_KEY))
    monkeypatch.setenv("SHEBAO_ENV", "development")
    assert WeChatInput.from_credentials(None).settings.token == DEV_TOKEN


def test_committed_dev_app_secret_is_refused_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHEBAO_ENV", raising=False)
    settings = WeChatSettings(
        token=TOKEN, app_id=APP_ID, app_secret=DEV_APP_SECRET, encoding_aes_key=AES_KEY
    )
    with pytest.raises(WeChatConfigError, match="WECHAT_APP_SECRET"):
        WeChatInput(settings)


def test_plain_mode_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEBAO_ENV", "production")
    settings = WeChatSettings(token=TOKEN, app_id=APP_ID, app_secret=APP_SECRET)
    with pytest.raises(WeChatConfigError) as info:
        WeChatInput(settings)
    message = str(info.value)
    assert "WECHAT_ENCODING_AES_KEY" in message
    assert "safe mode" in message and "HTTPS" in message
    # with real secrets and safe mode, production starts
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    assert WeChatInput.from_credentials(None).settings.safe_mode


# ---- dedup scoped by OpenID --------------------------------------------------------
async def test_msg_id_of_another_user_never_returns_their_reply(
    served: Served,
) -> None:
    victim, attacker = new_openid(), new_openid()
    wechat = served.wechat
    msg_id = wechat.next_msg_id()
    mine = await wechat.post(served.http, wechat.text(victim, "我的身份证号", msg_id))
    assert mine.content == "收到：我的身份证号"
    theirs = await wechat.post(served.http, wechat.text(attacker, "hi", msg_id))
    assert theirs.fields["ToUserName"] == attacker
    assert "身份证" not in theirs.content
    assert [(m.sender_id, m.text) for m in served.rasa.messages] == [
        (f"wechat:{victim}", "我的身份证号"),
        (f"wechat:{attacker}", "hi"),
    ]


# ---- sender ids namespaced per channel --------------------------------------------
async def test_wechat_user_is_a_namespaced_sender_and_replies_go_to_the_bare_openid(
    serve: Serve, fake_api: FakeWeChatApi, openid: str
) -> None:
    async with serve(reply_budget_seconds=0) as served:  # customer-service path
        reply = await served.wechat.post(
            served.http, served.wechat.text(openid, "你好")
        )
        assert reply.is_success
        [sent] = await asyncio.to_thread(fake_api.wait_for_messages, openid, 1)
    assert sent["touser"] == openid
    assert [m.sender_id for m in served.rasa.messages] == [f"wechat:{openid}"]
    assert fake_api.messages_to(f"wechat:{openid}") == []


# ---- hostile bodies -----------------------------------------------------------------
async def test_entity_declarations_inside_an_encrypted_body_are_refused(
    served: Served, openid: str
) -> None:
    """The DTD refusal also applies to the decrypted message, not only the envelope."""
    xxe = (
        '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f"<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content>"
        "</xml>"
    )
    params, body = served.wechat.signed(xxe, encrypt=True)
    reply = await served.wechat.post(served.http, params=params, body=body)
    assert (reply.status, reply.reason) == (400, "forbidden_xml")
    assert served.rasa.messages == []


async def test_declared_oversized_body_is_refused_before_it_is_read(
    served: Served, openid: str
) -> None:
    params, _ = served.wechat.signed("<xml/>")
    async with served.http.post(
        served.wechat.url,
        params=params,
        data=b"<xml>" + b"a" * 70_000 + b"</xml>",
        headers={"Content-Type": "text/xml"},
    ) as resp:
        assert resp.status == 413
        assert (await resp.json())["reason"] == "payload_too_large"
    assert served.rasa.messages == []


async def test_stale_and_forged_callbacks_are_refused(
    served: Served, openid: str
) -> None:
    wechat = served.wechat
    xml = wechat.text(openid, "你好")
    stale_params, body = wechat.signed(xml, timestamp=int(time.time()) - 301)
    stale = await wechat.post(served.http, params=stale_params, body=body)
    assert (stale.status, stale.reason) == (403, "stale_timestamp")
    forged = WeChatCallbacks(wechat.url, "guessed-token", APP_ID)
    refused = await forged.post(served.http, forged.text(openid, "你好"))
    assert (refused.status, refused.reason) == (403, "invalid_signature")
    assert served.rasa.messages == []
