"""Identity verification by one-time SMS code, and the access tokens it grants.

Design choices, each against a specific attack:

* **No account enumeration.**  ``start`` answers unknown ID numbers exactly
  like known ones: same body shape, a stable decoy masked phone derived from an
  HMAC of the ID, a stored code row (with no person and a code nobody got), and
  a minimum response time.  ``check`` then behaves identically too.
* **No brute force.**  At most ``max_code_attempts`` checks per code (counted
  with an atomic UPDATE), codes expire after ``code_ttl`` seconds, a new code
  replaces the old one, and ``start`` is rate limited per ID number and per
  client address.
* **No plaintext at rest.**  Codes, tokens, ID numbers (as "subjects") and
  client addresses are stored as keyed hashes (see ``security``).
* **Scoped tokens.**  A token maps to exactly one person id; the ``/me``
  routes take the person from the token, never from the request.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional, Tuple

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.db import Database
from backend.errors import ApiError
from backend.models import AccessToken, VerificationCode
from backend.records import find_person
from backend.security import (
    decoy_masked_phone,
    invalid_token,
    keyed_hash,
    new_code,
    new_token,
)
from backend.senders import CodeMessage, CodeSender
from backend.settings import BackendSettings
from common.identity import mask_phone

logger = logging.getLogger(__name__)

_KEEP_CODE_ROWS = timedelta(days=1)


def utc_naive(moment: datetime) -> datetime:
    """The naive-UTC form the database stores."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class _CheckOutcome:
    token: Optional[str] = None
    error: Optional[ApiError] = None


