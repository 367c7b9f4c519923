"""Send a signed WeChat callback to a running assistant and print the reply.

    python -m tools.wechat_send "你好"
    python -m tools.wechat_send --encrypt "我想自己交医保"
    python -m tools.wechat_send --subscribe
    python -m tools.wechat_send --openid oMyTestUser "1"
    python -m tools.wechat_send --url http://HOST:5005/webhooks/wechat/webhook hi

It signs (and with ``--encrypt`` encrypts) the message with the same settings
as the server (``WECHAT_TOKEN``, ``WECHAT_APP_ID``, ``WECHAT_ENCODING_AES_KEY``
or their development defaults), like the WeChat platform would.  Use the same
``--openid`` across calls to continue one conversation.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, List, Optional, Tuple

import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.channels.wechat.config import WeChatSettings
from bot.channels.wechat.protocol import cdata as _cdata
from bot.channels.wechat.protocol import sign as _sign

DEFAULT_OPENID = "o-shebao-local-dev"
ACCOUNT = "gh_shebao_local"


def default_url() -> str:
    """The local WeChat webhook, or the one ``SHEBAO_RASA_URL`` points at."""
    base = os.environ.get("SHEBAO_RASA_URL") or "http://127.0.0.1:5005"
    return base.rstrip("/") + "/webhooks/wechat/webhook"


def message_xml(openid: str, text: Optional[str], subscribe: bool = False) -> str:
    """A text message (or subscribe event) as the WeChat platform posts it."""
    now = int(time.time())
    head = (
        f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName>"
        f"<FromUserName>{_cdata(openid)}</FromUserName><CreateTime>{now}</CreateTime>"
    )
    if subscribe:
        return (
            head
            + "<MsgType>"
            + _cdata("event")
            + "</MsgType><Event>"
            + _cdata("subscribe")
            + "</Event></xml>"
        )
    msg_id = now * 1000 + secrets.randbelow(1000)
    return (
        head + "<MsgType>" + _cdata("text") + "</MsgType>"
        f"<Content>{_cdata(text or '')}</Content><MsgId>{msg_id}</MsgId></xml>"
    )


def signed_request(
    settings: WeChatSettings, xml: str, encrypt: bool
) -> Tuple[Dict[str, str], bytes, Optional[WeChatCrypto]]:
    """Query parameters, body and (for ``encrypt``) the crypto to open the reply."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
    params = {
        "signature": _sign(settings.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    if not encrypt:
        return params, xml.encode("utf-8"), None
    if not settings.safe_mode:
        raise SystemExit("--encrypt needs WECHAT_ENCODING_AES_KEY (the server's key)")
    crypto = WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
    encrypted = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"][
        "Encrypt"
    ]
    params.update(
        encrypt_type="aes",
        msg_signature=_sign(settings.token, timestamp, nonce, encrypted),
    )
    body = (
        f"<xml><ToUserName>{_cdata(ACCOUNT)}</ToUserName>"
        f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
    )
    return params, body.encode("utf-8"), crypto


def reply_text(body: str, crypto: Optional[WeChatCrypto]) -> str:
    """The Content of a passive reply, decrypted and checked if encrypted."""
    fields = xmltodict.parse(body)["xml"]
    if "Encrypt" in fields:
        if crypto is None:
            raise ValueError("encrypted reply but no AES key")
        plain = crypto.decrypt_message(
            body, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
        )
        fields = xmltodict.parse(plain)["xml"]
    return str(fields.get("Content") or "")


def send(
    url: str, params: Dict[str, str], body: bytes, timeout: float = 10.0
) -> Tuple[int, str]:
    """POST a body to the webhook; returns the status and the reply text."""
    request = urllib.request.Request(
        f"{url}?{urllib.parse.urlencode(params)}",
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "text", nargs="?", help="the message text (omit with --subscribe)"
    )
    parser.add_argument(
        "--url", default=default_url(), help="the channel's webhook URL"
    )
    parser.add_argument("--openid", default=DEFAULT_OPENID, help="the user's OpenID")
    parser.add_argument("--encrypt", action="store_true", help="safe mode (AES)")
    parser.add_argument(
        "--subscribe", action="store_true", help="send a subscribe event"
    )
    args = parser.parse_args(argv)
    if not args.subscribe and not args.text:
        parser.error("give a message text or --subscribe")

    settings = WeChatSettings.load()
    xml = message_xml(args.openid, args.text, subscribe=args.subscribe)
    params, body, crypto = signed_request(settings, xml, args.encrypt)
    try:
        status, answer = send(args.url, params, body)
    except OSError as exc:
        print(f"cannot reach {args.url}: {exc}", file=sys.stderr)
        return 2
    if status != 200:
        print(f"HTTP {status}: {answer}", file=sys.stderr)
        return 1
    if answer in ("success", ""):
        print(
            "(success: no passive reply; the answer goes out through the "
            "customer-service API)"
        )
        return 0
    print(reply_text(answer, crypto))
    return 0


if __name__ == "__main__":
    sys.exit(main())
