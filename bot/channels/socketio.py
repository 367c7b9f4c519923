"""Rasa's socket.io channel, fixed for python-socketio 5 and hardened.

Rasa 3.6's ``SocketIOInput`` calls ``sio.enter_room(...)`` without ``await``.
In python-socketio >= 5.9 ``AsyncServer.enter_room`` is a coroutine, so with
``session_persistence: true`` the client never joins its session's room and
every bot reply is sent to an empty room: the widget gets no answers (see
RasaHQ/rasa#13027, open; the warning "coroutine 'AsyncServer.enter_room' was
never awaited" in the Rasa log).

This subclass keeps Rasa's channel (same name ``socketio``, same events, same
``/socket.io`` path, same output channel) and replaces its two client event
handlers:

- ``session_request`` awaits ``enter_room`` and honours only a session id this
  server issued (random part + HMAC with ``SHEBAO_SESSION_SECRET``), so a
  client can neither choose an id nor join another channel's conversation;
  anything else gets a fresh id;
- a connection speaks only for the session it joined: the ``session_id`` in a
  message body is ignored, the server remembers which session a socket joined;
- Rasa sender ids are ``web:<session id>``, a namespace of their own;
- the user-message event ignores malformed payloads instead of raising, caps
  the message length, drops control characters and keeps only allowed
  metadata (:mod:`bot.channels.metadata`);
- the allowed browser origins (``SHEBAO_CORS_ORIGINS``) are enforced on the
  socket.io handshake too (Rasa's channel accepts any origin);
- a message over the rate limit of its session or client address
  (:mod:`bot.channels.rate_limit`) gets a polite "slow down" message in the
  resident's language and no Rasa turn.

Use it in credentials.yml instead of ``socketio:``::

    bot.channels.socketio.SocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import re
import secrets
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput
from sanic import Blueprint

from bot.channels.metadata import channel_metadata, client_fingerprint
from bot.channels.rate_limit import MessageRateLimiter, rate_limited_notice
from bot.channels.settings import ChannelSettings
from common.language import detect_language
from common.text import clean_user_text
from common.tokens import as_bytes

logger = logging.getLogger(__name__)

SENDER_PREFIX = "web:"
_RANDOM_HEX = 24  # 96 bits
_TIME_HEX = 8  # issue time, seconds since the epoch
_MAC_HEX = 32
SESSION_ID = re.compile(r"[0-9a-f]{%d}" % (_RANDOM_HEX + _TIME_HEX + _MAC_HEX))


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(as_bytes(secret), body.encode("ascii"), hashlib.sha256)
    return digest.hexdigest()[:_MAC_HEX]


def issue_session_id(secret: str, now: Optional[float] = None) -> str:
    """A new session id: random bits, the issue time, and their HMAC (hex)."""
    issued = int(time.time() if now is None else now)
    body = secrets.token_hex(_RANDOM_HEX // 2) + f"{issued:0{_TIME_HEX}x}"
    return body + _mac(secret, body)


def valid_session_id(
    value: Any, secret: str, max_age: float, now: Optional[float] = None
) -> Optional[str]:
    """``value`` if this server issued it less than ``max_age`` seconds ago, else ``None``."""
    if not isinstance(value, str) or SESSION_ID.fullmatch(value) is None:
        return None
    body, mac = value[:-_MAC_HEX], value[-_MAC_HEX:]
    if not hmac.compare_digest(mac, _mac(secret, body)):
        return None
    issued = int(body[_RANDOM_HEX:], 16)
    current = time.time() if now is None else now
    if not 0 <= current - issued <= max_age:
        return None
    return value


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io input channel with server-issued sessions actually joined."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = ChannelSettings.from_env()
        self.settings.check_for_production()
        self.rate_limiter = MessageRateLimiter.from_env()
        # socket.io connection id -> the Rasa sender id it speaks for
        self._senders: Dict[str, str] = {}

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """Rasa's Socket.IO routes with the handshake Origin checked against the
        allow-list."""
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by super().blueprint()
        # Rasa creates the server with CORS handling off, which accepts every
        # origin; check the handshake's Origin against the configured list.
        origins = list(self.settings.cors_origins)
        sio.eio.cors_allowed_origins = "*" if origins == ["*"] else origins
        secret = self.settings.session_secret

        async def session_request(sid: Text, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = valid_session_id(
                requested, secret, self.settings.session_max_age
            ) or issue_session_id(secret)
            sender_id = SENDER_PREFIX + session_id
            self._senders[sid] = sender_id
            if self.session_persistence:
                joined = sio.enter_room(sid, sender_id, namespace=self.namespace)
                if inspect.isawaitable(joined):  # python-socketio >= 5.9
                    await joined
            await sio.emit(
                "session_confirm", session_id, room=sid, namespace=self.namespace
            )

        async def disconnect(sid: Text) -> None:
            self._senders.pop(sid, None)

        async def handle_message(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message"), str):
                logger.debug("Ignored a malformed socket.io message from %s", sid)
                return
            sender_id = self._senders.get(sid)
            if sender_id is None:
                logger.debug("Ignored a message before session_request from %s", sid)
                return
            if not self.session_persistence:
                sender_id = sid
            environ = sio.get_environ(sid, namespace=self.namespace) or {}
            client = client_fingerprint(_client_address(environ), secret)
            metadata = channel_metadata(data.get(self.metadata_key), client=client)
            text = clean_user_text(data["message"])
            verdict = await self.rate_limiter.allow(self.name(), sender_id, client)
            if not verdict.allowed:
                language = metadata.get("language") or detect_language(text)
                await SocketIOOutput(sio, self.bot_message_evt).send_text_message(
                    sid, rate_limited_notice(language)
                )
                return
            message = UserMessage(
                text,
                SocketIOOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata=metadata,
            )
            await on_new_message(message)

        # Registering a handler again for the same event replaces Rasa's.
        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on("disconnect", disconnect, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return blueprint


def _client_address(environ: Dict[str, Any]) -> str:
    """The peer address of the socket.io connection as the server saw it."""
    request = environ.get("sanic.request")
    if request is not None:
        return str(getattr(request, "remote_addr", "") or getattr(request, "ip", ""))
    return str(environ.get("REMOTE_ADDR", ""))
