"""Settings of the Rasa server's channels, read once when a channel is built.

| variable | default | meaning |
|---|---|---|
| ``SHEBAO_CORS_ORIGINS`` | ``http://127.0.0.1:8080`` | browser origins allowed to reach Rasa (socket.io handshake; the launcher passes the same list to ``rasa run --cors``) |
| ``SHEBAO_SESSION_SECRET`` | development value | HMAC key of server-issued web session ids and client fingerprints |
| ``SHEBAO_SESSION_MAX_AGE`` | ``604800`` | seconds a web session id stays valid (after that the widget starts a new conversation) |
| ``SHEBAO_REST_API_KEY`` | empty (development: none needed) | bearer key REST clients must send; required in production |

The two secrets may also come from files (``<NAME>_FILE``, :func:`common.env.env_secret`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from common.deployment import (
    UnsafeForProduction,
    is_development,
    require_production_secret,
)
from common.env import env_int, env_list, env_secret

DEV_SESSION_SECRET = "dev-session-secret"
DEFAULT_CORS_ORIGINS = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class ChannelSettings:
    """What the REST and socket.io channels need to know."""

    cors_origins: Tuple[str, ...] = (DEFAULT_CORS_ORIGINS,)
    session_secret: str = DEV_SESSION_SECRET
    rest_api_key: str = ""
    session_max_age: int = 7 * 24 * 3600

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "ChannelSettings":
        """Read the variables in the table above."""
        return cls(
            cors_origins=env_list("SHEBAO_CORS_ORIGINS", DEFAULT_CORS_ORIGINS, environ),
            session_secret=env_secret(
                "SHEBAO_SESSION_SECRET", DEV_SESSION_SECRET, environ
            ),
            rest_api_key=env_secret("SHEBAO_REST_API_KEY", "", environ),
            session_max_age=env_int("SHEBAO_SESSION_MAX_AGE", 604800, environ),
        )

    def check_for_production(self, environ: Optional[Mapping[str, str]] = None) -> None:
        """Refuse development secrets and open origins unless in development."""
        require_production_secret(
            "SHEBAO_SESSION_SECRET", self.session_secret, (DEV_SESSION_SECRET,), environ
        )
        if not is_development(environ) and "*" in self.cors_origins:
            raise UnsafeForProduction(
                "SHEBAO_CORS_ORIGINS must list the bureau's site origins, not '*'"
            )

    def check_rest_for_production(
        self, environ: Optional[Mapping[str, str]] = None
    ) -> None:
        """REST is for integrators: production requires an API key."""
        require_production_secret("SHEBAO_REST_API_KEY", self.rest_api_key, (), environ)
