"""Backend configuration, read once from the environment.

Every variable has a development default so ``make run`` needs no set-up.
The defaults of the three secrets are for development only: in production
mode ``create_app`` (and so ``serve``) refuses any secret shorter than 32
characters, equal to a development default or too repetitive.

- ``SHEBAO_ENV``: the deployment-wide switch, ``development`` or
  ``production`` (``production``); production refuses ``BACKEND_MODE=development``
- ``BACKEND_HOST``: interface to listen on (``127.0.0.1``); development mode
  is refused on any non-loopback interface (the outbox and the dev defaults
  must never be published)
- ``BACKEND_PORT``: port (``5100``)
- ``DATABASE_URL``: SQLAlchemy URL, e.g. ``postgresql://user@host/db``
  (default: ``sqlite:///$SHEBAO_VAR_DIR/backend.sqlite3``, absolute)
- ``SHEBAO_VAR_DIR``: run folder for the SQLite file (``var``)
- ``BACKEND_ADMIN_TOKEN``: bearer token of the admin endpoints
  (``dev-admin-token``, development only)
- ``BACKEND_MODE``: ``production`` or ``development`` (``development`` when
  ``SHEBAO_ENV=development``, else ``production``); development adds
  ``GET /api/v1/dev/outbox`` and keeps codes readable there
- ``BACKEND_SECRET``: HMAC key for codes, tokens and hashed identifiers
  (``dev-secret-change-me``, development only)
- ``BACKEND_CLIENT_SECRET``: shared secret the action server sends in
  ``X-Shebao-Client-Secret`` (its ``SHEBAO_BACKEND_CLIENT_SECRET``); only a
  caller that knows it may name the client in ``X-Client-Key``
  (``dev-client-secret-change-me``, development only).  It replaces the former
  ``BACKEND_TRUSTED_CLIENTS`` address list: an address is not an identity.
- ``BACKEND_TOKEN_TTL``: seconds an access token lives (``900``)
- ``BACKEND_CODE_TTL``: seconds a one-time code lives (``300``)
- ``BACKEND_STARTS_PER_ID`` / ``BACKEND_STARTS_PER_CLIENT``: codes one ID
  number / one client may request per 10 minutes (``3`` / ``20``)
- ``BACKEND_STARTS_PER_ID_PER_DAY``: codes one ID number may request per 24
  hours (``10``), whoever asks
- ``BACKEND_STARTS_GLOBAL``: codes all callers together may request per 10
  minutes (``1000``): a ceiling on SMS cost and on enumeration throughput
- ``BACKEND_SMS_URL``: the HTTP SMS gateway's send endpoint (empty); required
  in a production deployment, ``https://`` unless it is on loopback
- ``BACKEND_SMS_API_KEY``: the gateway's bearer key (empty); a production
  secret (at least 32 varied characters)
- ``BACKEND_SMS_TEMPLATE_ID``: the gateway's approved template for the code
  message (empty); required with the URL
- ``BACKEND_SMS_TIMEOUT``: seconds per gateway attempt (``5.0``)
- Each secret (the three above, ``BACKEND_SMS_API_KEY`` and ``DATABASE_URL``,
  which may carry a password) may instead come from a file named by
  ``<NAME>_FILE`` (:func:`common.env.env_secret`)
- ``BACKEND_SMS_RETRIES``: retries after a 5xx, 429 or timeout (``3``), with
  exponential backoff from 0.5 s
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, List, Mapping, Optional
from urllib.parse import urlsplit

from common.deployment import deployment_env, is_loopback, secret_problem
from common.env import ConfigError, env_float, env_int, env_secret, env_str

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime; tests inject a fake one."""

# The bureau's local time (China has no daylight saving time): "this month" and
# "this year" for arrears are local, not UTC.
LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

DEV_ADMIN_TOKEN = "dev-admin-token"
DEV_SECRET = "dev-secret-change-me"
# The same literal is the action server's default (actions/config.py).
DEV_CLIENT_SECRET = "dev-client-secret-change-me"
DEV_DEFAULTS = frozenset({DEV_ADMIN_TOKEN, DEV_SECRET, DEV_CLIENT_SECRET})
MODES = ("production", "development")
ENVIRONMENTS = ("production", "development")
DAY_SECONDS = 24 * 60 * 60


