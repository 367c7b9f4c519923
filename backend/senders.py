"""Where one-time codes go: an SMS gateway in production, an outbox in development.

``CodeSender`` is the seam: production deployments plug in their SMS gateway
client; the default production sender only logs that a code went to a masked
phone (never the code, the phone or the ID number).  In development mode the
``DevOutbox`` keeps the codes in memory so ``GET /api/v1/dev/outbox`` (and
tests, and a person trying the bot) can read them; that is the only place a
code exists in plaintext.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Deque, List, Protocol

from common.identity import mask_phone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodeMessage:
    """One code to deliver to one phone."""

    id_number: str
    phone: str
    code: str
    sent_at: datetime
    expires_at: datetime


class CodeSender(Protocol):
    """Delivers one-time codes.

    ``send`` runs as a background task after ``/verification/start`` has
    answered (so neither a slow gateway nor the existence of the ID shows in
    the response time); it must not log the code, the phone number or the ID
    number.  Exceptions are logged by type only; the client has already got
    the usual answer (so failures leak nothing).
    """

    async def send(self, message: CodeMessage) -> None:
        """Deliver one code; runs in the background and must never log the code or
        phone."""


class LoggingCodeSender:
    """The production default until a gateway is plugged in: logs the masked phone."""

    async def send(self, message: CodeMessage) -> None:
        """Log that a code went out, with the phone masked, when no gateway is
        configured."""
        logger.info("one-time code issued for %s", mask_phone(message.phone))


class DevOutbox:
    """Development only: the last codes "sent", readable over HTTP."""

    def __init__(self, capacity: int = 200, delay: float = 0.0) -> None:
        self._messages: Deque[CodeMessage] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        # Seconds each "send" takes: tests use it to play a slow SMS gateway.
        self.delay = delay

    async def send(self, message: CodeMessage) -> None:
        """Keep the code for ``/dev/outbox``, after the simulated delivery delay."""
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        with self._lock:
            self._messages.append(message)

    def messages_for(self, id_number: str) -> List[CodeMessage]:
        """Messages for one ID number, oldest first."""
        with self._lock:
            return [m for m in self._messages if m.id_number == id_number]
