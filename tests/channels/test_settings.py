"""What the Rasa server's channels refuse in production."""

from __future__ import annotations

import pytest

from bot.channels.settings import ChannelSettings
from common.deployment import UnsafeForProduction

STRONG = "0123456789abcdef0123456789abcdef"


def test_production_refuses_the_development_session_secret() -> None:
    with pytest.raises(UnsafeForProduction, match="SHEBAO_SESSION_SECRET"):
        ChannelSettings.from_env({}).check_for_production({})


def test_production_refuses_any_origin() -> None:
    settings = ChannelSettings.from_env(
        {"SHEBAO_SESSION_SECRET": STRONG, "SHEBAO_CORS_ORIGINS": "*"}
    )
    with pytest.raises(UnsafeForProduction, match="SHEBAO_CORS_ORIGINS"):
        settings.check_for_production({})


def test_production_accepts_real_settings() -> None:
    env = {
        "SHEBAO_SESSION_SECRET": STRONG,
        "SHEBAO_CORS_ORIGINS": "https://www.bureau.example, https://chat.bureau.example",
        "SHEBAO_REST_API_KEY": STRONG[::-1],
    }
    settings = ChannelSettings.from_env(env)
    settings.check_for_production(env)
    settings.check_rest_for_production(env)
    assert settings.cors_origins == (
        "https://www.bureau.example",
        "https://chat.bureau.example",
    )
