"""Identity verification by one-time SMS code, and the access tokens it grants.

Design choices, each against a specific attack:

* **No account enumeration.**  ``start`` answers unknown ID numbers exactly
  like known ones: same body shape, a stable decoy masked phone derived from an
  HMAC of the ID, a stored code row (with no person and a code nobody got), and
  a minimum response time.  ``check`` then behaves identically too.
* **No brute force.**  At most ``max_code_attempts`` checks per code (counted
  with an atomic UPDATE), codes expire after ``code_ttl`` seconds, a new code
  replaces the old one, and ``start`` is rate limited per ID number (per 10
  minutes and per day), per client and globally.  The limits hold across
  backend processes: each start counts and inserts under a database-wide lock
  (``pg_advisory_xact_lock`` on PostgreSQL, SQLite's single writer lock).
* **One code, one token.**  A code is closed with a conditional
  ``UPDATE ... WHERE closed_at IS NULL AND expires_at > now``; the token is
  issued only when exactly that one row changed, so two concurrent checks of
  the same code cannot both win.
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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional, Set, Tuple

from sqlalchemy import delete, func, select, text, update
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
from backend.settings import DAY_SECONDS, BackendSettings
from common.identity import mask_phone

logger = logging.getLogger(__name__)

# Rows are kept as long as the longest rate-limit window needs them.
_KEEP_CODE_ROWS = timedelta(seconds=DAY_SECONDS)
# Key of the PostgreSQL advisory lock that serialises starts (any constant).
_START_LOCK_KEY = 0x5E8A0_0001


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
        # Deliveries still running (kept referenced until they finish).
        self._deliveries: Set["asyncio.Task[None]"] = set()

    def _now(self) -> datetime:
        return utc_naive(self.settings.clock())

    def _subject(self, id_number: str) -> str:
        return keyed_hash(self.settings.secret, "subject", id_number)

    # ---- start ------------------------------------------------------------------
    async def start(self, id_number: str, client_id: str) -> dict:
        """Issue a code for ``id_number``; the answer never reveals whether the
        ID is on file.  Raises 429 ``rate_limited``.

        The code is delivered by a background task: the answer (same shape,
        same status, no waiting on the gateway) is the same for every ID."""
        masked_phone, message = await self.db.run(
            lambda session: self._start(session, id_number, client_id)
        )
        if message is not None:
            task = asyncio.get_running_loop().create_task(self._deliver(message))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        return {
            "sent": True,
            "masked_phone": masked_phone,
            "expires_in": self.settings.code_ttl,
        }

    async def _deliver(self, message: CodeMessage) -> None:
        try:
            await self.sender.send(message)
        except Exception as exc:  # noqa: BLE001 - never reveal delivery problems
            logger.error("code delivery failed: %s", type(exc).__name__)

    async def wait_for_deliveries(self, timeout: Optional[float] = None) -> None:
        """Wait until the deliveries started so far have finished (the dev
        outbox and shutdown use this)."""
        pending = list(self._deliveries)
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def _lock_starts(self, session: Session) -> None:
        """Serialise starts across every backend process sharing the database,
        so counting and inserting cannot interleave with another start.

        One lock for all starts rather than one per ID number or client: the
        global budget counts every start, so only a global lock keeps it
        exact, and a start holds it for a few milliseconds while the budget
        allows about two starts a second.  The lock is transaction-scoped, so
        a process that dies releases it with its connection
        (``tests/backend/test_verification_concurrency.py`` runs two processes).
        """
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _START_LOCK_KEY}
            )
        # SQLite: the DELETE that follows is the transaction's first statement
        # and takes the database's single write lock until commit.

    def _start(
        self, session: Session, id_number: str, client_id: str
    ) -> Tuple[str, Optional[CodeMessage]]:
        settings = self.settings
        now = self._now()
        subject = self._subject(id_number)
        client = keyed_hash(settings.secret, "client", client_id)
        self._lock_starts(session)
        session.execute(
            delete(VerificationCode)
            .where(VerificationCode.created_at < now - _KEEP_CODE_ROWS)
            .execution_options(synchronize_session=False)
        )
        window = settings.rate_window
        self._enforce_limit(
            session,
            VerificationCode.subject == subject,
            settings.starts_per_id,
            window,
            now,
        )
        self._enforce_limit(
            session,
            VerificationCode.subject == subject,
            settings.starts_per_id_per_day,
            DAY_SECONDS,
            now,
        )
        self._enforce_limit(
            session,
            VerificationCode.client == client,
            settings.starts_per_client,
            window,
            now,
        )
        self._enforce_limit(session, None, settings.starts_global, window, now)

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
        self,
        session: Session,
        condition: Optional[object],
        limit: int,
        window_seconds: int,
        now: datetime,
    ) -> None:
        """429 when ``limit`` starts matching ``condition`` (None: all starts)
        already happened in the last ``window_seconds``."""
        window = timedelta(seconds=window_seconds)
        since = VerificationCode.created_at > now - window
        where = since if condition is None else (condition & since)  # type: ignore[operator]
        if session.execute(select(func.count()).where(where)).scalar_one() < limit:
            return
        # The start that has to leave the window before another is allowed.
        recent = (
            session.execute(
                select(VerificationCode.created_at)
                .where(where)
                .order_by(VerificationCode.created_at.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        frees_up = min(recent) + window
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
            # Close the code only if it is still open and alive: of two
            # concurrent checks, exactly one changes the row and gets a token.
            closed = session.execute(
                update(VerificationCode)
                .where(
                    VerificationCode.id == row.id,
                    VerificationCode.closed_at.is_(None),
                    VerificationCode.expires_at > now,
                )
                .values(closed_at=now)
                .execution_options(synchronize_session=False)
            )
            if closed.rowcount != 1:
                return _CheckOutcome(
                    error=ApiError(
                        401,
                        "no_active_code",
                        "No code is pending; request a new one.",
                    )
                )
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