def system_clock() -> datetime:
    """The real time, in UTC."""
    return datetime.now(timezone.utc)


def default_database_url(var_dir: Path) -> str:
    """The embedded default: a SQLite file in the run folder."""
    return f"sqlite:///{(var_dir / 'backend.sqlite3').resolve()}"


def normalize_database_url(url: str) -> str:
    """Accept the common ``postgres://`` spelling, which SQLAlchemy 1.4 rejects."""
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


@dataclass(frozen=True)
class BackendSettings:
    """Everything the backend needs to know; immutable once read."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 5100
    admin_token: str = DEV_ADMIN_TOKEN
    mode: str = "production"
    # SHEBAO_ENV: the deployment this backend belongs to.
    environment: str = "production"
    secret: str = DEV_SECRET
    client_secret: str = DEV_CLIENT_SECRET
    token_ttl: int = 900
    code_ttl: int = 300
    max_code_attempts: int = 5
    starts_per_id: int = 3
    starts_per_client: int = 20
    starts_per_id_per_day: int = 10
    starts_global: int = 1000
    rate_window: int = 600
    request_max_size: int = 64 * 1024
    db_threads: int = 8
    sms_url: str = ""
    sms_api_key: str = field(default="", repr=False)
    sms_template_id: str = ""
    sms_timeout: float = 5.0
    sms_retries: int = 3
    clock: Clock = field(default=system_clock, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"BACKEND_MODE must be one of {', '.join(MODES)}")
        if self.environment not in ENVIRONMENTS:
            raise ConfigError(f"SHEBAO_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if self.token_ttl <= 0 or self.code_ttl <= 0:
            raise ConfigError("token and code TTLs must be positive")
        limits = (
            self.starts_per_id,
            self.starts_per_client,
            self.starts_per_id_per_day,
            self.starts_global,
            self.rate_window,
        )
        if min(limits) < 1:
            raise ConfigError(
                "BACKEND_STARTS_PER_ID, BACKEND_STARTS_PER_CLIENT, "
                "BACKEND_STARTS_PER_ID_PER_DAY and BACKEND_STARTS_GLOBAL must be "
                "at least 1"
            )
        if self.sms_timeout <= 0 or not 0 <= self.sms_retries <= 10:
            raise ConfigError(
                "BACKEND_SMS_TIMEOUT must be positive and BACKEND_SMS_RETRIES "
                "between 0 and 10"
            )

    @property
    def development(self) -> bool:
        """Whether dev-only routes and relaxed checks apply."""
        return self.mode == "development"

    @property
    def uses_dev_secrets(self) -> bool:
        """Whether any committed development secret is still in use (refused in
        production)."""
        return bool({self.admin_token, self.secret, self.client_secret} & DEV_DEFAULTS)

    @property
    def sms_configured(self) -> bool:
        """Whether an SMS gateway URL is set; without one codes are only logged."""
        return bool(self.sms_url)

    def sms_problems(self) -> List[str]:
        """Why the SMS gateway settings cannot deliver codes in this deployment."""
        found: List[str] = []
        production = self.environment == "production" and not self.development
        if not self.sms_url:
            if production:
                found.append(
                    "a production deployment (SHEBAO_ENV=production, "
                    "BACKEND_MODE=production) needs an SMS gateway: set "
                    "BACKEND_SMS_URL, BACKEND_SMS_API_KEY and BACKEND_SMS_TEMPLATE_ID"
                )
            return found
        parts = urlsplit(self.sms_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            found.append("BACKEND_SMS_URL must be an http(s) URL")
        elif production and parts.scheme != "https" and not is_loopback(parts.hostname):
            found.append("BACKEND_SMS_URL must use https:// in production")
        if not self.sms_template_id:
            found.append(
                "BACKEND_SMS_TEMPLATE_ID is not set (needed with BACKEND_SMS_URL)"
            )
        if production:
            reason = secret_problem(
                "BACKEND_SMS_API_KEY", self.sms_api_key, DEV_DEFAULTS
            )
            if reason:
                found.append(f"BACKEND_MODE is production but {reason}")
        return found

    def problems(self, sender_given: bool = False) -> List[str]:
        """Every reason this configuration must not serve, each naming its variables.

        ``sender_given``: the caller plugs in its own ``CodeSender`` (tests,
        embedding), so the SMS gateway settings are not needed."""
        found: List[str] = []
        if self.development:
            if self.environment == "production":
                found.append(
                    "BACKEND_MODE=development is refused with SHEBAO_ENV=production "
                    "(set SHEBAO_ENV=development for a local run)"
                )
            if not is_loopback(self.host):
                found.append(
                    f"BACKEND_MODE=development is refused on BACKEND_HOST={self.host}: "
                    "development mode (dev outbox, dev secrets) listens on a "
                    "loopback interface only (127.0.0.1, ::1, localhost)"
                )
            return found
        for name, value in (
            ("BACKEND_SECRET", self.secret),
            ("BACKEND_ADMIN_TOKEN", self.admin_token),
            ("BACKEND_CLIENT_SECRET", self.client_secret),
        ):
            reason = secret_problem(name, value, DEV_DEFAULTS)
            if reason:
                found.append(
                    f"BACKEND_MODE is production but {reason} (use e.g. "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
                )
        if not (sender_given and not self.sms_configured):
            found.extend(self.sms_problems())
        return found

    def production_problems(self, sender_given: bool = False) -> Optional[str]:
        """Why this configuration must not serve traffic, if it must not."""
        found = self.problems(sender_given)
        return "; ".join(found) if found else None

    def require_servable(self, sender_given: bool = False) -> None:
        """Raise ``ConfigError`` naming the variables when ``problems()`` finds any."""
        problem = self.production_problems(sender_given)
        if problem:
            raise ConfigError(problem)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "BackendSettings":
        """Read ``SHEBAO_ENV``, the ``BACKEND_*``, ``DATABASE_URL`` and
        ``SHEBAO_VAR_DIR`` variables."""
        env = environ
        var_dir = Path(env_str("SHEBAO_VAR_DIR", "var", env))
        environment = deployment_env(env)
        default_mode = "development" if environment == "development" else "production"
        return cls(
            database_url=normalize_database_url(
                env_secret("DATABASE_URL", default_database_url(var_dir), env)
            ),
            host=env_str("BACKEND_HOST", "127.0.0.1", env),
            port=env_int("BACKEND_PORT", 5100, env),
            admin_token=env_secret("BACKEND_ADMIN_TOKEN", DEV_ADMIN_TOKEN, env),
            mode=env_str("BACKEND_MODE", default_mode, env).strip().lower(),
            environment=environment,
            secret=env_secret("BACKEND_SECRET", DEV_SECRET, env),
            client_secret=env_secret("BACKEND_CLIENT_SECRET", DEV_CLIENT_SECRET, env),
            token_ttl=env_int("BACKEND_TOKEN_TTL", 900, env),
            code_ttl=env_int("BACKEND_CODE_TTL", 300, env),
            starts_per_id=env_int("BACKEND_STARTS_PER_ID", 3, env),
            starts_per_client=env_int("BACKEND_STARTS_PER_CLIENT", 20, env),
            starts_per_id_per_day=env_int("BACKEND_STARTS_PER_ID_PER_DAY", 10, env),
            starts_global=env_int("BACKEND_STARTS_GLOBAL", 1000, env),
            sms_url=env_str("BACKEND_SMS_URL", "", env).strip(),
            sms_api_key=env_secret("BACKEND_SMS_API_KEY", "", env),
            sms_template_id=env_str("BACKEND_SMS_TEMPLATE_ID", "", env).strip(),
            sms_timeout=env_float("BACKEND_SMS_TIMEOUT", 5.0, env),
            sms_retries=env_int("BACKEND_SMS_RETRIES", 3, env),
        )
