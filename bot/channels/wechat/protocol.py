"""The WeChat callback protocol: verify, decrypt and parse requests; build replies.

Nothing here talks to Rasa or the network.  Signatures, AES and the message
model come from wechatpy; this module adds what a public endpoint needs on
top: a timestamp window, a replay guard (the plain-mode signature covers only
token, timestamp and nonce, so a seen callback URL must not carry another
body), a refusal of DTDs and entity
declarations before any XML parser sees the body (wechatpy parses with
xmltodict, which forbids entity declarations but still accepts a DOCTYPE),
strict field checks, and constant-time signature comparison.  Every refusal is
a :class:`RequestRejected` carrying an HTTP status and a stable ``reason``.

It is also the one home of the signing and CDATA helpers (:func:`sign`,
:func:`cdata`) that ``tools/wechat_send.py`` uses too.  The only private
wechatpy API it relies on is ``message._data`` (guarded by
``tests/channels/wechat/test_upstream_api.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.parser import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from bot.channels.wechat.config import WeChatSettings
from bot.channels.wechat.constants import REPLAY_NAMESPACE
from common.storage import MemoryStorage, Storage, StorageUnavailable

logger = logging.getLogger(__name__)

# Byte patterns that no genuine WeChat message contains.  Refusing them before
# parsing closes XXE, entity expansion ("billion laughs") and DTD tricks at once.
_FORBIDDEN_MARKUP = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DIGITS = re.compile(r"^[0-9]{1,12}$")


class RequestRejected(Exception):
    """A request the channel refuses; ``status`` and ``reason`` go to the client."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Incoming:
    """One message or event from a WeChat user, reduced to what the channel uses."""

    msg_type: str  # text, voice, image, location, link, video, event, ...
    event: str  # subscribe, unsubscribe, click, ... ("" for messages)
    openid: str  # FromUserName: the user (Rasa sender id ``wechat:<openid>``)
    account: str  # ToUserName: the official account's original id
    msg_id: str  # MsgId ("" for events)
    create_time: int
    text: str  # Content of a text message, Recognition of a voice message
    event_key: str = ""  # EventKey of a menu CLICK/VIEW event ("" otherwise)

    @property
    def dedup_key(self) -> str:
        """WeChat's advice: MsgId for messages, FromUserName+CreateTime for events.

        Always scoped by the sender: a MsgId sent by another user (or forged)
        must never find someone else's job and reply.
        """
        if self.msg_id and self.msg_id != "0":
            return f"msg:{self.openid}:{self.msg_id}"
        return f"evt:{self.openid}:{self.create_time}:{self.event or self.msg_type}"


@dataclass(frozen=True)
class SignedParams:
    """The query parameters WeChat signs every callback with."""

    signature: str
    timestamp: str
    nonce: str
    msg_signature: str = ""
    encrypt_type: str = ""


