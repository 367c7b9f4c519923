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

- ``session_request`` awaits ``enter_room`` and accepts only a well-formed
  session id (the id is the conversation's bearer secret; anything else gets a
  fresh random one);
- the user-message event ignores malformed payloads instead of raising, caps
  the message length and drops control characters.

Use it in credentials.yml instead of ``socketio:``::

    bot.channels.socketio.SocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput
from sanic import Blueprint

from common.text import clean_user_text

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def valid_session_id(value: Any) -> Optional[str]:
    """``value`` if it is a usable session id, else ``None``."""
    if isinstance(value, str) and SESSION_ID.match(value):
        return value
    return None


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io input channel with the session room actually joined."""

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by super().blueprint()

        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = valid_session_id(requested) or uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):  # python-socketio >= 5.9
                    await joined
            await sio.emit(
                "session_confirm", session_id, room=sid, namespace=self.namespace
            )
            logger.debug("socket.io client %s joined session %s", sid, session_id)

        async def handle_message(sid: Text, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message"), str):
                logger.debug("Ignored a malformed socket.io message from %s", sid)
                return
            if self.session_persistence:
                sender_id = valid_session_id(data.get("session_id"))
                if sender_id is None:
                    logger.debug("Ignored a message without a session id from %s", sid)
                    return
            else:
                sender_id = sid
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            if not isinstance(metadata, dict):
                metadata = {}
            text = clean_user_text(data["message"])
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
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return blueprint
