"""The action server's settings, read once from the environment.

| variable | default | meaning |
|---|---|---|
| ``SHEBAO_BACKEND_URL`` | ``http://127.0.0.1:5100`` | the contribution backend |
| ``SHEBAO_BACKEND_TIMEOUT`` | ``3`` | seconds to wait for the backend |
| ``SHEBAO_VERIFIED_TTL`` | ``600`` | seconds a verification serves follow-up questions |
| ``SHEBAO_MAX_WRONG_CODES`` | ``3`` | wrong codes before the assistant stops the check |
| ``SHEBAO_HOST`` | ``127.0.0.1`` | interface the action server listens on |
| ``ACTIONS_PORT`` | ``5055`` | its port |
| ``SHEBAO_ACTIONS_TOKEN`` | development value | shared secret Rasa sends in ``X-Shebao-Action-Token`` |

| ``SHEBAO_BACKEND_CLIENT_SECRET`` | ``dev-client-secret-change-me`` | the backend's ``BACKEND_CLIENT_SECRET``: proves to the backend that we are the action server |
| ``SHEBAO_PRIVACY_URL`` | ``/privacy`` | the bureau's privacy page, linked before the ID number is asked for |
| ``SHEBAO_SERVICE_HOURS_EN`` / ``_ZH`` | ``during service hours`` / ``在工作时间内`` | when staff follow up a request for a person, as the handoff answer says it |

Identity sessions live in Redis when ``SHEBAO_REDIS_URL`` is set
(:mod:`common.redis_storage`: ``SHEBAO_REDIS_PREFIX``, ``SHEBAO_REDIS_SECRET``).
The two secrets may also come from files (``<NAME>_FILE``, :func:`common.env.env_secret`).

With ``SHEBAO_ENV`` other than ``development`` the server refuses to start with
the development token or a short one (:mod:`common.deployment`), and with
Redis in use, with the development ``SHEBAO_REDIS_SECRET``.  The texts
above reach the answers through slots set when a session starts
(:mod:`actions.session`), so the operator's values are what residents read.

The code's own lifetime is the backend's (``expires_in`` of
``/verification/start``); the assistant tells the resident that figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Optional

from common.deployment import require_production_secret
from common.env import ConfigError, env_float, env_int, env_secret, env_str
from common.redis_storage import RedisSettings

DEFAULT_BACKEND_URL = "http://127.0.0.1:5100"
DEV_ACTIONS_TOKEN = "dev-actions-token"
# The backend's development default (backend/settings.py DEV_CLIENT_SECRET).
DEV_CLIENT_SECRET = "dev-client-secret-change-me"


@dataclass(frozen=True)
class ActionSettings:
    """Everything the custom actions need to know; immutable once read."""

    backend_url: str = DEFAULT_BACKEND_URL
    backend_timeout: float = 3.0
    verified_ttl: int = 600
    max_wrong_codes: int = 3
    host: str = "127.0.0.1"
    port: int = 5055
    actions_token: str = DEV_ACTIONS_TOKEN
    backend_client_secret: str = DEV_CLIENT_SECRET
    privacy_url: str = "/privacy"
    service_hours_en: str = "during service hours"
    service_hours_zh: str = "在工作时间内"

    def __post_init__(self) -> None:
        if (
            self.backend_timeout <= 0
            or self.verified_ttl <= 0
            or self.max_wrong_codes < 1
        ):
            raise ConfigError(
                "SHEBAO_BACKEND_TIMEOUT and SHEBAO_VERIFIED_TTL must be positive, "
                "SHEBAO_MAX_WRONG_CODES at least 1"
            )

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ActionSettings":
        """Read the variables in the table above."""
        return cls(
            backend_url=env_str(
                "SHEBAO_BACKEND_URL", DEFAULT_BACKEND_URL, environ
            ).rstrip("/"),
            backend_timeout=env_float("SHEBAO_BACKEND_TIMEOUT", 3.0, environ),
            verified_ttl=env_int("SHEBAO_VERIFIED_TTL", 600, environ),
            max_wrong_codes=env_int("SHEBAO_MAX_WRONG_CODES", 3, environ),
            host=env_str("SHEBAO_HOST", "127.0.0.1", environ),
            port=env_int("ACTIONS_PORT", 5055, environ),
            actions_token=env_secret(
                "SHEBAO_ACTIONS_TOKEN", DEV_ACTIONS_TOKEN, environ
            ),
            backend_client_secret=env_secret(
                "SHEBAO_BACKEND_CLIENT_SECRET", DEV_CLIENT_SECRET, environ
            ),
            privacy_url=env_str("SHEBAO_PRIVACY_URL", "/privacy", environ),
            service_hours_en=env_str(
                "SHEBAO_SERVICE_HOURS_EN", "during service hours", environ
            ),
            service_hours_zh=env_str(
                "SHEBAO_SERVICE_HOURS_ZH", "在工作时间内", environ
            ),
        )

    def check_for_production(self, environ: Optional[Mapping[str, str]] = None) -> None:
        """Refuse development secrets unless ``SHEBAO_ENV=development``."""
        require_production_secret(
            "SHEBAO_ACTIONS_TOKEN", self.actions_token, (DEV_ACTIONS_TOKEN,), environ
        )
        require_production_secret(
            "SHEBAO_BACKEND_CLIENT_SECRET",
            self.backend_client_secret,
            (DEV_CLIENT_SECRET,),
            environ,
        )
        RedisSettings.from_env(environ).check_for_production(environ)


@lru_cache(maxsize=1)
def settings() -> ActionSettings:
    """The process's settings, read on first use (never at import)."""
    return ActionSettings.from_env()
