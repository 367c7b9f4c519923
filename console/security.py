"""Staff accounts, sessions, CSRF tokens and the login lock-out.

- Passwords: argon2id (argon2-cffi's defaults), rehashed when its parameters change.
- Sessions: a random 32-byte cookie value; the database keeps only its
  SHA-256, the staff id, a per-session CSRF token and the last-seen time.  A
  session idle longer than ``CONSOLE_SESSION_IDLE`` is deleted on next use.
  Logging in always creates a new session (no fixation), logging out deletes it.
- CSRF: every form carries the session's token (or, before login, an HMAC of
  a random pre-login cookie under ``CONSOLE_SECRET``); compared in constant time.
- Lock-out: after ``CONSOLE_LOCKOUT_FAILURES`` wrong passwords for one name
  (known or not) that name is refused for ``CONSOLE_LOCKOUT_SECONDS``, even with
  the right password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from console.models import ROLES, login_throttle, staff, staff_sessions

Clock = Callable[[], float]
_hasher = PasswordHasher()
# A hash to verify against when the name is unknown, so timing is the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MAX_USERNAME = 64
MIN_PASSWORD = 10


class StaffError(ValueError):
    """A staff account cannot be created or changed as asked."""


@dataclass(frozen=True)
class StaffMember:
    """The signed-in staff member, as the routes see them."""

    id: int
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        """Whether the admin routes are open to this member."""
        return self.role == "admin"


@dataclass(frozen=True)
class SessionInfo:
    """A live session: who it is and the CSRF token forms must echo."""

    staff: StaffMember
    csrf_token: str
    token_hash: str


def hash_password(password: str) -> str:
    """Argon2 hash of a password, the only form that is stored."""
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    """Session tokens are stored hashed, so a database leak yields no live sessions."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalize_username(username: str) -> str:
    """Usernames compare case-insensitively and without stray spaces."""
    return username.strip().lower()[:MAX_USERNAME]


def create_staff(
    connection: Connection,
    username: str,
    password: str,
    role: str,
    now: Optional[float] = None,
) -> StaffMember:
    """Add a staff member (or reset an existing one's password and role)."""
    name = normalize_username(username)
    if (
        not name
        or not name.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise StaffError("user names are letters, digits, '.', '-' and '_'")
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"passwords have at least {MIN_PASSWORD} characters")
    hashed = hash_password(password)
    found = connection.execute(
        select(staff.c.id).where(staff.c.username == name)
    ).first()
    if found is None:
        staff_id = connection.execute(
            insert(staff).values(
                username=name,
                password_hash=hashed,
                role=role,
                active=True,
                created_at=now or time.time(),
            )
        ).inserted_primary_key[0]
    else:
        staff_id = found.id
        connection.execute(
            update(staff)
            .where(staff.c.id == staff_id)
            .values(password_hash=hashed, role=role, active=True)
        )
        # a password reset ends every session of that account
        connection.execute(
            delete(staff_sessions).where(staff_sessions.c.staff_id == staff_id)
        )
    return StaffMember(int(staff_id), name, role)


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login: the member, or why not (``locked`` after repeated
    failures)."""

    staff: Optional[StaffMember]
    locked: bool = False


def authenticate(
    connection: Connection,
    username: str,
    password: str,
    max_failures: int,
    lockout_seconds: int,
    now: float,
) -> LoginResult:
    """Check a password, counting failures per name and applying the lock-out."""
    name = normalize_username(username)
    throttle = connection.execute(
        select(login_throttle).where(login_throttle.c.username == name)
    ).first()
    if throttle is not None and throttle.locked_until > now:
        return LoginResult(None, locked=True)
    row = connection.execute(
        select(staff).where(staff.c.username == name, staff.c.active.is_(True))
    ).first()
    ok = False
    try:
        ok = _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and row is not None:
        if throttle is not None:
            connection.execute(
                delete(login_throttle).where(login_throttle.c.username == name)
            )
        if _hasher.check_needs_rehash(row.password_hash):
            connection.execute(
                update(staff)
                .where(staff.c.id == row.id)
                .values(password_hash=hash_password(password))
            )
        return LoginResult(StaffMember(row.id, row.username, row.role))
    failures = (throttle.failures if throttle is not None else 0) + 1
    locked_until = now + lockout_seconds if failures >= max_failures else 0.0
    if throttle is None:
        connection.execute(
            insert(login_throttle).values(
                username=name, failures=failures, locked_until=locked_until
            )
        )
    else:
        connection.execute(
            update(login_throttle)
            .where(login_throttle.c.username == name)
            .values(failures=0 if locked_until else failures, locked_until=locked_until)
        )
    return LoginResult(None, locked=bool(locked_until))


def open_session(connection: Connection, member: StaffMember, now: float) -> str:
    """A new session for ``member``; returns the cookie value."""
    token = secrets.token_urlsafe(32)
    connection.execute(
        insert(staff_sessions).values(
            token_hash=token_hash(token),
            staff_id=member.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
    )
    return token


def load_session(
    connection: Connection, token: str, idle_seconds: int, now: float
) -> Optional[SessionInfo]:
    """The live session for a cookie value, touching its last-seen time."""
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)
    row = connection.execute(
        select(
            staff_sessions.c.csrf_token,
            staff_sessions.c.last_seen,
            staff.c.id,
            staff.c.username,
            staff.c.role,
            staff.c.active,
        )
        .join(staff, staff.c.id == staff_sessions.c.staff_id)
        .where(staff_sessions.c.token_hash == hashed)
    ).first()
    if row is None:
        return None
    if now - row.last_seen > idle_seconds or not row.active:
        connection.execute(
            delete(staff_sessions).where(staff_sessions.c.token_hash == hashed)
        )
        return None
    if now - row.last_seen > 15:  # write at most every 15 s per session
        connection.execute(
            update(staff_sessions)
            .where(staff_sessions.c.token_hash == hashed)
            .values(last_seen=now)
        )
    return SessionInfo(
        StaffMember(row.id, row.username, row.role), row.csrf_token, hashed
    )


def close_session(connection: Connection, hashed: str) -> None:
    """Delete the session server-side, so its cookie is useless afterwards."""
    connection.execute(
        delete(staff_sessions).where(staff_sessions.c.token_hash == hashed)
    )


def purge_sessions(connection: Connection, idle_seconds: int, now: float) -> int:
    """Delete sessions idle longer than ``idle_seconds``; returns how many."""
    result = connection.execute(
        delete(staff_sessions).where(staff_sessions.c.last_seen < now - idle_seconds)
    )
    return int(result.rowcount or 0)


def pre_login_csrf(secret: str, nonce: str) -> str:
    """The login form's CSRF token: an HMAC of the pre-login cookie."""
    return hmac.new(secret.encode(), b"login:" + nonce.encode(), "sha256").hexdigest()


def tokens_match(expected: str, given: Optional[str]) -> bool:
    """Constant-time comparison, so the token cannot be guessed by timing."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
