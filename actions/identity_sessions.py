"""Verification state of each conversation, kept in the action server's memory.

The resident's ID number (needed between the "ID" turn and the "code" turn)
and the backend's access token never go into a slot: slots are written to the
tracker store.  They live here, per sender id, for as long as they are valid.
One action-server process serves a conversation; with several processes this
store would move to Redis (see README).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

PENDING_TTL_SECONDS = 5 * 60  # the backend's code lifetime
# Reuse a verification for follow-up questions this long; the backend's token
# lives 15 minutes, and a token it rejects earlier simply means "verify again".
VERIFIED_TTL_SECONDS = 10 * 60
MAX_WRONG_CODES = 3  # the assistant stops asking after this many


@dataclass
class IdentitySession:
    """What one conversation has proved so far."""

    id_number: Optional[str] = None
    pending_until: float = 0.0
    token: Optional[str] = None
    token_until: float = 0.0
    wrong_codes: int = 0
    failure: Optional[str] = None  # why the current inquiry had to stop


class IdentitySessions:
    """Per-conversation verification state with expiry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sessions: Dict[str, IdentitySession] = {}

    def _get(self, sender_id: str) -> IdentitySession:
        self._expire()
        return self._sessions.setdefault(sender_id, IdentitySession())

    def _expire(self) -> None:
        now = self._clock()
        for sender_id, session in list(self._sessions.items()):
            if session.pending_until < now:
                session.id_number = None
            if session.token_until < now:
                session.token = None
            if session.id_number is None and session.token is None and not session.failure:
                del self._sessions[sender_id]

    def code_sent(self, sender_id: str, id_number: str) -> None:
        session = self._get(sender_id)
        session.id_number = id_number
        session.pending_until = self._clock() + PENDING_TTL_SECONDS
        session.wrong_codes = 0

    def pending_id_number(self, sender_id: str) -> Optional[str]:
        return self._get(sender_id).id_number

    def verified(self, sender_id: str, token: str) -> None:
        session = self._get(sender_id)
        session.token = token
        session.token_until = self._clock() + VERIFIED_TTL_SECONDS
        session.id_number = None
        session.wrong_codes = 0

    def token(self, sender_id: str) -> Optional[str]:
        return self._get(sender_id).token

    def wrong_code(self, sender_id: str) -> int:
        """Count a wrong code; returns how many this conversation has entered."""
        session = self._get(sender_id)
        session.wrong_codes += 1
        return session.wrong_codes

    def fail(self, sender_id: str, reason: str) -> None:
        """Stop the current inquiry for ``reason`` (the form then ends)."""
        session = self._get(sender_id)
        session.failure = reason
        session.id_number = None

    def failure(self, sender_id: str) -> Optional[str]:
        return self._get(sender_id).failure

    def take_failure(self, sender_id: str) -> Optional[str]:
        session = self._get(sender_id)
        reason, session.failure = session.failure, None
        return reason

    def forget_token(self, sender_id: str) -> None:
        self._get(sender_id).token = None


# The action server's one store (actions run in a single process).
SESSIONS = IdentitySessions()
