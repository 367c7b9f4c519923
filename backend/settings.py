"""Backend configuration, read once from the environment.

Every variable has a development default so ``make run`` needs no set-up.
The defaults for ``BACKEND_ADMIN_TOKEN`` and ``BACKEND_SECRET`` are for
development only: ``serve`` refuses to start in production mode with them.

- ``BACKEND_HOST``: interface to listen on (``127.0.0.1``)
- ``BACKEND_PORT``: port (``5100``)
- ``DATABASE_URL``: SQLAlchemy URL, e.g. ``postgresql://user@host/db``
  (default: ``sqlite:///$SHEBAO_VAR_DIR/backend.sqlite3``, absolute)
- ``SHEBAO_VAR_DIR``: run folder for the SQLite file (``var``)
- ``BACKEND_ADMIN_TOKEN``: bearer token of the admin endpoints
  (``dev-admin-token``, development only)
- ``BACKEND_MODE``: ``production`` or ``development`` (``production``);
  development adds ``GET /api/v1/dev/outbox`` and keeps codes readable there
- ``BACKEND_SECRET``: HMAC key for codes, tokens and hashed identifiers
  (``dev-secret-change-me``, development only)
- ``BACKEND_TOKEN_TTL``: seconds an access token lives (``900``)
- ``BACKEND_CODE_TTL``: seconds a one-time code lives (``300``)
- ``BACKEND_STARTS_PER_ID`` / ``BACKEND_STARTS_PER_CLIENT``: codes one ID
  number / one client may request per 10 minutes (``3`` / ``20``)
- ``BACKEND_TRUSTED_CLIENTS``: comma-separated peer addresses whose
  ``X-Client-Key`` header is believed (``127.0.0.1,::1``, i.e. the action
  server on this machine): for them the per-client limit applies per key
  (one key per conversation), not to the one address every resident shares
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Mapping, Optional, Tuple

from common.env import env_int, env_list, env_str

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime; tests inject a fake one."""

# The bureau's local time (China has no daylight saving time): "this month" and
# "this year" for arrears are local, not UTC.
LOCAL_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

DEV_ADMIN_TOKEN = "dev-admin-token"
DEV_SECRET = "dev-secret-change-me"
MODES = ("production", "development")


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
    secret: str = DEV_SECRET
    token_ttl: int = 900
    code_ttl: int = 300
    max_code_attempts: int = 5
    starts_per_id: int = 3
    starts_per_client: int = 20
    rate_window: int = 600
    trusted_clients: Tuple[str, ...] = ("127.0.0.1", "::1")
    # Floor on the duration of /verification/start so known and unknown IDs
    # take the same time (no account enumeration by timing).
    start_min_seconds: float = 0.25
    request_max_size: int = 64 * 1024
    db_threads: int = 8
    clock: Clock = field(default=system_clock, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"BACKEND_MODE must be one of {', '.join(MODES)}")
        if self.token_ttl <= 0 or self.code_ttl <= 0:
            raise ValueError("token and code TTLs must be positive")

    @property
    def development(self) -> bool:
        return self.mode == "development"

    @property
    def uses_dev_secrets(self) -> bool:
        return self.admin_token == DEV_ADMIN_TOKEN or self.secret == DEV_SECRET

    def production_problems(self) -> Optional[str]:
        """Why this configuration must not serve production traffic, if it must not."""
        if not self.development and self.uses_dev_secrets:
            return (
                "BACKEND_MODE is production but BACKEND_ADMIN_TOKEN or BACKEND_SECRET "
                "is the development default; set both (or BACKEND_MODE=development)"
            )
        return None

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "BackendSettings":
        """Read the ``BACKEND_*``, ``DATABASE_URL`` and ``SHEBAO_VAR_DIR`` variables."""
        env = environ
        var_dir = Path(env_str("SHEBAO_VAR_DIR", "var", env))
        return cls(
            database_url=normalize_database_url(
                env_str("DATABASE_URL", default_database_url(var_dir), env)
            ),
            host=env_str("BACKEND_HOST", "127.0.0.1", env),
            port=env_int("BACKEND_PORT", 5100, env),
            admin_token=env_str("BACKEND_ADMIN_TOKEN", DEV_ADMIN_TOKEN, env),
            mode=env_str("BACKEND_MODE", "production", env).lower(),
            secret=env_str("BACKEND_SECRET", DEV_SECRET, env),
            token_ttl=env_int("BACKEND_TOKEN_TTL", 900, env),
            code_ttl=env_int("BACKEND_CODE_TTL", 300, env),
            starts_per_id=env_int("BACKEND_STARTS_PER_ID", 3, env),
            starts_per_client=env_int("BACKEND_STARTS_PER_CLIENT", 20, env),
            trusted_clients=env_list("BACKEND_TRUSTED_CLIENTS", "127.0.0.1,::1", env),
        )
