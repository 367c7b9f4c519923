"""SHEBAO_LOG_FORMAT=json: one masked JSON object per log line."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from common.env import ConfigError
from common.log_format import JsonFormatter, formatter, log_format

REPO_ROOT = Path(__file__).resolve().parents[2]
ID_NUMBER = "11010519491231002X"


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"lookup failed for {ID_NUMBER}")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord(
        "backend", logging.ERROR, __file__, 1, message, args, exc_info
    )


def test_json_lines_are_masked() -> None:
    line = JsonFormatter().format(
        _record("code %s sent to %s", "492817", "13812345678", exc=True)
    )
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "backend"
    assert entry["time"].endswith("+00:00")
    assert "492817" not in line and "13812345678" not in line and ID_NUMBER not in line
    assert "138****5678" in entry["message"]
    assert "ValueError" in entry["exc"]


def test_the_variable_chooses_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHEBAO_LOG_FORMAT", raising=False)
    assert log_format() == "plain" and not isinstance(formatter(), JsonFormatter)
    monkeypatch.setenv("SHEBAO_LOG_FORMAT", "JSON")
    assert isinstance(formatter(), JsonFormatter)
    with pytest.raises(ConfigError, match="SHEBAO_LOG_FORMAT"):
        log_format({"SHEBAO_LOG_FORMAT": "xml"})


def test_logging_yml_writes_json_lines_in_a_process() -> None:
    script = (
        "import logging, logging.config, yaml\n"
        "from common.log_format import apply_log_format\n"
        "logging.config.dictConfig(yaml.safe_load(open('logging.yml')))\n"
        "apply_log_format()\n"
        f"logging.getLogger('actions').warning('ID %s', '{ID_NUMBER}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={
            "PYTHONPATH": str(REPO_ROOT),
            "SHEBAO_LOG_FORMAT": "json",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines and lines[-1]["logger"] == "actions"
    assert (
        ID_NUMBER not in result.stdout and "110105********002X" in lines[-1]["message"]
    )
