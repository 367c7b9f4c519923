"""The review console in tests: a server on a free port and a logged-in client.

``ConsoleServer`` runs ``python -m console serve`` in its own process group
(stopped by its own id) against a tracker store and a console database in a
temporary folder; ``StaffClient`` is a ``requests.Session`` that knows the CSRF
token of the page it last read.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import requests

from tools.devstack import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
CONVERSATION_LINK = re.compile(r'class="conv" href="/conversation\?id=([^"]+)"')


def console_env(var_dir: Path, **extra: str) -> Dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SHEBAO_ENV": "development",
        "SHEBAO_VAR_DIR": str(var_dir),
        # this folder's stores, whatever the caller's environment (the Makefile
        # exports SHEBAO_TRACKER_URL for the stack)
        "SHEBAO_TRACKER_URL": f"sqlite:///{var_dir / 'tracker.sqlite3'}",
        "CONSOLE_DATABASE_URL": f"sqlite:///{var_dir / 'console.sqlite3'}",
        "CONSOLE_SUMMARY_INTERVAL": "0.3",
        **extra,
    }


def create_staff(
    env: Mapping[str, str], username: str, password: str, role: str = "reviewer"
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "console", "create-staff", username, "--role", role],
        input=password + "\n",
        text=True,
        capture_output=True,
        env=dict(env),
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def run_cli(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        text=True,
        capture_output=True,
        env=dict(env),
        cwd=REPO_ROOT,
        timeout=120,
    )


@dataclass
class ConsoleServer:
    env: Dict[str, str]
    port: int
    log: Path
    popen: Optional[subprocess.Popen] = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def in_folder(cls, var_dir: Path, **extra: str) -> "ConsoleServer":
        port = free_port()
        env = console_env(var_dir, CONSOLE_PORT=str(port), **extra)
        return cls(env, port, var_dir / "console.log")

    def start(self, timeout: float = 120.0) -> "ConsoleServer":
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "console", "serve"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"console exited; see {self.log}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        self.stop()
        raise TimeoutError("console not healthy")

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()


class StaffClient(requests.Session):
    """A browser-like client of the console."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.csrf = ""

    def page(self, path: str, **kwargs: object) -> requests.Response:
        response = self.get(self.base_url + path, timeout=30, **kwargs)  # type: ignore[arg-type]
        found = CSRF.search(response.text)
        if found:
            self.csrf = unescape(found.group(1))
        return response

    def submit(
        self, path: str, data: Dict[str, object], csrf: bool = True
    ) -> requests.Response:
        body = dict(data)
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        response = self.post(self.base_url + path, data=body, timeout=60)
        found = CSRF.search(response.text)
        if found:
            self.csrf = unescape(found.group(1))
        return response

    def login(self, username: str, password: str) -> requests.Response:
        self.page("/login")
        return self.submit("/login", {"username": username, "password": password})


def conversation_ids(html: str) -> List[str]:
    from urllib.parse import unquote_plus

    return [unquote_plus(unescape(m)) for m in CONVERSATION_LINK.findall(html)]


def temp_folder(prefix: str) -> Path:
    runs = REPO_ROOT / "var" / "test-runs"
    runs.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=runs))
