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


def test_channel_and_wechat_secrets_may_come_from_files(tmp_path) -> None:
    """``<NAME>_FILE`` (Docker/Kubernetes secrets, systemd credentials)."""
    from bot.channels.wechat.config import WeChatConfigError, WeChatSettings

    aes_key = "a" * 43
    env = {}
    for name, value in {
        "SHEBAO_SESSION_SECRET": STRONG,
        "SHEBAO_REST_API_KEY": STRONG[::-1],
        "WECHAT_TOKEN": "token-from-a-file",
        "WECHAT_APP_SECRET": "app-secret-from-a-file",
        "WECHAT_ENCODING_AES_KEY": aes_key,
    }.items():
        (tmp_path / name).write_text(value + "\n", encoding="utf-8")
        env[f"{name}_FILE"] = str(tmp_path / name)
    channels = ChannelSettings.from_env(env)
    assert (channels.session_secret, channels.rest_api_key) == (STRONG, STRONG[::-1])
    wechat = WeChatSettings.load({}, env)
    assert (wechat.token, wechat.app_secret, wechat.encoding_aes_key) == (
        "token-from-a-file",
        "app-secret-from-a-file",
        aes_key,
    )
    with pytest.raises(WeChatConfigError, match="WECHAT_TOKEN_FILE"):
        WeChatSettings.load({}, {"WECHAT_TOKEN_FILE": str(tmp_path / "missing")})