def sign(*parts: str) -> str:
    """WeChat's callback signature: SHA-1 of the sorted, concatenated parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def cdata_safe(text: str) -> str:
    """Text that cannot close the CDATA section it is wrapped in."""
    return text.replace("]]>", "]]]]><![CDATA[>")


def cdata(text: str) -> str:
    """``text`` as one XML CDATA section (safe for any text)."""
    return "<![CDATA[" + cdata_safe(text) + "]]>"


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


class WeChatProtocol:
    """Verifies and opens callbacks for one official account."""

    def __init__(
        self, settings: WeChatSettings, storage: Optional[Storage] = None
    ) -> None:
        self.settings = settings
        self.storage: Storage = storage if storage is not None else MemoryStorage()
        # Guards replays in this process while a shared storage is out of reach.
        self._fallback = MemoryStorage()
        self._crypto: Optional[WeChatCrypto] = None
        if settings.safe_mode:
            self._crypto = WeChatCrypto(
                settings.token, settings.encoding_aes_key, settings.app_id
            )

    # ---- signatures -----------------------------------------------------------
    def signed_params(
        self, args: Mapping[str, Any], now: Optional[float] = None
    ) -> SignedParams:
        """Checks signature, timestamp and nonce; raises :class:`RequestRejected`."""
        get = lambda name: str(args.get(name) or "")  # noqa: E731
        params = SignedParams(
            signature=get("signature"),
            timestamp=get("timestamp"),
            nonce=get("nonce"),
            msg_signature=get("msg_signature"),
            encrypt_type=get("encrypt_type").lower(),
        )
        if not (params.signature or params.msg_signature) or not params.timestamp:
            raise RequestRejected(
                400, "missing_signature", "signature, timestamp and nonce are required"
            )
        if not params.nonce or len(params.nonce) > 64:
            raise RequestRejected(
                400, "missing_signature", "nonce is missing or too long"
            )
        if not _DIGITS.match(params.timestamp):
            raise RequestRejected(400, "invalid_timestamp", "timestamp must be digits")
        if params.signature and not _same(
            sign(self.settings.token, params.timestamp, params.nonce), params.signature
        ):
            raise RequestRejected(403, "invalid_signature", "signature does not match")
        now = time.time() if now is None else now
        if abs(now - int(params.timestamp)) > self.settings.timestamp_tolerance:
            raise RequestRejected(
                403, "stale_timestamp", "timestamp is outside the accepted window"
            )
        return params

    def verify_url(self, args: Mapping[str, Any], now: Optional[float] = None) -> str:
        """The body to answer WeChat's GET URL check with (the echostr).

        The official account check signs token+timestamp+nonce and expects the
        echostr back, in plain and safe mode alike (an encrypted echostr is
        WeCom's variant, which this channel does not serve).
        """
        params = self.signed_params(args, now)
        if not params.signature:
            raise RequestRejected(400, "missing_signature", "signature is required")
        echostr = str(args.get("echostr") or "")
        if not echostr or len(echostr) > 1024:
            raise RequestRejected(400, "missing_echostr", "echostr is required")
        return echostr

    # ---- bodies ---------------------------------------------------------------
    def open_request(
        self, args: Mapping[str, Any], body: bytes, now: Optional[float] = None
    ) -> Tuple[Incoming, SignedParams]:
        """Verifies a POST callback and returns its message (decrypted if needed)."""
        params = self.signed_params(args, now)
        if not params.signature:
            # Official accounts sign every callback, encrypted ones included.
            raise RequestRejected(400, "missing_signature", "signature is required")
        if len(body) > self.settings.max_body_bytes:
            raise RequestRejected(413, "payload_too_large", "request body is too large")
        self._refuse_replay(params, body)
        xml_text = _screen(body)
        if params.encrypt_type == "aes":
            xml_text = self._decrypt(xml_text, params)
        elif params.encrypt_type not in ("", "raw"):
            raise RequestRejected(400, "unsupported_encryption", "unknown encrypt_type")
        return _parse(xml_text), params

    def _refuse_replay(self, params: SignedParams, body: bytes) -> None:
        """Refuse a signed URL (timestamp + nonce) seen before with another body.

        A WeChat retry of the same message repeats the body and passes (the
        deduplicator then shares the first processing).  Entries live as long
        as the timestamp window can accept the URL.  The first sight of a URL
        is an atomic ``add``, so replicas sharing a storage guard together;
        with the storage out of reach, this process's memory guards alone.
        """
        key = f"{REPLAY_NAMESPACE}{params.timestamp}:{params.nonce}"
        digest = hashlib.sha256(body).hexdigest()
        ttl = 2 * self.settings.timestamp_tolerance + 1
        try:
            seen = None if self.storage.add(key, digest, ttl) else self.storage.get(key)
        except StorageUnavailable:
            logger.warning("wechat.replay_guard.storage_unavailable: guarding locally")
            fallback = self._fallback
            seen = None if fallback.add(key, digest, ttl) else fallback.get(key)
        if seen is not None and not _same(str(seen), digest):
            raise RequestRejected(
                403,
                "replayed_request",
                "this signed URL was already used with another body",
            )

    def _decrypt(self, xml_text: str, params: SignedParams) -> str:
        if self._crypto is None:
            raise RequestRejected(
                400, "encryption_not_configured", "no EncodingAESKey is configured"
            )
        if not params.msg_signature:
            raise RequestRejected(400, "missing_signature", "msg_signature is required")
        try:
            envelope = xmltodict.parse(xml_text, disable_entities=True)["xml"]
            encrypt = envelope["Encrypt"]
            if not isinstance(encrypt, str) or not encrypt:
                raise ValueError("no Encrypt element")
        except Exception as exc:
            raise RequestRejected(
                400, "malformed_xml", "encrypted envelope is malformed"
            ) from exc
        if not _same(
            sign(self.settings.token, params.timestamp, params.nonce, encrypt),
            params.msg_signature,
        ):
            raise RequestRejected(
                403, "invalid_signature", "msg_signature does not match"
            )
        try:
            plain = self._crypto.decrypt_message(
                {"Encrypt": encrypt},
                params.msg_signature,
                params.timestamp,
                params.nonce,
            )
        except InvalidSignatureException as exc:  # pragma: no cover - checked above
            raise RequestRejected(
                403, "invalid_signature", "msg_signature does not match"
            ) from exc
        except InvalidAppIdException as exc:
            raise RequestRejected(
                400, "decryption_failed", "message is for another app"
            ) from exc
        except Exception as exc:
            raise RequestRejected(
                400, "decryption_failed", "message cannot be decrypted"
            ) from exc
        return _screen(str(plain).encode("utf-8"))

    # ---- replies --------------------------------------------------------------
    def render_reply(
        self,
        incoming: Incoming,
        text: str,
        params: SignedParams,
        now: Optional[float] = None,
    ) -> str:
        """A passive text reply, encrypted when the request was."""
        timestamp = int(time.time() if now is None else now)
        reply = TextReply(
            source=incoming.account,
            target=incoming.openid,
            content=cdata_safe(text),
            time=timestamp,
        ).render()
        if params.encrypt_type == "aes" and self._crypto is not None:
            return str(
                self._crypto.encrypt_message(reply, params.nonce, str(timestamp))
            )
        return str(reply)


def _screen(body: bytes) -> str:
    """UTF-8 text of a body without DTDs or entity declarations."""
    if _FORBIDDEN_MARKUP.search(body):
        raise RequestRejected(
            400, "forbidden_xml", "DTDs and entity declarations are not accepted"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestRejected(400, "malformed_xml", "body is not UTF-8") from exc
    if not text.strip():
        raise RequestRejected(400, "malformed_xml", "body is empty")
    return text


def _parse(xml_text: str) -> Incoming:
    """Parse with wechatpy and copy the fields out, turning any failure into a 400."""
    try:
        message = parse_message(xml_text)
    except Exception as exc:  # expat errors, wrong root element
        raise RequestRejected(400, "malformed_xml", "message XML is malformed") from exc
    raw = _fields_of(message)  # an upstream change fails loudly, not as a 400
    try:
        msg_type = _field(raw, "MsgType").lower()
        event = _field(raw, "Event").lower() if msg_type == "event" else ""
        openid = _field(raw, "FromUserName")
        account = _field(raw, "ToUserName")
        create_time = int(_field(raw, "CreateTime") or 0)
        msg_id = str(int(_field(raw, "MsgId"))) if raw.get("MsgId") else ""
        text = ""
        event_key = _field(raw, "EventKey") if event in ("click", "view") else ""
        if msg_type == "text":
            text = _field(raw, "Content")
        elif msg_type == "voice":
            text = _field(raw, "Recognition")
    except Exception as exc:  # expat errors, missing/duplicated elements, bad ints
        raise RequestRejected(400, "malformed_xml", "message XML is malformed") from exc
    if not msg_type or not _OPENID.match(openid) or not account or len(account) > 64:
        raise RequestRejected(400, "malformed_xml", "required elements are missing")
    return Incoming(
        msg_type=msg_type,
        event=event,
        openid=openid,
        account=account,
        msg_id=msg_id,
        create_time=create_time,
        text=text,
        event_key=event_key,
    )


def _fields_of(message: Any) -> Dict[str, Any]:
    """All elements of a parsed message: wechatpy keeps them in ``_data``.

    Private upstream API (wechatpy 1.8): the message classes expose only the
    fields they know, and we also need to tell absent from duplicated ones.
    """
    raw = getattr(message, "_data", None)
    if not isinstance(raw, dict):
        raise RuntimeError(
            "wechatpy's parsed message has no _data dict any more; see "
            "tests/channels/wechat/test_upstream_api.py"
        )
    return raw


def _field(raw: Mapping[str, Any], name: str) -> str:
    """A leaf element's text ("" when absent); nested or repeated elements fail."""
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a text element")
    return value
