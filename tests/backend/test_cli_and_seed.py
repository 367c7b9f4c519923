"""Settings from the environment, the demo dataset and ``python -m backend``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict

import pytest
import requests

from backend.demo import DEMO_ID_NUMBER, DEMO_PEOPLE, seed
from backend.settings import DEV_ADMIN_TOKEN, DEV_SECRET, BackendSettings
from common.identity import is_valid_id_number
from tests.support.backend import BackendFactory, FakeClock
from tools.devstack import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
STRONG_ADMIN_TOKEN = "kq3V9mZp2Lr8Xw4Tn6Yb1Hc5Jd7Fg0Sa"
STRONG_SECRET = "Ue4Ri7Oo2Pa9Sd1Fg6Hj3Kl8Zx5Cv0Bn"
STRONG_CLIENT_SECRET = "Mn2Bv5Cx8Zl1Kj4Hg7Fd0Sa3Po6Iu9Yt"


# ---- settings ---------------------------------------------------------------------
def test_defaults(tmp_path: Path) -> None:
    settings = BackendSettings.from_env({"SHEBAO_VAR_DIR": str(tmp_path)})
    assert settings.host == "127.0.0.1" and settings.port == 5100
    assert (
        settings.database_url == f"sqlite:///{tmp_path.resolve() / 'backend.sqlite3'}"
    )
    assert settings.mode == "production" and not settings.development
    assert (settings.admin_token, settings.secret) == (DEV_ADMIN_TOKEN, DEV_SECRET)
    assert settings.token_ttl == 900 and settings.code_ttl == 300
    assert "BACKEND_ADMIN_TOKEN" in (settings.production_problems() or "")


def test_overrides() -> None:
    settings = BackendSettings.from_env(
        {
            "BACKEND_HOST": "0.0.0.0",
            "BACKEND_PORT": "6000",
            "DATABASE_URL": "postgres://app@db/shebao",
            "BACKEND_ADMIN_TOKEN": STRONG_ADMIN_TOKEN,
            "BACKEND_SECRET": STRONG_SECRET,
            "BACKEND_CLIENT_SECRET": STRONG_CLIENT_SECRET,
            "BACKEND_MODE": "Production",
            "BACKEND_TOKEN_TTL": "600",
            "BACKEND_CODE_TTL": "120",
            "BACKEND_STARTS_PER_ID": "5",
            "BACKEND_STARTS_PER_CLIENT": "50",
            "BACKEND_STARTS_PER_ID_PER_DAY": "12",
            "BACKEND_STARTS_GLOBAL": "5000",
            "BACKEND_SMS_URL": "https://sms.example.cn/v1/send",
            "BACKEND_SMS_API_KEY": STRONG_SECRET + "-sms",
            "BACKEND_SMS_TEMPLATE_ID": "TPL_CODE_1",
        }
    )
    assert (settings.starts_per_id, settings.starts_per_client) == (5, 50)
    assert (settings.starts_per_id_per_day, settings.starts_global) == (12, 5000)
    assert settings.client_secret == STRONG_CLIENT_SECRET
    assert settings.database_url == "postgresql://app@db/shebao"
    assert (settings.host, settings.port, settings.token_ttl, settings.code_ttl) == (
        "0.0.0.0",
        6000,
        600,
        120,
    )
    assert settings.production_problems() is None


def test_development_mode_may_use_dev_secrets() -> None:
    settings = BackendSettings.from_env(
        {"SHEBAO_ENV": "development", "BACKEND_MODE": "development"}
    )
    assert settings.development and settings.production_problems() is None


def test_shebao_env_development_defaults_to_development_mode() -> None:
    settings = BackendSettings.from_env({"SHEBAO_ENV": "development"})
    assert settings.development and settings.production_problems() is None


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        BackendSettings.from_env({"BACKEND_MODE": "staging"})


# ---- demo data --------------------------------------------------------------------
def test_demo_ids_are_valid_and_distinct() -> None:
    ids = [person.id_number for person in DEMO_PEOPLE]
    assert DEMO_ID_NUMBER in ids and len(set(ids)) == len(ids)
    assert all(is_valid_id_number(i) for i in ids)
    assert {p.residency_type for p in DEMO_PEOPLE} == {"urban", "agricultural"}


def test_seed_is_idempotent_and_demo_shows_partial_history(
    database_url: str, make_backend: BackendFactory
) -> None:
    added = seed(database_url)
    assert added == len(DEMO_PEOPLE) + sum(len(p.payments) for p in DEMO_PEOPLE)
    assert seed(database_url) == 0

    clock = FakeClock(datetime(2025, 11, 20, 4, 0, tzinfo=timezone.utc))
    backend = make_backend(clock=clock)
    token = backend.login(DEMO_ID_NUMBER)
    summary_2025 = backend.summary(token, 2025).json()
    assert [c["period"] for c in summary_2025["contributions"]] == [
        f"2025-{m:02d}" for m in range(1, 7)
    ]
    assert summary_2025["arrears"]["months"] == [f"2025-{m:02d}" for m in range(7, 12)]
    assert summary_2025["arrears"]["amount"] == "175.00"
    assert backend.summary(token, 2024).json()["arrears"]["count"] == 0


# ---- the command line -------------------------------------------------------------
def _env(tmp_path: Path, **extra: str) -> Dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BACKEND_", "DATABASE_URL", "SHEBAO_ENV"))
    }
    env.update({"SHEBAO_VAR_DIR": str(tmp_path), "PYTHONPATH": str(REPO_ROOT), **extra})
    return env


def _cli(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=REPO_ROOT,
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_migrate_and_seed(tmp_path: Path) -> None:
    migrated = _cli(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "backend.sqlite3").exists()
    seeded = _cli(tmp_path, "seed")
    assert seeded.returncode == 0, seeded.stderr
    assert f"Demo ID number: {DEMO_ID_NUMBER}" in seeded.stdout


def test_cli_serve_refuses_production_with_dev_secrets(tmp_path: Path) -> None:
    result = _cli(tmp_path, "serve")
    assert result.returncode == 2
    assert "BACKEND_SECRET" in result.stderr


def test_cli_serve(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "serve", "--seed"],
        cwd=REPO_ROOT,
        env=_env(
            tmp_path,
            SHEBAO_ENV="development",
            BACKEND_MODE="development",
            BACKEND_PORT=str(port),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, "backend exited early"
            assert time.monotonic() < deadline, "backend did not become healthy"
            time.sleep(0.2)
        started = requests.post(
            f"{url}/api/v1/verification/start",
            json={"id_number": DEMO_ID_NUMBER},
            timeout=5,
        )
        assert started.json()["masked_phone"] == "138****1234"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert f"Demo ID number: {DEMO_ID_NUMBER}" in output
    # Apart from that announcement, no ID number or phone reaches the output.
    assert DEMO_ID_NUMBER not in output.replace(f"Demo ID number: {DEMO_ID_NUMBER}", "")
    assert "13812341234" not in output
