"""Console configuration, read once from the environment.

- ``CONSOLE_HOST`` / ``CONSOLE_PORT``: where it listens (``127.0.0.1`` / ``5200``)
- ``CONSOLE_DATABASE_URL``: the console's own database (staff, sessions,
  summaries, annotations, audit); default ``sqlite:///$SHEBAO_VAR_DIR/console.sqlite3``
- ``SHEBAO_TRACKER_URL``: the Rasa tracker store it reads (and, for retention,
  deletes from); default ``sqlite:///$SHEBAO_VAR_DIR/tracker.sqlite3``
- ``CONSOLE_SECRET``: key of the pre-login CSRF tokens; production
  (``SHEBAO_ENV`` unset or ``production``) refuses the development value or a
  weak one
- ``CONSOLE_SUMMARY_INTERVAL``: seconds between summary updates (``2``)
- ``CONSOLE_RETENTION_INTERVAL``: seconds between runs of the retention job, which
  deletes conversations older than the admin's retention setting (``3600``)
- ``CONSOLE_SESSION_IDLE``: idle seconds before a session expires (``1800``)
- ``CONSOLE_LOCKOUT_FAILURES`` / ``CONSOLE_LOCKOUT_SECONDS``: failed logins
  that lock an account name, and for how long (``5`` / ``900``)
- ``CONSOLE_PROXIES_COUNT``: trusted reverse proxies in front (``0``); with a TLS
  proxy set it to 1 so ``X-Forwarded-Proto: https`` makes cookies ``Secure``
- ``CONSOLE_DOMAIN``: the assistant's ``domain.yml``, for the list of intents a
  turn can be relabelled to (``domain.yml`` in the working folder; optional)
- ``CONSOLE_LOW_CONFIDENCE``: intent confidence below which a user turn goes to
  the NLU inbox (``0.6``)
- ``SHEBAO_EVENT_BROKER_URL`` / ``SHEBAO_EVENT_QUEUE``: Rasa's event queue,
  whose messages wake the summarizer (``common.event_queue``; empty URL: none)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from common.deployment import deployment_env, is_loopback, require_production_secret
from common.env import ConfigError, env_float, env_int, env_secret, env_str
from common.event_queue import EventQueueSettings

DEV_SECRET = "dev-console-secret-change-me"


def normalize_url(url: str) -> str:
    """Accept the common ``postgres://`` spelling, which SQLAlchemy 1.4 rejects."""
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


@dataclass(frozen=True)
class ConsoleSettings:
    """Everything the console needs; immutable once read."""

    database_url: str
    tracker_url: str
    host: str = "127.0.0.1"
    port: int = 5200
    secret: str = DEV_SECRET
    environment: str = "production"
    summary_interval: float = 2.0
    retention_interval: float = 3600.0
    session_idle_seconds: int = 1800
    lockout_failures: int = 5
    lockout_seconds: int = 900
    proxies_count: int = 0
    low_confidence: float = 0.6
    db_threads: int = 4
    domain_path: str = "domain.yml"
    event_queue: EventQueueSettings = field(default_factory=EventQueueSettings)

    def __post_init__(self) -> None:
        if self.lockout_failures < 1 or self.lockout_seconds < 1:
            raise ConfigError(
                "CONSOLE_LOCKOUT_FAILURES and CONSOLE_LOCKOUT_SECONDS must be positive"
            )
        if self.session_idle_seconds < 60:
            raise ConfigError("CONSOLE_SESSION_IDLE must be at least 60 seconds")

    @property
    def development(self) -> bool:
        """Whether the development secret and demo account are allowed (loopback
        only)."""
        return self.environment == "development"

    def require_servable(self) -> None:
        """Raise ``UnsafeForProduction`` for a weak ``CONSOLE_SECRET`` in production,
        ``ConfigError`` for development on a non-loopback interface."""
        if self.development and not is_loopback(self.host):
            raise ConfigError(
                f"SHEBAO_ENV=development is refused on CONSOLE_HOST={self.host}: the "
                "development secret and demo account stay on a loopback interface"
            )
        require_production_secret(
            "CONSOLE_SECRET",
            self.secret,
            (DEV_SECRET,),
            {"SHEBAO_ENV": self.environment},
        )

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ConsoleSettings":
        """Settings from ``CONSOLE_*``/``SHEBAO_*`` variables, with development
        defaults."""
        env = environ
        var_dir = Path(env_str("SHEBAO_VAR_DIR", "var", env)).resolve()
        return cls(
            database_url=normalize_url(
                env_secret(
                    "CONSOLE_DATABASE_URL",
                    f"sqlite:///{var_dir / 'console.sqlite3'}",
                    env,
                )
            ),
            tracker_url=normalize_url(
                env_secret(
                    "SHEBAO_TRACKER_URL",
                    f"sqlite:///{var_dir / 'tracker.sqlite3'}",
                    env,
                )
            ),
            host=env_str("CONSOLE_HOST", "127.0.0.1", env),
            port=env_int("CONSOLE_PORT", 5200, env),
            secret=env_secret("CONSOLE_SECRET", DEV_SECRET, env),
            environment=deployment_env(env),
            summary_interval=env_float("CONSOLE_SUMMARY_INTERVAL", 2.0, env),
            retention_interval=env_float("CONSOLE_RETENTION_INTERVAL", 3600.0, env),
            session_idle_seconds=env_int("CONSOLE_SESSION_IDLE", 1800, env),
            lockout_failures=env_int("CONSOLE_LOCKOUT_FAILURES", 5, env),
            lockout_seconds=env_int("CONSOLE_LOCKOUT_SECONDS", 900, env),
            proxies_count=env_int("CONSOLE_PROXIES_COUNT", 0, env),
            low_confidence=env_float("CONSOLE_LOW_CONFIDENCE", 0.6, env),
            domain_path=env_str("CONSOLE_DOMAIN", "domain.yml", env),
            event_queue=EventQueueSettings.from_env(env),
        )
