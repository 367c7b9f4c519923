"""The backend's settings: secrets from the environment or from files."""

from __future__ import annotations

from backend.settings import BackendSettings

STRONG = "0123456789abcdef0123456789abcdef"


def test_the_secrets_and_the_database_url_may_come_from_files(tmp_path) -> None:
    values = {
        "BACKEND_SECRET": STRONG,
        "BACKEND_ADMIN_TOKEN": STRONG[::-1],
        "BACKEND_CLIENT_SECRET": STRONG.upper(),
        "BACKEND_SMS_API_KEY": "sms-" + STRONG,
        "DATABASE_URL": "postgresql://shebao:pw@db.internal/shebao_backend",
    }
    env = {"SHEBAO_ENV": "production", "BACKEND_MODE": "production"}
    for name, value in values.items():
        (tmp_path / name).write_text(value + "\n", encoding="utf-8")
        env[f"{name}_FILE"] = str(tmp_path / name)
    settings = BackendSettings.from_env(
        {
            **env,
            "BACKEND_SMS_URL": "https://sms.example.cn/v1/send",
            "BACKEND_SMS_TEMPLATE_ID": "SMS_1",
        }
    )
    assert (settings.secret, settings.admin_token, settings.client_secret) == (
        STRONG,
        STRONG[::-1],
        STRONG.upper(),
    )
    assert settings.sms_api_key == "sms-" + STRONG
    assert settings.database_url == values["DATABASE_URL"]
    assert settings.problems() == []
