"""Process-wide settings for the launcher and the action server, from the environment.

Every value has a development default so ``make run`` needs no set-up; in
production the operator sets the variables (see README, "Configuration").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from common.env import ConfigError, env_int, env_secret, env_str


@dataclass(frozen=True)
class StackSettings:
    """Where the pieces of the assistant listen and keep their files."""

    var_dir: Path
    host: str
    rasa_port: int
    actions_port: int
    backend_port: int
    web_port: int
    model_path: Path
    console_port: int = 5200

    @classmethod
    def from_env(cls) -> "StackSettings":
        """Ports and paths from the environment, with the local defaults."""
        var_dir = Path(env_str("SHEBAO_VAR_DIR", "var"))
        return cls(
            var_dir=var_dir,
            host=env_str("SHEBAO_HOST", "127.0.0.1"),
            rasa_port=env_int("RASA_PORT", 5005),
            actions_port=env_int("ACTIONS_PORT", 5055),
            backend_port=env_int("BACKEND_PORT", 5100),
            web_port=env_int("WEB_PORT", 8080),
            model_path=Path(env_str("SHEBAO_MODEL", str(var_dir / "models"))),
            console_port=env_int("CONSOLE_PORT", 5200),
        )


# The launcher's shared services on one machine (tools/scaled.py). A process on
# its own keeps state in memory when SHEBAO_REDIS_URL / SHEBAO_EVENT_BROKER_URL
# are empty (their documented default); the scaled topology needs both, so the
# launcher defaults them to the local services.
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
DB_PREFIX = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class ScaledSettings:
    """The scaled topology (``python -m tools.scaled``): how many of each process,
    nginx's public port and the shared PostgreSQL, Redis and RabbitMQ."""

    replicas: int = 2
    actions: int = 2
    backends: int = 2
    public_port: int = 8000
    postgres_url: str = LOCAL_POSTGRES_URL
    db_prefix: str = "shebao_scaled"
    redis_url: str = LOCAL_REDIS_URL
    redis_prefix: str = "shebao:"
    broker_url: str = LOCAL_BROKER_URL
    event_queue: str = "shebao.events"
    nginx: str = "nginx"

    def __post_init__(self) -> None:
        if min(self.replicas, self.actions, self.backends) < 1:
            raise ConfigError("--replicas and --actions must be at least 1")
        if not DB_PREFIX.match(self.db_prefix):
            raise ConfigError(
                "SHEBAO_SCALED_DB_PREFIX must be lower-case letters, digits and _ "
                "(at most 40, not starting with a digit)"
            )

    def database(self, role: str) -> str:
        """The database name of ``role`` (``tracker``, ``backend``, ``console``)."""
        return f"{self.db_prefix}_{role}"

    def database_url(self, role: str) -> str:
        """SQLAlchemy URL of ``role``'s database on the shared PostgreSQL server."""
        return f"{self.postgres_url.rstrip('/')}/{self.database(role)}"

    @classmethod
    def from_env(
        cls,
        replicas: int = 2,
        actions: int = 2,
        environ: Optional[Mapping[str, str]] = None,
    ) -> "ScaledSettings":
        """Counts from the command line, the rest from the environment."""
        return cls(
            replicas=replicas,
            actions=actions,
            public_port=env_int("SHEBAO_SCALED_PORT", 8000, environ),
            postgres_url=env_secret(
                "SHEBAO_SCALED_POSTGRES", LOCAL_POSTGRES_URL, environ
            ),
            db_prefix=env_str("SHEBAO_SCALED_DB_PREFIX", "shebao_scaled", environ),
            redis_url=env_secret("SHEBAO_REDIS_URL", LOCAL_REDIS_URL, environ),
            redis_prefix=env_str("SHEBAO_REDIS_PREFIX", "shebao:", environ),
            broker_url=env_secret("SHEBAO_EVENT_BROKER_URL", LOCAL_BROKER_URL, environ),
            event_queue=env_str("SHEBAO_EVENT_QUEUE", "shebao.events", environ),
            nginx=env_str("SHEBAO_NGINX", "nginx", environ),
        )
