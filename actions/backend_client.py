"""Async client for the contribution backend, used by the Rasa custom actions.

Every failure the assistant should answer differently is its own exception;
everything that means "the backend cannot help right now" (connection refused,
timeout, 5xx, a body that is not the documented JSON) is ``BackendUnavailable``
so an action can apologise and offer the 12333 hotline.

The aiohttp session is created on first use, in the running event loop (never
at import), and re-created if the loop changes (as between tests).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Dict, Optional, Tuple, Type

import aiohttp

from actions.config import ActionSettings
from actions.metrics import BACKEND_ERRORS
from common.identity import is_valid_id_number, normalize_id_number

CLIENT_SECRET_HEADER = "X-Shebao-Client-Secret"


# ---- exceptions -----------------------------------------------------------------
class BackendError(Exception):
    """Base class: ``code`` is the backend's stable error code."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class BackendUnavailable(BackendError):
    """Unreachable, too slow (> timeout), a 5xx, or an unreadable answer."""


class InvalidIdNumber(BackendError):
    """Not an 18-character ID number with a valid birth date and check character."""


class RateLimited(BackendError):
    """Too many codes requested; ``retry_after`` seconds until the next may work."""

    def __init__(self, message: str, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class WrongCode(BackendError):
    """The code is not correct; ``remaining_attempts`` more tries for this code."""

    def __init__(self, message: str, remaining_attempts: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.remaining_attempts = remaining_attempts


class CodeExpired(BackendError):
    """The code expired, was already used, or none was requested: ask for a new one."""


class CodeLocked(BackendError):
    """Too many wrong codes: this code no longer works, ask for a new one."""


class TokenRejected(BackendError):
    """The access token is missing, unknown or expired: verify again."""


class BackendRequestError(BackendError):
    """Any other 4xx (a bug in the caller rather than a user mistake)."""


# ---- results --------------------------------------------------------------------
@dataclass(frozen=True)
class VerificationStarted:
    """What the backend says after sending a code: where it went and for how long it
    holds."""

    masked_phone: str  # "138****1234"
    expires_in: int  # seconds the code is valid


@dataclass(frozen=True)
class Enrollment:
    """The person's scheme membership, which decides whether months are owed at all."""

    scheme: str
    status: str  # active | suspended | terminated
    since: date
    monthly_amount: Decimal


@dataclass(frozen=True)
class Contribution:
    """One monthly payment record, as the answers quote it back to the user."""

    period: str  # "2024-03"
    amount: Decimal
    paid_on: date
    channel: str  # wechat | alipay | bank | counter | tax_app
    status: str  # paid | pending | refunded


@dataclass(frozen=True)
class Arrears:
    """The unpaid months of the year and their total, as the backend computed them."""

    months: Tuple[str, ...]  # owed periods, "YYYY-MM"
    amount: Decimal

    @property
    def count(self) -> int:
        """How many months are owed, for answers that count rather than list them."""
        return len(self.months)


@dataclass(frozen=True)
class ContributionSummary:
    """Everything one verified inquiry may tell the user, fetched in a single call."""

    masked_id_number: str
    name: str
    residency_type: str  # urban | agricultural
    region: str
    enrollment: Enrollment
    year: int
    contributions: Tuple[Contribution, ...]  # every record of the year, by period
    total_paid: Decimal
    arrears: Arrears
    last_payment: Optional[Contribution]  # latest paid contribution, any year

    @property
    def paid_months(self) -> Tuple[str, ...]:
        """Periods actually paid, so pending and refunded records are not counted as
        paid."""
        return tuple(c.period for c in self.contributions if c.status == "paid")


def _contribution(data: Dict[str, Any]) -> Contribution:
    return Contribution(
        period=data["period"],
        amount=Decimal(data["amount"]),
        paid_on=date.fromisoformat(data["paid_on"]),
        channel=data["channel"],
        status=data["status"],
    )


def parse_summary(data: Dict[str, Any]) -> ContributionSummary:
    """The typed form of a ``GET /api/v1/me/contributions`` body."""
    person, enrollment, arrears = data["person"], data["enrollment"], data["arrears"]
    last = data.get("last_payment")
    return ContributionSummary(
        masked_id_number=person["masked_id_number"],
        name=person["name"],
        residency_type=person["residency_type"],
        region=person["region"],
        enrollment=Enrollment(
            scheme=enrollment["scheme"],
            status=enrollment["status"],
            since=date.fromisoformat(enrollment["since"]),
            monthly_amount=Decimal(enrollment["monthly_amount"]),
        ),
        year=int(data["year"]),
        contributions=tuple(_contribution(item) for item in data["contributions"]),
        total_paid=Decimal(data["total_paid"]),
        arrears=Arrears(
            months=tuple(arrears["months"]), amount=Decimal(arrears["amount"])
        ),
        last_payment=_contribution(last) if last else None,
    )


_ERRORS: Dict[str, Type[BackendError]] = {
    "invalid_id_number": InvalidIdNumber,
    "code_expired": CodeExpired,
    "no_active_code": CodeExpired,
    "code_locked": CodeLocked,
    "unauthorized": TokenRejected,
    "invalid_token": TokenRejected,
    "token_expired": TokenRejected,
}


def _error_for(status: int, body: Dict[str, Any]) -> BackendError:
    code = str(body.get("error", ""))
    message = str(body.get("message", code))
    if code == "wrong_code":
        remaining = int(body.get("remaining_attempts", 0))
        return WrongCode(message, remaining, code=code, status=status)
    if code == "rate_limited":
        return RateLimited(
            message, int(body.get("retry_after", 60)), code=code, status=status
        )
    return _ERRORS.get(code, BackendRequestError)(message, code=code, status=status)


class BackendClient:
    """The backend's API as coroutines; use as ``async with BackendClient(url) as b``.

    One instance per process is enough (the actions server can keep it for
    its lifetime); ``close()`` releases the HTTP session.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = 3.0,
        client_secret: Optional[str] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # SHEBAO_BACKEND_CLIENT_SECRET: without it the backend ignores client keys.
        self.client_secret = client_secret
        self._session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    @classmethod
    def from_settings(cls, settings: ActionSettings) -> "BackendClient":
        """The client the action server's settings describe."""
        return cls(
            settings.backend_url,
            timeout=settings.backend_timeout,
            client_secret=settings.backend_client_secret,
        )

    # ---- API ---------------------------------------------------------------------
    async def start_verification(
        self, id_number: str, client_key: Optional[str] = None
    ) -> VerificationStarted:
        """Have a code sent to the phone on file.  The answer looks the same for
        unknown ID numbers (the backend does not reveal who is insured).

        ``client_key`` names whom the backend's per-client rate limit counts
        instead of the whole action server.  It must be a server-side identity
        the resident cannot choose freely (the client address the channel saw,
        the WeChat OpenID), not a value from the request such as a sender id
        picked by the browser.  It is sent hashed, and the backend believes it
        only with the client secret (SHEBAO_BACKEND_CLIENT_SECRET).

        Raises InvalidIdNumber, RateLimited, BackendUnavailable."""
        body = await self._request(
            "POST",
            "/api/v1/verification/start",
            payload={"id_number": _checked(id_number)},
            headers={"X-Client-Key": _key_digest(client_key)} if client_key else None,
        )
        try:
            return VerificationStarted(
                str(body["masked_phone"]), int(body["expires_in"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable("unexpected answer from the backend") from exc

    async def check_code(self, id_number: str, code: str) -> str:
        """Exchange the code for an access token (valid ~15 min, this person only).

        Raises WrongCode(remaining_attempts), CodeExpired, CodeLocked,
        InvalidIdNumber, BackendRequestError (code not 6 digits), BackendUnavailable."""
        body = await self._request(
            "POST",
            "/api/v1/verification/check",
            payload={"id_number": _checked(id_number), "code": code.strip()},
        )
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise BackendUnavailable("unexpected answer from the backend")
        return token

    async def contributions(
        self, token: str, year: Optional[int] = None
    ) -> ContributionSummary:
        """The token holder's contributions and arrears for ``year`` (default:
        the current year).

        Raises TokenRejected, BackendRequestError, BackendUnavailable."""
        params = {"year": str(year)} if year is not None else None
        body = await self._request(
            "GET", "/api/v1/me/contributions", token=token, params=params
        )
        try:
            return parse_summary(body)
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise BackendUnavailable("unexpected answer from the backend") from exc

    async def health(self) -> bool:
        """True when the backend and its database answer."""
        try:
            await self._request("GET", "/health")
        except BackendError:
            return False
        return True

    # ---- plumbing ----------------------------------------------------------------
    def _session_for_this_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Accept": "application/json"},
            )
            self._loop = loop
        return self._session

    async def _request(
        self,
        method: str,
        path: str,
        payload: Optional[Dict[str, Any]] = None,
        token: Optional[str] = None,
        params: Optional[Dict[str, str]] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Dict[str, Any]:
        headers = dict(headers or {})
        if self.client_secret:
            headers[CLIENT_SECRET_HEADER] = self.client_secret
        if token:
            headers["Authorization"] = f"Bearer {token}"
        session = self._session_for_this_loop()
        try:
            async with session.request(
                method,
                self.base_url + path,
                json=payload,
                headers=headers,
                params=params,
            ) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            BACKEND_ERRORS.labels(kind="unreachable").inc()
            raise BackendUnavailable(
                f"backend unreachable: {type(exc).__name__}"
            ) from exc
        if status >= 500 or not isinstance(body, dict):
            kind = "server_error" if status >= 500 else "bad_answer"
            BACKEND_ERRORS.labels(kind=kind).inc()
            raise BackendUnavailable(f"backend answered {status}", status=status)
        if status >= 400:
            raise _error_for(status, body)
        return body

    async def close(self) -> None:
        """Release the HTTP session; the action server calls this when it shuts down."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> "BackendClient":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        await self.close()


def _key_digest(client_key: str) -> str:
    """An ASCII, fixed-length stand-in: sender ids never leave the action server."""
    return hashlib.sha256(client_key.encode("utf-8")).hexdigest()


def _checked(id_number: str) -> str:
    """Normalize locally and fail fast, saving a round trip for typos."""
    normalized = normalize_id_number(id_number)
    if not is_valid_id_number(normalized):
        raise InvalidIdNumber(
            "not a valid ID number", code="invalid_id_number", status=400
        )
    return normalized
