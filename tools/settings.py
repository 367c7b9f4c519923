"""Process-wide settings for the launcher and the action server, from the environment.

Every value has a development default so ``make run`` needs no set-up; in
production the operator sets the variables (see README, "Configuration").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.env import env_int, env_str


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
