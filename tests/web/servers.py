"""Servers the widget tests start themselves, each stopped by its own id.

- :class:`Process`: a subprocess in its own process group with a health URL;
- :class:`FakeRasa`: ``fake_rasa.py`` on a fixed port (stop and start again);
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from tools.devstack import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "var" / "artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> Optional[str]:
    """Debian's Chromium, if installed (``apt-get install -y chromium``)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Process:
    """A server this test run started, stopped by its own process group id."""

    name: str
    command: List[str]
    env: Dict[str, str]
    health_url: str
    log: Path
    popen: Optional[subprocess.Popen] = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> "Process":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            log.write(f"\n=== {self.name} ({self.health_url}) ===\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log}")
            try:
                with urllib.request.urlopen(self.health_url, timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(
            f"{self.name} not healthy at {self.health_url}; see {self.log}"
        )

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def python_env(extra: Dict[str, str]) -> Dict[str, str]:
    """This environment, with the repository importable and ``extra`` on top."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(REPO_ROOT), env.get("PYTHONPATH", "")] if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def web_server(rasa_url: str, log_dir: Path, port: Optional[int] = None) -> Process:
    """``python -m web`` on ``port`` (default: a free one), pointed at ``rasa_url``."""
    port = port or free_port()
    return Process(
        "web",
        [sys.executable, "-m", "web"],
        python_env(
            {
                "WEB_HOST": "127.0.0.1",
                "WEB_PORT": str(port),
                "SHEBAO_RASA_URL": rasa_url,
            }
        ),
        f"http://127.0.0.1:{port}/health",
        log_dir / "logs" / "web.log",
    )


class FakeRasa:
    """``tests/web/fake_rasa.py`` on a fixed port: can be stopped and restarted."""

    def __init__(self, artifacts: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = Process(
            "fake-rasa",
            [sys.executable, "-m", "tests.web.fake_rasa", str(self.port)],
            # pages are served from other ports: allow any origin (development only)
            python_env({"SHEBAO_ENV": "development", "SHEBAO_CORS_ORIGINS": "*"}),
            self.url + "/",
            artifacts / "logs" / "fake-rasa.log",
        )

    def start(self) -> "FakeRasa":
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()
