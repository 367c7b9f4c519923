"""The private (underscore) wechatpy behaviour the channel relies on, pinned.

The channel is built against wechatpy 1.8.18.  If one of these tests fails
after a wechatpy upgrade, the upgrade changed something the channel uses
without a public promise: adapt ``bot/channels/wechat/protocol.py`` (named in
each message) before taking the upgrade.
"""

from __future__ import annotations

import ast
from pathlib import Path

import wechatpy
from wechatpy.crypto import WeChatCrypto
from wechatpy.parser import parse_message

from tests.support.fake_wechat import WeChatCallbacks, sign

PACKAGE = Path(__file__).resolve().parents[3] / "bot" / "channels" / "wechat"
UPGRADE = f"wechatpy upgrade (installed {wechatpy.__version__}, built for 1.8.18)"
# Private upstream names the channel may use, each guarded by a test below.
ALLOWED_PRIVATE = {"_data"}


def test_parsed_messages_keep_every_element_in_data() -> None:
    message = parse_message(
        "<xml><ToUserName>gh</ToUserName><FromUserName>oA</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
        "<MsgId>7</MsgId><FromUserName>oB</FromUserName></xml>"
    )
    raw = getattr(message, "_data", None)
    assert isinstance(raw, dict), (
        f"{UPGRADE}: parsed messages no longer keep their elements in ._data; "
        "protocol._fields_of must read them another way"
    )
    assert raw.get("Content") == "你好" and raw.get("MsgId") == "7", (
        f"{UPGRADE}: ._data no longer holds the elements as text"
    )
    assert raw.get("FromUserName") == ["oA", "oB"], (
        f"{UPGRADE}: ._data no longer shows a repeated element as a list, so "
        "protocol._field cannot refuse duplicated FromUserName any more"
    )


def test_decrypt_message_accepts_the_envelope_as_a_dict() -> None:
    token, app_id = "t", "wx0000000000000000"
    key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    callbacks = WeChatCallbacks("http://unused", token, app_id, key)
    params, body = callbacks.signed(callbacks.text("oA", "hi"), encrypt=True)
    import xmltodict

    encrypt = xmltodict.parse(body)["xml"]["Encrypt"]
    assert params["msg_signature"] == sign(
        token, params["timestamp"], params["nonce"], encrypt
    )
    plain = WeChatCrypto(token, key, app_id).decrypt_message(
        {"Encrypt": encrypt},
        params["msg_signature"],
        params["timestamp"],
        params["nonce"],
    )
    assert "<Content><![CDATA[hi]]></Content>" in plain, (
        f"{UPGRADE}: WeChatCrypto.decrypt_message no longer accepts the already "
        "screened envelope as a dict (protocol.WeChatProtocol._decrypt)"
    )


def test_the_channel_uses_no_other_private_upstream_api() -> None:
    """A new underscore attribute on a wechatpy object needs a guard here first."""
    used = set()
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                if not node.attr.startswith("__") and not (
                    isinstance(node.value, ast.Name)
                    and node.value.id in {"self", "cls"}
                ):
                    used.add(node.attr)
            if isinstance(node, ast.Constant) and node.value in ALLOWED_PRIVATE:
                used.add(node.value)
    assert used <= ALLOWED_PRIVATE, sorted(used - ALLOWED_PRIVATE)
    assert "_check_signature" not in used
