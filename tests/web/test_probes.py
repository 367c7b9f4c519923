"""Liveness and readiness of the widget's web server (served from a thread)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Tuple

import requests
from sanic import Sanic

from tests.support.backend import LiveServer
from web.app import create_app
from web.settings import WebSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


def _settings(web_dir: Path) -> WebSettings:
    return WebSettings(web_dir=web_dir)


def _probe(app: Sanic) -> Tuple[requests.Response, requests.Response]:
    server = LiveServer(app).start()
    try:
        return (
            requests.get(server.url + "/health/live", timeout=5),
            requests.get(server.url + "/health/ready", timeout=5),
        )
    finally:
        server.stop()


def test_ready_when_the_widget_files_are_there(tmp_path: Path) -> None:
    web_dir = tmp_path / "web"
    shutil.copytree(REPO_ROOT / "web" / "widget", web_dir / "widget")
    (web_dir / "vendor").mkdir()
    (web_dir / "vendor" / "socket.io.min.js").write_text("//", encoding="utf-8")
    live, ready = _probe(create_app(_settings(web_dir), name="probes_ready"))
    assert live.status_code == 200 and ready.status_code == 200


def test_not_ready_without_the_socketio_client(tmp_path: Path) -> None:
    web_dir = tmp_path / "web"
    shutil.copytree(REPO_ROOT / "web" / "widget", web_dir / "widget")
    live, ready = _probe(create_app(_settings(web_dir), name="probes_not_ready"))
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["missing"] == ["socket.io.min.js"]
