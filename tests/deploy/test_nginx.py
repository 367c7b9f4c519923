"""deploy/nginx/: the production configuration and the scaled launcher's template.

- production.conf passes ``nginx -t`` (with a throw-away certificate);
- it redirects HTTP to HTTPS, upgrades WebSockets on /socket.io/ only, and
  publishes only the channels and the widget — the same public locations and
  upstreams as the scaled launcher's template, so what the tests exercise is
  what production runs;
- neither passes a client's own X-Real-IP / X-Forwarded-For on, and production
  does not reveal which replica answered.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Set

import pytest

from tools.scaled import NGINX_FALLBACK, TEMPLATE

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = REPO_ROOT / "deploy" / "nginx" / "production.conf"
PUBLIC = {"/socket.io/", "/webhooks/rest/", "/webhooks/wechat/", "/webhooks/", "/"}


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        NGINX_FALLBACK if Path(NGINX_FALLBACK).exists() else None
    )
    if found is None:
        pytest.skip("nginx is not installed (make nginx)")
    return found


def locations(text: str) -> Set[str]:
    return set(re.findall(r"location\s+(?:=\s+)?(\S+)\s*\{", text))


def upstreams(text: str) -> Set[str]:
    return set(re.findall(r"upstream\s+(\S+)\s*\{", text))


def test_production_conf_passes_nginx_t(tmp_path: Path) -> None:
    nginx = nginx_binary()
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=chat.bureau.example",
            "-keyout",
            str(tmp_path / "chat.key"),
            "-out",
            str(tmp_path / "chat.crt"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    text = PRODUCTION.read_text(encoding="utf-8")
    text = text.replace("/etc/ssl/shebao", str(tmp_path))
    text = text.replace("/var/log/nginx", str(tmp_path))
    (tmp_path / "shebao.conf").write_text(text, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n    include {tmp_path}/shebao.conf;\n}}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
        + ["-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_production_redirects_to_https_and_upgrades_only_socketio() -> None:
    text = PRODUCTION.read_text(encoding="utf-8")
    assert "listen 80;" in text and "return 301 https://$host$request_uri;" in text
    assert "listen 443 ssl http2;" in text and "Strict-Transport-Security" in text
    socketio = text.split("location /socket.io/ {")[1].split("\n    }")[0]
    assert "proxy_set_header Upgrade $http_upgrade;" in socketio
    assert 'return 400 \'{"error": "websocket_only"}\'' in socketio
    assert text.count("proxy_set_header Upgrade") == 1
    assert "X-Upstream" not in text  # which replica answered stays internal


def test_production_and_the_scaled_template_have_one_layout() -> None:
    production = PRODUCTION.read_text(encoding="utf-8")
    template = TEMPLATE.read_text(encoding="utf-8")
    assert (
        upstreams(production)
        == upstreams(template)
        == {
            "shebao_rasa",
            "shebao_actions",
            "shebao_backend",
            "shebao_web",
        }
    )
    assert PUBLIC <= locations(production)
    assert locations(template) - {"/nginx-health"} == locations(production)


@pytest.mark.parametrize("path", [PRODUCTION, TEMPLATE], ids=lambda p: p.name)
def test_a_clients_forwarding_headers_are_overwritten(path: Path) -> None:
    """Rasa believes X-Real-IP (SANIC_REAL_IP_HEADER): nginx must set it itself."""
    text = path.read_text(encoding="utf-8")
    assert "$proxy_add_x_forwarded_for" not in text  # would append the client's
    for header in ("X-Real-IP", "X-Forwarded-For"):
        values = set(re.findall(rf"proxy_set_header {header} (\S+);", text))
        assert values == {"$remote_addr"}, (header, values)
    assert "$request " not in text and "$request_uri " not in text.split("server")[0]