class VerificationService:
    """Start and check one-time codes; resolve access tokens to a person."""

    def __init__(
        self, settings: BackendSettings, db: Database, sender: CodeSender
    ) -> None:
        self.settings = settings
        self.db = db
        self.sender = sender
        # Serialises starts within this process so the rate-limit count and the
        # insert cannot interleave (and SQLite sees one writer at a time).
        self._start_lock = asyncio.Lock()

    def _now(self) -> datetime:
        return utc_naive(self.settings.clock())

    def _subject(self, id_number: str) -> str:
        return keyed_hash(self.settings.secret, "subject", id_number)

    # ---- start ------------------------------------------------------------------
    async def start(self, id_number: str, client_id: str) -> dict:
        """Issue a code for ``id_number``; the answer never reveals whether the
        ID is on file.  Raises 429 ``rate_limited``."""
        began = time.monotonic()
        try:
            async with self._start_lock:
                masked_phone, message = await self.db.run(
                    lambda session: self._start(session, id_number, client_id)
                )
            if message is not None:
                await self._deliver(message)
            return {
                "sent": True,
                "masked_phone": masked_phone,
                "expires_in": self.settings.code_ttl,
            }
        finally:
            remaining = self.settings.start_min_seconds - (time.monotonic() - began)
            if remaining > 0:
                await asyncio.sleep(remaining)

    async def _deliver(self, message: CodeMessage) -> None:
        try:
            await self.sender.send(message)
        except Exception as exc:  # noqa: BLE001 - never reveal delivery problems
            logger.error("code delivery failed: %s", type(exc).__name__)

    def _start(
        self, session: Session, id_number: str, client_id: str
    ) -> Tuple[str, Optional[CodeMessage]]:
        settings = self.settings
        now = self._now()
        subject = self._subject(id_number)
        client = keyed_hash(settings.secret, "client", client_id)
        session.execute(
            delete(VerificationCode)
            .where(VerificationCode.created_at < now - _KEEP_CODE_ROWS)
            .execution_options(synchronize_session=False)
        )
        self._enforce_limit(
            session, VerificationCode.subject, subject, settings.starts_per_id, now
        )
        self._enforce_limit(
            session, VerificationCode.client, client, settings.starts_per_client, now
        )

        person = find_person(session, id_number)
        session.execute(
            update(VerificationCode)
            .where(
                VerificationCode.subject == subject,
                VerificationCode.closed_at.is_(None),
            )
            .values(closed_at=now)
            .execution_options(synchronize_session=False)
        )
        code = new_code()
        expires_at = now + timedelta(seconds=settings.code_ttl)
        session.add(
            VerificationCode(
                subject=subject,
                client=client,
                person_id=person.id if person else None,
                code_hash=keyed_hash(settings.secret, "code", f"{subject}:{code}"),
                attempts=0,
                created_at=now,
                expires_at=expires_at,
            )
        )
        if person is None:
            return decoy_masked_phone(settings.secret, id_number), None
        message = CodeMessage(
            id_number=id_number,
            phone=person.phone,
            code=code,
            sent_at=now.replace(tzinfo=timezone.utc),
            expires_at=expires_at.replace(tzinfo=timezone.utc),
        )
        return mask_phone(person.phone), message

    def _enforce_limit(
        self, session: Session, column: object, value: str, limit: int, now: datetime
    ) -> None:
        window = timedelta(seconds=self.settings.rate_window)
        recent = (
            session.execute(
                select(VerificationCode.created_at)
                .where(column == value, VerificationCode.created_at > now - window)  # type: ignore[operator]
                .order_by(VerificationCode.created_at)
            )
            .scalars()
            .all()
        )
        if len(recent) < limit:
            return
        # The start that has to leave the window before another is allowed.
        frees_up = recent[len(recent) - limit] + window
        retry_after = max(1, math.ceil((frees_up - now).total_seconds()))
        raise ApiError(
            429,
            "rate_limited",
            "Too many codes requested; try again later.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )

    # ---- check ------------------------------------------------------------------
    async def check(self, id_number: str, code: str) -> dict:
        """Exchange a correct code for a token scoped to that one person."""
        outcome = await self.db.run(
            lambda session: self._check(session, id_number, code)
        )
        if outcome.error is not None:
            raise outcome.error
        return {
            "token": outcome.token,
            "token_type": "Bearer",
            "expires_in": self.settings.token_ttl,
        }

    def _check(self, session: Session, id_number: str, code: str) -> _CheckOutcome:
        """Failures are returned, not raised, so the counted attempt is committed."""
        settings = self.settings
        now = self._now()
        subject = self._subject(id_number)
        row = session.execute(
            select(VerificationCode)
            .where(
                VerificationCode.subject == subject,
                VerificationCode.closed_at.is_(None),
            )
            .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row is None:
            return _CheckOutcome(
                error=ApiError(
                    401, "no_active_code", "No code is pending; request a new one."
                )
            )
        if now >= row.expires_at:
            return _CheckOutcome(
                error=ApiError(
                    401, "code_expired", "The code has expired; request a new one."
                )
            )
        counted = session.execute(
            update(VerificationCode)
            .where(
                VerificationCode.id == row.id,
                VerificationCode.attempts < settings.max_code_attempts,
            )
            .values(attempts=VerificationCode.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if counted.rowcount == 0:
            return _CheckOutcome(
                error=ApiError(
                    403,
                    "code_locked",
                    "Too many wrong codes; request a new one.",
                    remaining_attempts=0,
                )
            )
        attempts = session.execute(
            select(VerificationCode.attempts).where(VerificationCode.id == row.id)
        ).scalar_one()
        expected = keyed_hash(settings.secret, "code", f"{subject}:{code}")
        if row.person_id is not None and hmac.compare_digest(row.code_hash, expected):
            row.closed_at = now
            return _CheckOutcome(token=self._issue_token(session, row.person_id, now))
        remaining = max(0, settings.max_code_attempts - attempts)
        return _CheckOutcome(
            error=ApiError(
                401,
                "wrong_code",
                "The code is not correct.",
                remaining_attempts=remaining,
            )
        )

    def _issue_token(self, session: Session, person_id: int, now: datetime) -> str:
        session.execute(
            delete(AccessToken)
            .where(AccessToken.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        token = new_token()
        session.add(
            AccessToken(
                token_hash=keyed_hash(self.settings.secret, "token", token),
                person_id=person_id,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.token_ttl),
            )
        )
        return token

    # ---- tokens -----------------------------------------------------------------
    async def person_for_token(self, token: str) -> int:
        """The person a token may read, or 401 ``invalid_token``/``token_expired``."""
        token_hash = keyed_hash(self.settings.secret, "token", token)

        def lookup(session: Session) -> Optional[Tuple[int, datetime]]:
            found = session.execute(
                select(AccessToken.person_id, AccessToken.expires_at).where(
                    AccessToken.token_hash == token_hash
                )
            ).first()
            return (found[0], found[1]) if found else None

        found = await self.db.run(lookup)
        if found is None:
            raise invalid_token("invalid_token", "The token is not valid.")
        person_id, expires_at = found
        if self._now() >= expires_at:
            raise invalid_token("token_expired", "The token has expired; verify again.")
        return person_id
