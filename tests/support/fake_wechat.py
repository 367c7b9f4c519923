"""Both sides of WeChat for tests, on this machine only.

* :class:`FakeWeChatApi` stands in for ``api.weixin.qq.com``: a small aiohttp
  server on a loopback port (in its own thread, so sync and async tests can
  share it) that issues access tokens from ``/cgi-bin/token`` and records what
  arrives at ``/cgi-bin/message/custom/send``.
* :class:`WeChatCallbacks` plays the WeChat platform calling our webhook: it
  builds message XML, signs it (and encrypts it in safe mode) with wechatpy,
  exactly as the platform does, and decrypts passive replies.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

TOKEN_ERROR = {
    "errcode": 40001,
    "errmsg": "invalid credential, access_token is invalid",
}


class FakeWeChatApi:
    """The WeChat API as far as the channel uses it, on 127.0.0.1."""

    def __init__(self, app_id: str, app_secret: str, expires_in: int = 7200) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.expires_in = expires_in
        self.token_requests: List[Dict[str, str]] = []
        self.messages: List[Dict[str, Any]] = []
        self.issued_tokens: List[str] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- lifecycle ------------------------------------------------------------
    def start(self) -> "FakeWeChatApi":
        ready = threading.Event()
        failure: List[BaseException] = []

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._serve())
            except BaseException as exc:  # pragma: no cover - surfaced below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-wechat-api", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"fake WeChat API did not start: {failure}")
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)  # type: ignore[union-attr]
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # ---- handlers -------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        with self._lock:
            self.token_requests.append(query)
            if (
                query.get("grant_type") != "client_credential"
                or query.get("appid") != self.app_id
                or query.get("secret") != self.app_secret
            ):
                return web.json_response(
                    {"errcode": 40125, "errmsg": "invalid appsecret"}
                )
            token = f"fake-token-{next(self._counter)}-{secrets.token_hex(4)}"
            self.issued_tokens.append(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    async def _send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        raw = await request.read()
        with self._lock:
            if token not in self.issued_tokens:
                return web.json_response(TOKEN_ERROR)
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                return web.json_response(
                    {"errcode": 47001, "errmsg": "data format error"}
                )
            self.messages.append({**body, "access_token": token, "raw": raw})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    # ---- assertions -----------------------------------------------------------
    def messages_to(self, openid: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m.get("touser") == openid]

    def wait_for_messages(
        self, openid: str, count: int = 1, timeout: float = 30.0
    ) -> List[Dict[str, Any]]:
        """The customer-service messages sent to ``openid`` once ``count`` arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages_to(openid)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"expected {count} customer-service message(s) to {openid}, "
            f"got {len(self.messages_to(openid))}"
        )


@dataclass
class Reply:
    """What our webhook answered one callback with."""

    status: int
    body: str
    fields: Dict[str, Any] = field(default_factory=dict)  # parsed (decrypted) reply XML

    @property
    def content(self) -> str:
        return str(self.fields.get("Content") or "")

    @property
    def is_success(self) -> bool:
        return self.status == 200 and self.body == "success"

    @property
    def reason(self) -> str:
        try:
            return str(json.loads(self.body).get("reason"))
        except ValueError:
            return ""


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def new_openid() -> str:
    """An OpenID shaped like WeChat's (28 characters, URL-safe)."""
    return "o" + secrets.token_urlsafe(21)[:27]


