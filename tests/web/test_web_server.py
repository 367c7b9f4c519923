"""The widget's web server (``python -m web``) over real HTTP, and its settings."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Iterator, Tuple

import pytest

from tests.web.servers import ARTIFACTS, web_server
from web.app import content_security_policy, render_demo_page
from web.settings import WebSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
RASA_URL = "http://rasa.example.test:5005"


def fetch(url: str) -> Tuple[int, Message, str]:
    """Status, headers (case-insensitive) and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8")


@pytest.fixture(scope="module")
def web_url() -> Iterator[str]:
    """One ``python -m web`` for this module, as an operator starts it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    process = web_server(RASA_URL, ARTIFACTS).start()
    yield process.health_url.rsplit("/health", 1)[0]
    process.stop()


def test_settings_defaults_and_overrides(monkeypatch):
    for name in ("WEB_HOST", "WEB_PORT", "SHEBAO_RASA_URL", "SHEBAO_WEB_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = WebSettings.from_env()
    assert (settings.host, settings.port, settings.rasa_url) == (
        "127.0.0.1",
        8080,
        "http://localhost:5005",
    )
    assert settings.web_dir == REPO_ROOT / "web"
    monkeypatch.setenv("WEB_PORT", "9001")
    monkeypatch.setenv("SHEBAO_RASA_URL", "https://chat.bureau.example/")
    settings = WebSettings.from_env()
    assert settings.port == 9001
    assert settings.rasa_url == "https://chat.bureau.example"
    assert settings.rasa_websocket_origin == "wss://chat.bureau.example"


@pytest.mark.parametrize(
    "url", ["localhost:5005", "javascript:alert(1)", "ftp://x", ""]
)
def test_settings_reject_a_rasa_url_that_is_not_http(url):
    with pytest.raises(ValueError):
        WebSettings(rasa_url=url)


def test_importing_creates_no_app():
    code = (
        "import web, web.app, web.settings; from sanic import Sanic; "
        "print(len(Sanic._app_registry))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0"


def test_demo_page_escapes_the_injected_url():
    settings = WebSettings(rasa_url='http://evil.test/"><script>alert(1)</script>')
    page = render_demo_page('<x data-socket-url="{{socket_url}}">', settings, "zh")
    assert page == (
        '<x data-socket-url="http://evil.test/&quot;&gt;&lt;script&gt;alert(1)'
        '&lt;/script&gt;">'
    )


def test_csp_allows_sockets_only_to_rasa():
    csp = content_security_policy(WebSettings(rasa_url="https://chat.example:8443"))
    assert "connect-src 'self' https://chat.example:8443 wss://chat.example:8443" in csp
    assert "script-src 'self'" in csp and "unsafe" not in csp


def test_widget_does_not_hard_code_a_host():
    source = (REPO_ROOT / "web" / "widget" / "shebao-widget.js").read_text(
        encoding="utf-8"
    )
    assert "localhost" not in source and "127.0.0.1" not in source
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source


def test_health(web_url):
    status, headers, body = fetch(web_url + "/health")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert '"status":"ok"' in body


@pytest.mark.parametrize(
    "query, lang, html_lang",
    [("", "zh", "zh-CN"), ("?lang=en", "en", "en"), ("?lang=xx", "zh", "zh-CN")],
)
def test_demo_page_embeds_the_widget_with_the_configured_rasa_url(
    web_url, query, lang, html_lang
):
    status, headers, body = fetch(web_url + "/" + query)
    assert status == 200
    assert f'<html lang="{html_lang}" data-page-lang="{lang}">' in body
    assert (
        f'<script src="/widget/shebao-widget.js" data-socket-url="{RASA_URL}" '
        f'data-lang="{lang}" defer></script>'
    ) in body
    assert "{{" not in body
    assert (
        f"connect-src 'self' {RASA_URL} ws://rasa.example.test:5005"
        in headers["Content-Security-Policy"]
    )
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/widget/shebao-widget.js", "application/javascript"),
        ("/widget/shebao-widget.css", "text/css"),
        ("/widget/redact.js", "application/javascript"),
        ("/widget/socket.io.min.js", "application/javascript"),
        ("/demo/demo.css", "text/css"),
        ("/demo/emblem.svg", "image/svg+xml"),
    ],
)
def test_static_files(web_url, path, content_type):
    status, headers, _ = fetch(web_url + path)
    assert status == 200
    assert headers["Content-Type"].startswith(content_type)


@pytest.mark.parametrize(
    "path",
    [
        "/widget/app.py",
        "/widget/..%2F..%2Fbot%2Fweb%2Fapp.py",
        "/widget/package.json",
        "/demo/index.html",  # the template is served rendered at / only
        "/demo/..%2F..%2Fpackage.json",
        "/web/widget/shebao-widget.js",
    ],
)
def test_nothing_else_is_served(web_url, path):
    status, headers, body = fetch(web_url + path)
    assert status == 404
    assert headers["Content-Type"].startswith("application/json")


def fetch_raw(url: str, **headers: str) -> Tuple[int, Message, bytes]:
    """Status, headers and the body exactly as transferred (not decompressed)."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_widget_assets_are_versioned_gzipped_and_cached(web_url):
    import gzip
    import json
    import re

    # The one-tag embed's script: short cache, gzip, names of what it loads.
    status, headers, body = fetch_raw(
        web_url + "/widget/shebao-widget.js", **{"Accept-Encoding": "gzip, br"}
    )
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert headers["Cache-Control"] == "public, max-age=300, must-revalidate"
    assert headers["Vary"] == "Accept-Encoding"
    script = gzip.decompress(body).decode("utf-8")
    manifest = json.loads(
        re.search(r"var ASSETS = (\{.*?\});", script).group(1)  # type: ignore[union-attr]
    )
    assert set(manifest) == {"shebao-widget.css", "redact.js", "socket.io.min.js"}
    assert re.fullmatch(
        r"shebao-widget\.[0-9a-f]{12}\.css", manifest["shebao-widget.css"]
    )

    # The plain script's ETag is its versioned name; an unchanged one is a 304.
    versioned = headers["ETag"].strip('"')
    assert re.fullmatch(r"shebao-widget\.[0-9a-f]{12}\.js", versioned)
    status, _, body = fetch_raw(
        web_url + "/widget/shebao-widget.js", **{"If-None-Match": headers["ETag"]}
    )
    assert status == 304 and body == b""

    # Versioned files: cached for a year, the same bytes as the plain names.
    transferred, raw = 0, 0
    for name in [versioned, *manifest.values()]:
        status, headers, body = fetch_raw(
            f"{web_url}/widget/{name}", **{"Accept-Encoding": "gzip"}
        )
        assert status == 200, name
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["Content-Encoding"] == "gzip"
        status, plain_headers, plain = fetch_raw(f"{web_url}/widget/{name}")
        assert "Content-Encoding" not in plain_headers
        assert gzip.decompress(body) == plain
        transferred += len(body)
        raw += len(plain)
    # What a first visit transfers: under a third of the uncompressed files.
    (ARTIFACTS / "widget-transfer.txt").write_text(
        f"uncompressed {raw} bytes, gzip {transferred} bytes\n", encoding="utf-8"
    )
    assert transferred < raw / 3
    status, _, _ = fetch_raw(f"{web_url}/widget/shebao-widget.000000000000.js")
    assert status == 404
