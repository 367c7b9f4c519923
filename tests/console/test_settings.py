"""ConsoleSettings: defaults, parsing, the production refusal."""

from __future__ import annotations

import pytest

from common.deployment import UnsafeForProduction
from common.env import ConfigError
from console.app import create_app
from console.settings import DEV_SECRET, ConsoleSettings


def test_defaults_live_in_the_run_folder(tmp_path):
    settings = ConsoleSettings.from_env({"SHEBAO_VAR_DIR": str(tmp_path)})
    assert settings.host == "127.0.0.1" and settings.port == 5200
    assert settings.database_url == f"sqlite:///{tmp_path / 'console.sqlite3'}"
    assert settings.tracker_url == f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    assert settings.environment == "production"
    assert settings.session_idle_seconds == 1800
    assert (settings.lockout_failures, settings.lockout_seconds) == (5, 900)


def test_variables_are_read_and_postgres_spelling_accepted():
    settings = ConsoleSettings.from_env(
        {
            "CONSOLE_PORT": "5300",
            "CONSOLE_DATABASE_URL": "postgres://u@h/console",
            "SHEBAO_TRACKER_URL": "postgresql://u@h/tracker",
        }
    )
    assert settings.port == 5300
    assert settings.database_url == "postgresql://u@h/console"
    assert settings.tracker_url == "postgresql://u@h/tracker"


def test_malformed_values_name_the_variable():
    with pytest.raises(ConfigError, match="CONSOLE_PORT"):
        ConsoleSettings.from_env({"CONSOLE_PORT": "many"})


@pytest.mark.parametrize("secret", ["", DEV_SECRET, "short", "a" * 40])
def test_production_refuses_a_weak_or_development_secret(secret, tmp_path):
    env = {"SHEBAO_ENV": "production", "SHEBAO_VAR_DIR": str(tmp_path)}
    if secret:
        env["CONSOLE_SECRET"] = secret
    settings = ConsoleSettings.from_env(env)
    with pytest.raises(UnsafeForProduction, match="CONSOLE_SECRET"):
        create_app(settings)


def test_production_accepts_a_strong_secret_and_development_the_default(tmp_path):
    strong = ConsoleSettings.from_env(
        {
            "SHEBAO_ENV": "production",
            "SHEBAO_VAR_DIR": str(tmp_path),
            "CONSOLE_SECRET": "k3J9x-Qm2vP8wZr5tLb7nYc4hFd6gSa1",
        }
    )
    strong.require_servable()
    ConsoleSettings.from_env(
        {"SHEBAO_ENV": "development", "SHEBAO_VAR_DIR": str(tmp_path)}
    ).require_servable()


def test_event_queue_is_off_by_default_and_read_when_set():
    assert not ConsoleSettings.from_env({}).event_queue.enabled
    settings = ConsoleSettings.from_env(
        {
            "SHEBAO_EVENT_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
            "SHEBAO_EVENT_QUEUE": "q.test",
        }
    )
    assert settings.event_queue.enabled and settings.event_queue.queue == "q.test"