class WeChatCallbacks:
    """Sends callbacks to the channel the way the WeChat platform does."""

    ACCOUNT = "gh_shebao_test"

    def __init__(
        self,
        webhook_url: str,
        token: str,
        app_id: str,
        aes_key: Optional[str] = None,
    ) -> None:
        self.url = webhook_url
        self.token = token
        self.app_id = app_id
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None
        self._msg_ids = itertools.count(int(time.time() * 1000) * 1000)

    # ---- message XML ----------------------------------------------------------
    def next_msg_id(self) -> int:
        return next(self._msg_ids)

    def _xml(
        self,
        openid: str,
        msg_type: str,
        body: str,
        msg_id: Optional[int],
        create_time: Optional[int] = None,
    ) -> str:
        created = create_time or int(time.time())
        msg_id_xml = f"<MsgId>{msg_id}</MsgId>" if msg_id is not None else ""
        return (
            f"<xml><ToUserName><![CDATA[{self.ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}{msg_id_xml}</xml>"
        )

    def text(self, openid: str, content: str, msg_id: Optional[int] = None) -> str:
        return self._xml(
            openid,
            "text",
            f"<Content><![CDATA[{content}]]></Content>",
            msg_id if msg_id is not None else self.next_msg_id(),
        )

    def voice(self, openid: str, recognition: Optional[str]) -> str:
        body = "<MediaId><![CDATA[media-1]]></MediaId><Format><![CDATA[amr]]></Format>"
        if recognition is not None:
            body += f"<Recognition><![CDATA[{recognition}]]></Recognition>"
        return self._xml(openid, "voice", body, self.next_msg_id())

    def image(self, openid: str) -> str:
        body = (
            "<PicUrl><![CDATA[http://127.0.0.1/pic.jpg]]></PicUrl>"
            "<MediaId><![CDATA[media-2]]></MediaId>"
        )
        return self._xml(openid, "image", body, self.next_msg_id())

    def location(self, openid: str) -> str:
        body = (
            "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y>"
            "<Scale>20</Scale><Label><![CDATA[somewhere]]></Label>"
        )
        return self._xml(openid, "location", body, self.next_msg_id())

    def event(self, openid: str, event: str, create_time: Optional[int] = None) -> str:
        body = f"<Event><![CDATA[{event}]]></Event>"
        return self._xml(openid, "event", body, None, create_time)

    def menu(
        self, openid: str, event: str, key: str, create_time: Optional[int] = None
    ) -> str:
        """A custom-menu event: ``CLICK`` (key) or ``VIEW`` (the URL as key).

        Events are deduplicated by sender and CreateTime, so each call gets a
        CreateTime of its own unless one is given.
        """
        body = (
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
        )
        created = create_time or int(time.time()) + self.next_msg_id() % 1000
        return self._xml(openid, "event", body, None, created)

    # ---- signing and sending --------------------------------------------------
    def signed(
        self,
        xml: str,
        encrypt: bool = False,
        timestamp: Optional[int] = None,
        nonce: Optional[str] = None,
    ) -> Tuple[Dict[str, str], bytes]:
        """Query parameters and body for one callback, as WeChat would send them."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or secrets.token_hex(5)
        params = {
            "signature": sign(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": "ignored-by-channel",
        }
        if not encrypt:
            return params, xml.encode("utf-8")
        assert self.crypto is not None, "no AES key configured for these callbacks"
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
        encrypted = envelope["Encrypt"]
        params.update(
            encrypt_type="aes", msg_signature=sign(self.token, ts, nonce, encrypted)
        )
        body = (
            f"<xml><ToUserName><![CDATA[{self.ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return params, body.encode("utf-8")

    async def post(
        self,
        session: aiohttp.ClientSession,
        xml: Optional[str] = None,
        *,
        params: Optional[Dict[str, str]] = None,
        body: Optional[bytes] = None,
        encrypt: bool = False,
        timeout: float = 30.0,
    ) -> Reply:
        """Sign (unless ``params``/``body`` are given) and POST; parse the answer."""
        if params is None or body is None:
            assert xml is not None
            params, body = self.signed(xml, encrypt=encrypt)
        async with session.post(
            self.url,
            params=params,
            data=body,
            headers={"Content-Type": "text/xml"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            text = (await resp.read()).decode("utf-8")
            reply = Reply(resp.status, text)
        if resp.status == 200 and text.startswith("<xml>"):
            reply.fields = self.open_reply(text)
        return reply

    def open_reply(self, text: str) -> Dict[str, Any]:
        """The reply's fields; an encrypted reply is verified and decrypted first."""
        fields = xmltodict.parse(text)["xml"]
        if "Encrypt" not in fields:
            return dict(fields)
        assert self.crypto is not None
        expected = sign(
            self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]
        )
        assert fields["MsgSignature"] == expected, "reply signature is wrong"
        plain = self.crypto.decrypt_message(
            text, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
        )
        return {**xmltodict.parse(plain)["xml"], "_encrypted": True}
