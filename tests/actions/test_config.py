"""The action server's settings: secrets from the environment or from files."""

from __future__ import annotations

import pytest

from actions.config import ActionSettings
from common.env import ConfigError

STRONG = "0123456789abcdef0123456789abcdef"


def test_the_secrets_may_come_from_files(tmp_path) -> None:
    (tmp_path / "token").write_text(STRONG + "\n", encoding="utf-8")
    (tmp_path / "client").write_text(STRONG[::-1], encoding="utf-8")
    settings = ActionSettings.from_env(
        {
            "SHEBAO_ACTIONS_TOKEN_FILE": str(tmp_path / "token"),
            "SHEBAO_BACKEND_CLIENT_SECRET_FILE": str(tmp_path / "client"),
        }
    )
    assert settings.actions_token == STRONG
    assert settings.backend_client_secret == STRONG[::-1]
    settings.check_for_production({"SHEBAO_ENV": "production"})


def test_an_unreadable_secret_file_refuses_to_start(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SHEBAO_ACTIONS_TOKEN_FILE"):
        ActionSettings.from_env({"SHEBAO_ACTIONS_TOKEN_FILE": str(tmp_path / "no")})
