"""The scaled launcher's production profile refuses to start without its secrets.

Run as an operator would (``SHEBAO_ENV=production python -m tools.scaled``):
it exits with status 2, names every missing variable, and neither creates a
database nor starts a process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from tests.support.ids import random_tag
from tools.scaled import SECRET_NAMES
from tools.settings import LOCAL_POSTGRES_URL

pytestmark = pytest.mark.scaled
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_production_without_secrets_refuses_before_starting_anything(
    tmp_path: Path,
) -> None:
    prefix = f"test_refused_{random_tag(8)}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SECRET_NAMES and not k.endswith("_FILE") and k != "BACKEND_MODE"
    }
    env.update(
        {
            "SHEBAO_ENV": "production",
            "SHEBAO_VAR_DIR": str(tmp_path),
            "SHEBAO_SCALED_DB_PREFIX": prefix,
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "tools.scaled", "--replicas", "2", "--actions", "2"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("refusing to start:")
    for name in (
        "BACKEND_MODE",
        "BACKEND_SECRET",
        "BACKEND_ADMIN_TOKEN",
        "BACKEND_CLIENT_SECRET",
        "SHEBAO_ACTIONS_TOKEN",
        "SHEBAO_SESSION_SECRET",
        "SHEBAO_REST_API_KEY",
        "SHEBAO_TRACKER_SENDER_KEY",
        "WECHAT_TOKEN",
        "CONSOLE_SECRET",
    ):
        assert name in result.stderr, name
    assert "Starting" not in result.stdout
    assert not (tmp_path / "scaled").exists()  # no run folder, no nginx, no logs
    with psycopg2.connect(f"{LOCAL_POSTGRES_URL}/postgres") as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                (f"{prefix}%",),
            )
            assert cursor.fetchone() == (0,)
    connection.close()
