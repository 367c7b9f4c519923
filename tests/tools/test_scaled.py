"""The scaled launcher's plan, without starting it: nginx.conf, settings, secrets.

(tests/scaled starts the real topology.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict

import pytest

from common.env import ConfigError
from tools.scaled import (
    NGINX_FALLBACK,
    SECRET_NAMES,
    ScaledStack,
    build_scaled_stack,
    find_nginx,
    render_nginx_conf,
)
from tools.settings import ScaledSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
STRONG = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No secret or URL of the developer's shell (the Makefile exports some)."""
    for name in SECRET_NAMES + [
        "SHEBAO_ENV",
        "BACKEND_MODE",
        "SHEBAO_CORS_ORIGINS",
        "SHEBAO_RASA_URL",
    ]:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def plan(
    tmp_path: Path, extra_env: Dict[str, str], real_nginx: bool = False
) -> ScaledStack:
    """The launcher's plan; nginx is only needed to check its configuration."""
    nginx = "true"  # any executable: nothing is started here
    if real_nginx:
        try:
            nginx = find_nginx("nginx")
        except ConfigError:
            pytest.skip(f"nginx is not installed (make nginx; {NGINX_FALLBACK})")
    return build_scaled_stack(
        ScaledSettings(public_port=18000, db_prefix="plan_only", nginx=nginx),
        var_dir=tmp_path / "run",
        model_path=REPO_ROOT / "var" / "models",
        extra_env=extra_env,
    )


def environment(stack: ScaledStack, name: str) -> Dict[str, str]:
    service = stack.service(name)
    return {**stack.env, **service.env}


def test_nginx_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    stack = plan(tmp_path, {"SHEBAO_ENV": "development"}, real_nginx=True)
    conf = render_nginx_conf(stack.template_values, stack.nginx_conf)
    text = conf.read_text(encoding="utf-8")
    for kind in ("rasa", "actions", "backend"):
        for service in stack.replicas(kind):
            port = service.health_url.split(":")[2].split("/")[0]
            assert f"server 127.0.0.1:{port} " in text
    nginx = stack.service("nginx")
    check = [*nginx.command[:-2], "-t"]  # the launcher's flags, without daemon off
    result = subprocess.run(check, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert str(tmp_path) in text and "/var/log/nginx" not in text


def test_every_process_gets_the_shared_services_and_nginx_addresses(
    tmp_path: Path,
) -> None:
    stack = plan(tmp_path, {"SHEBAO_ENV": "development"})
    names = [s.name for s in stack.services]
    assert names.count("nginx") == 1 and names[-1] == "nginx"  # stopped first
    assert [len(stack.replicas(k)) for k in ("rasa", "actions", "backend")] == [2] * 3
    for service in stack.services:
        env = environment(stack, service.name)
        assert env["SHEBAO_REDIS_URL"] == "redis://127.0.0.1:6379/0"
        assert env["SHEBAO_REDIS_PREFIX"] == "shebao:"
        assert env["SHEBAO_EVENT_BROKER_URL"].startswith("amqp://")
        assert env["SHEBAO_EVENT_QUEUE"] == "shebao.events"
        assert env["SHEBAO_TRACKER_URL"].endswith("/plan_only_tracker")
        assert env["DATABASE_URL"].endswith("/plan_only_backend")
        assert env["CONSOLE_DATABASE_URL"].endswith("/plan_only_console")
        assert "RASA_AUTH_TOKEN" not in env
    rasa = environment(stack, "rasa-2")
    assert rasa["SHEBAO_ACTIONS_URL"] == stack.actions_url  # nginx, not a process
    assert rasa["SANIC_REAL_IP_HEADER"] == "x-real-ip"
    assert "--enable-api" not in stack.service("rasa-1").command
    assert environment(stack, "actions-1")["SHEBAO_BACKEND_URL"] == stack.backend_url
    assert environment(stack, "web")["SHEBAO_RASA_URL"] == stack.public_url
    # one backend process seeds the database; the second waits for it
    assert stack.service("backend-1").prepare[0][0][-1] == "seed"
    assert stack.service("backend-2").after == ("backend-1",)
    assert stack.service("rasa-2").after == ("rasa-1",)


def production_env(tmp_path: Path) -> Dict[str, str]:
    """A complete production configuration, every secret in a file of its own."""
    env = {
        "SHEBAO_ENV": "production",
        "BACKEND_MODE": "production",
        "SHEBAO_CORS_ORIGINS": "https://www.bureau.example",
        "SHEBAO_RASA_URL": "https://chat.bureau.example",
        "BACKEND_SMS_URL": "https://sms.example.cn/v1/send",
        "BACKEND_SMS_TEMPLATE_ID": "SMS_1",
        "WECHAT_APP_ID": "wx0000000000000000",
    }
    for index, name in enumerate(SECRET_NAMES):
        value = f"{name.lower()}-{index:02d}-{STRONG}"
        if name == "WECHAT_ENCODING_AES_KEY":
            value = "k9cZ2mW8qT4vX7bN1pL6sD3fG5hJ0aR2eY8uI4oQ7wE"
        elif name.endswith("_URL"):
            value = {
                "SHEBAO_REDIS_URL": "redis://:redis-password@127.0.0.1:6379/0",
                "SHEBAO_EVENT_BROKER_URL": "amqp://shebao:broker-password@mq/%2F",
            }.get(name, f"postgresql://shebao:db-password-{index}@db/{name.lower()}")
        path = tmp_path / "secrets" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(value + "\n", encoding="utf-8")
        env[f"{name}_FILE"] = str(path)
    return env


def secret_values(tmp_path: Path) -> Dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8").strip()
        for p in (tmp_path / "secrets").iterdir()
    }


