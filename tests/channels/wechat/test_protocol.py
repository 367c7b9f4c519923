"""The callback protocol without a server: signatures, windows, hostile XML, AES."""

from __future__ import annotations

import time

import pytest
import xmltodict

from bot.channels.wechat.config import WeChatConfigError, WeChatSettings
from bot.channels.wechat.protocol import (
    RequestRejected,
    WeChatProtocol,
    cdata,
)
from bot.channels.wechat.protocol import (
    sign as protocol_sign,
)
from tests.support.fake_wechat import WeChatCallbacks, new_openid, sign

TOKEN = "unit-token"
APP_ID = "wx1234567890abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture
def safe() -> WeChatProtocol:
    return WeChatProtocol(
        WeChatSettings(token=TOKEN, app_id=APP_ID, encoding_aes_key=AES_KEY)
    )


@pytest.fixture
def plain() -> WeChatProtocol:
    return WeChatProtocol(WeChatSettings(token=TOKEN, app_id=APP_ID))


@pytest.fixture
def wechat() -> WeChatCallbacks:
    return WeChatCallbacks("http://unused", TOKEN, APP_ID, AES_KEY)


def rejected(call, *args) -> RequestRejected:
    with pytest.raises(RequestRejected) as info:
        call(*args)
    return info.value


def test_url_verification_returns_echostr(plain: WeChatProtocol) -> None:
    ts, nonce = str(int(time.time())), "n1"
    args = {
        "signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": "e123",
    }
    assert plain.verify_url(args) == "e123"
    args["signature"] = sign("other-token", ts, nonce)
    assert rejected(plain.verify_url, args).reason == "invalid_signature"


def test_url_verification_needs_the_plain_signature(safe: WeChatProtocol) -> None:
    """WeCom's encrypted echostr (msg_signature only) is not served."""
    ts, nonce = str(int(time.time())), "n2"
    args = {
        "msg_signature": sign(TOKEN, ts, nonce, "enc"),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": "enc",
    }
    assert rejected(safe.verify_url, args).reason == "missing_signature"
    args["signature"] = sign(TOKEN, ts, nonce)
    assert safe.verify_url(args) == "enc"  # echoed as is, in safe mode too


def test_signing_and_cdata_helpers() -> None:
    assert protocol_sign(TOKEN, "1", "n") == sign(TOKEN, "1", "n")
    assert cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>"
    assert xmltodict.parse("<x>" + cdata("a]]><y/>") + "</x>")["x"] == "a]]><y/>"


def test_text_message_is_parsed(plain: WeChatProtocol, wechat: WeChatCallbacks) -> None:
    openid = new_openid()
    params, body = wechat.signed(wechat.text(openid, "你好", msg_id=42))
    incoming, _ = plain.open_request(params, body)
    assert (incoming.msg_type, incoming.openid, incoming.text) == (
        "text",
        openid,
        "你好",
    )
    assert incoming.dedup_key == f"msg:{openid}:42"  # scoped by the sender


def test_event_dedup_key_is_user_and_create_time(
    plain: WeChatProtocol, wechat: WeChatCallbacks
) -> None:
    openid = new_openid()
    params, body = wechat.signed(
        wechat.event(openid, "subscribe", create_time=1700000000)
    )
    incoming, _ = plain.open_request(params, body)
    assert incoming.event == "subscribe"
    assert incoming.dedup_key == f"evt:{openid}:1700000000:subscribe"


def test_stale_and_future_timestamps_are_refused(
    plain: WeChatProtocol, wechat: WeChatCallbacks
) -> None:
    xml = wechat.text(new_openid(), "hi")
    for offset in (-301, 301):
        params, body = wechat.signed(xml, timestamp=int(time.time()) + offset)
        error = rejected(plain.open_request, params, body)
        assert (error.status, error.reason) == (403, "stale_timestamp")


