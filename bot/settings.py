"""Process-wide settings for the launcher and the action server, from the environment.

Every value has a development default so ``make run`` needs no set-up; in
production the operator sets the variables (see README, "Configuration").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def env(name: str, default: str) -> str:
    """An environment variable, or its documented default when unset or empty."""
    return os.environ.get(name) or default


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

    @classmethod
    def from_env(cls) -> "StackSettings":
        var_dir = Path(env("SHEBAO_VAR_DIR", "var"))
        return cls(
            var_dir=var_dir,
            host=env("SHEBAO_HOST", "127.0.0.1"),
            rasa_port=int(env("RASA_PORT", "5005")),
            actions_port=int(env("ACTIONS_PORT", "5055")),
            backend_port=int(env("BACKEND_PORT", "5100")),
            web_port=int(env("WEB_PORT", "8080")),
            model_path=Path(env("SHEBAO_MODEL", str(var_dir / "models"))),
        )