def test_production_takes_every_secret_from_files_and_none_from_argv(
    tmp_path: Path,
) -> None:
    stack = plan(tmp_path, production_env(tmp_path))
    values = secret_values(tmp_path)
    argv = " ".join(
        " ".join(part)
        for s in stack.services
        for part in [s.command, *[c for c, _ in s.prepare]]
    )
    assert not [name for name, value in values.items() if value in argv]
    # no secret in the environment every process shares
    shared = " ".join(f"{k}={v}" for k, v in stack.env.items())
    assert not [name for name, value in values.items() if value in shared]
    assert not [name for name in SECRET_NAMES if name in stack.env]
    assert stack.env["BACKEND_MODE"] == "production"
    # each process gets its own secrets only: a file where it reads files itself
    rasa, actions = environment(stack, "rasa-1"), environment(stack, "actions-2")
    backend, console = environment(stack, "backend-1"), environment(stack, "console")
    assert rasa["SHEBAO_SESSION_SECRET_FILE"].endswith("/SHEBAO_SESSION_SECRET")
    # Rasa expands endpoints.yml from its environment: the value, not a file
    assert rasa["SHEBAO_ACTIONS_TOKEN"] == values["SHEBAO_ACTIONS_TOKEN"]
    assert rasa["SHEBAO_TRACKER_URL"] == values["SHEBAO_TRACKER_URL"]
    assert actions["SHEBAO_ACTIONS_TOKEN_FILE"].endswith("/SHEBAO_ACTIONS_TOKEN")
    assert backend["DATABASE_URL_FILE"].endswith("/DATABASE_URL")
    assert console["CONSOLE_SECRET_FILE"].endswith("/CONSOLE_SECRET")
    # the tracker store's key, Redis and the broker read their files themselves
    assert rasa["SHEBAO_TRACKER_SENDER_KEY_FILE"].endswith("/SHEBAO_TRACKER_SENDER_KEY")
    assert "SHEBAO_TRACKER_SENDER_KEY" not in rasa
    assert not {"BACKEND_SECRET", "BACKEND_SECRET_FILE"} & (set(rasa) | set(actions))
    assert not {"SHEBAO_SESSION_SECRET", "SHEBAO_SESSION_SECRET_FILE"} & set(backend)
    assert "RASA_AUTH_TOKEN" not in rasa
    # the operator's databases; no dev outbox, no demo data, no demo account
    assert stack.database_urls == {}
    assert stack.service("backend-1").prepare[0][0][-1] == "migrate"
    assert stack.service("console").prepare == []
    assert environment(stack, "web")["SHEBAO_RASA_URL"] == "https://chat.bureau.example"


@pytest.mark.parametrize(
    "missing",
    ["BACKEND_SECRET", "SHEBAO_ACTIONS_TOKEN", "CONSOLE_SECRET", "WECHAT_APP_SECRET"],
)
def test_production_refuses_a_missing_secret_and_names_it(
    tmp_path: Path, missing: str
) -> None:
    env = production_env(tmp_path)
    del env[f"{missing}_FILE"]
    with pytest.raises(ConfigError, match=missing):
        plan(tmp_path, env)


def test_production_refuses_an_implicit_backend_mode(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["BACKEND_MODE"]
    with pytest.raises(ConfigError, match="BACKEND_MODE must be set to production"):
        plan(tmp_path, env)
