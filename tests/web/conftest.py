"""Fixtures for the web widget's tests: Chromium, the web server, a fake Rasa.

The browser is Debian's Chromium (``apt-get install chromium``) driven by
Playwright's Python API; Playwright's own browser download is never used.
Screenshots go to ``var/artifacts/web/`` (git-ignored) as build artifacts.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import AsyncIterator, Callable, Dict, Iterator, List, Optional

import pytest

from tests.web.servers import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    REPO_ROOT,
    FakeRasa,
    Process,
    chromium_path,
    web_server,
)
from tools.devstack import free_port


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
async def browser() -> AsyncIterator["object"]:
    """A headless Chromium, one per test (Playwright's async API)."""
    path = chromium_path()
    if path is None:
        pytest.fail("Chromium not found: `make browser` installs Debian's chromium")
    if not (REPO_ROOT / "web" / "vendor" / "socket.io.min.js").is_file():
        pytest.fail(
            "web/vendor/socket.io.min.js is missing: run `npm ci --prefix web` and "
            "copy web/node_modules/socket.io-client/dist/socket.io.min.js* to "
            "web/vendor/"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def start_web_server(artifacts: Path) -> Iterator[Callable[[str], str]]:
    """Start ``python -m web`` pointed at a Rasa URL; returns the server's URL."""
    started: List[Process] = []

    def _start(rasa_url: str, port: Optional[int] = None) -> str:
        process = web_server(rasa_url, artifacts, port).start()
        started.append(process)
        return process.health_url.rsplit("/health", 1)[0]

    yield _start
    for process in started:
        process.stop()


@pytest.fixture
def fake_rasa(artifacts: Path) -> Iterator[FakeRasa]:
    server = FakeRasa(artifacts).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def partner_site() -> Iterator[Callable[[str], str]]:
    """A third-party site on its own origin that serves one page we give it."""
    pages: Dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def _serve(html: str) -> str:
        pages["/"] = html.encode("utf-8")
        return f"http://127.0.0.1:{server.server_port}/"

    yield _serve
    server.shutdown()
    server.server_close()