def test_missing_parameters(plain: WeChatProtocol) -> None:
    error = rejected(plain.open_request, {}, b"<xml/>")
    assert (error.status, error.reason) == (400, "missing_signature")


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">'
        b'<!ENTITY b "&a;&a;&a;">]>'
        b"<xml><Content>&b;</Content></xml>",
        b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml>&xxe;</xml>',
        b'<!doctype xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml/>',
        b"<!  ENTITY x 'y'><xml/>",
    ],
)
def test_dtds_and_entities_are_refused_before_parsing(
    plain: WeChatProtocol, wechat: WeChatCallbacks, body: bytes
) -> None:
    params, _ = wechat.signed("<xml/>")
    error = rejected(plain.open_request, params, body)
    assert (error.status, error.reason) == (400, "forbidden_xml")


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>a</ToUserName>",  # truncated
        b"not xml at all",
        b"<root><MsgType>text</MsgType></root>",  # wrong root
        b"<xml><MsgType>text</MsgType></xml>",  # no users
        b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
        b"<FromUserName>c</FromUserName><MsgType>text</MsgType></xml>",  # duplicated
        b"<xml><ToUserName>a</ToUserName><FromUserName>bad id!</FromUserName>"
        b"<MsgType>text</MsgType></xml>",
        b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>"
        b"<CreateTime>soon</CreateTime><MsgType>text</MsgType></xml>",
        b"\xff\xfe<xml/>",
        b"   ",
    ],
)
def test_malformed_bodies_are_400(
    plain: WeChatProtocol, wechat: WeChatCallbacks, body: bytes
) -> None:
    params, _ = wechat.signed("<xml/>")
    error = rejected(plain.open_request, params, body)
    assert error.status == 400 and error.reason == "malformed_xml"


def test_oversized_body(plain: WeChatProtocol, wechat: WeChatCallbacks) -> None:
    params, _ = wechat.signed("<xml/>")
    error = rejected(plain.open_request, params, b"<xml>" + b"a" * 70_000 + b"</xml>")
    assert (error.status, error.reason) == (413, "payload_too_large")


def test_safe_mode_round_trip(safe: WeChatProtocol, wechat: WeChatCallbacks) -> None:
    openid = new_openid()
    params, body = wechat.signed(wechat.text(openid, "我要交医保"), encrypt=True)
    assert b"\xe6" not in body  # the Chinese text travels encrypted
    incoming, signed = safe.open_request(params, body)
    assert incoming.text == "我要交医保"
    xml = safe.render_reply(incoming, "好的]]><x>", signed)
    fields = wechat.open_reply(xml)
    assert fields["_encrypted"] is True
    assert fields["Content"] == "好的]]><x>"  # CDATA could not be closed early
    assert fields["ToUserName"] == openid


def test_encrypted_message_with_forged_msg_signature(
    safe: WeChatProtocol, wechat: WeChatCallbacks
) -> None:
    params, body = wechat.signed(wechat.text(new_openid(), "hi"), encrypt=True)
    params["msg_signature"] = sign("forged", params["timestamp"], params["nonce"], "x")
    assert rejected(safe.open_request, params, body).reason == "invalid_signature"


def test_encrypted_message_for_another_app(wechat: WeChatCallbacks) -> None:
    other = WeChatProtocol(
        WeChatSettings(token=TOKEN, app_id="wxother", encoding_aes_key=AES_KEY)
    )
    params, body = wechat.signed(wechat.text(new_openid(), "hi"), encrypt=True)
    assert rejected(other.open_request, params, body).reason == "decryption_failed"


def test_encrypted_message_without_a_key(
    plain: WeChatProtocol, wechat: WeChatCallbacks
) -> None:
    params, body = wechat.signed(wechat.text(new_openid(), "hi"), encrypt=True)
    assert (
        rejected(plain.open_request, params, body).reason == "encryption_not_configured"
    )


def test_plain_reply_swaps_users(
    plain: WeChatProtocol, wechat: WeChatCallbacks
) -> None:
    openid = new_openid()
    params, body = wechat.signed(wechat.text(openid, "hi"))
    incoming, signed = plain.open_request(params, body)
    fields = xmltodict.parse(plain.render_reply(incoming, "答复", signed))["xml"]
    assert (fields["ToUserName"], fields["FromUserName"]) == (
        openid,
        WeChatCallbacks.ACCOUNT,
    )
    assert (fields["MsgType"], fields["Content"]) == ("text", "答复")


def test_settings_precedence_and_validation() -> None:
    settings = WeChatSettings.load(
        {"token": "from-credentials", "reply_budget_seconds": 3},
        {"WECHAT_TOKEN": "from-env"},
    )
    assert settings.token == "from-env" and settings.reply_budget_seconds == 3.0
    assert WeChatSettings.load(None, {}).api_base_url == "https://api.weixin.qq.com"
    assert not WeChatSettings.load(None, {}).safe_mode
    with pytest.raises(WeChatConfigError):
        WeChatSettings.load(None, {"WECHAT_ENCODING_AES_KEY": "too-short"})
    with pytest.raises(WeChatConfigError):
        WeChatSettings.load(None, {"WECHAT_REPLY_BUDGET_SECONDS": "6"})
    with pytest.raises(WeChatConfigError):
        WeChatSettings.load({"encodingaeskey": "x"}, {})
