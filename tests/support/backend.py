"""Test helpers: a real backend on a local port, a settable clock, an HTTP helper.

The server runs in a background thread with its own event loop, so both
synchronous callers (requests, schemathesis) and async ones (aiohttp, the
BackendClient in pytest-asyncio's loop) talk to it over real TCP.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Optional

import pytest
import requests
from sanic import Sanic

from backend.settings import DEV_CLIENT_SECRET, BackendSettings
from common.identity import make_id_number

# Strong enough for production mode (>= 32 characters, varied).
ADMIN_TOKEN = "test-admin-token-0123456789abcdefXYZ"
SECRET = "test-secret-0123456789abcdefghijkLMNOP"
# The action server's shared secret: in development mode the default value,
# which the inquiry actions' tests use (ActionSettings' default) ...
CLIENT_SECRET = DEV_CLIENT_SECRET
# ... and a strong one in production mode.
PRODUCTION_CLIENT_SECRET = "test-client-secret-0123456789abcdefQRS"
CLIENT_SECRET_HEADER = "X-Shebao-Client-Secret"
# 2025-06-15 12:00 in Shanghai: mid-year, so arrears for 2025 run to June.
DEFAULT_NOW = datetime(2025, 6, 15, 4, 0, tzinfo=timezone.utc)


class FakeClock:
    """A clock the test moves by hand (instead of sleeping through expiries)."""

    def __init__(self, now: datetime = DEFAULT_NOW) -> None:
        self._now = now
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now


class LiveServer:
    """Serve a Sanic app on 127.0.0.1:<free port> from a background thread."""

    def __init__(self, app: Sanic) -> None:
        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(100)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread = threading.Thread(target=self._run, name="backend", daemon=True)

    def start(self) -> "LiveServer":
        self._thread.start()
        if not self._ready.wait(20):
            raise TimeoutError("backend did not start")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            server = loop.run_until_complete(
                self.app.create_server(
                    sock=self.sock, return_asyncio_server=True, access_log=False
                )
            )
            # create_server already awaited the AsyncioServer: it is listening.
            assert server is not None
            loop.run_until_complete(server.startup())
            loop.run_until_complete(server.before_start())
            loop.run_until_complete(server.after_start())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(server.before_stop())
        for connection in list(server.connections):
            connection.close_if_idle()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.run_until_complete(server.after_stop())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(20)
        self.sock.close()


def unique_id_number(birth: str = "19900307") -> str:
    """A valid ID number that no other test uses."""
    seq = f"{uuid.uuid4().int % 1000:03d}"
    prefix = f"{310000 + uuid.uuid4().int % 9999:06d}"
    return make_id_number(prefix, birth, seq)


def person_body(id_number: str, **overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "id_number": id_number,
        "name": "测试居民",
        "residency_type": "urban",
        "region": "上城区",
        "phone": "13812341234",
        "enrollment": {
            "scheme": "urban_resident_medical",
            "since": "2024-01-01",
            "monthly_amount": "35.00",
        },
    }
    body.update(overrides)
    return body


def contribution_body(period: str, **overrides: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "period": period,
        "amount": "35.00",
        "paid_on": f"{period}-15",
        "channel": "wechat",
    }
    body.update(overrides)
    return body


@dataclass
class Backend:
    """A running backend and convenience calls against it."""

    url: str
    settings: BackendSettings
    clock: FakeClock
    app: Sanic
    http: requests.Session = field(default_factory=requests.Session)

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        token: Optional[str] = None,
        **kwargs: Any,
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(
            method, self.url + path, json=json, headers=headers, timeout=10, **kwargs
        )

    def create_person(self, id_number: str, **overrides: Any) -> Dict[str, Any]:
        response = self.request(
            "POST",
            "/api/v1/persons",
            person_body(id_number, **overrides),
            token=ADMIN_TOKEN,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def pay(self, id_number: str, period: str, **overrides: Any) -> Dict[str, Any]:
        response = self.request(
            "POST",
            f"/api/v1/persons/{id_number}/contributions",
            contribution_body(period, **overrides),
            token=ADMIN_TOKEN,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def start(self, id_number: str) -> requests.Response:
        return self.request(
            "POST", "/api/v1/verification/start", {"id_number": id_number}
        )

    def check(self, id_number: str, code: str) -> requests.Response:
        return self.request(
            "POST", "/api/v1/verification/check", {"id_number": id_number, "code": code}
        )

    def outbox_codes(self, id_number: str) -> list:
        response = self.request(
            "GET", "/api/v1/dev/outbox", params={"id_number": id_number}
        )
        assert response.status_code == 200, response.text
        return [message["code"] for message in response.json()["messages"]]

    def login(self, id_number: str) -> str:
        """Run the whole verification flow; the access token."""
        assert self.start(id_number).status_code == 200
        code = self.outbox_codes(id_number)[-1]
        response = self.check(id_number, code)
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def summary(self, token: str, year: Optional[int] = None) -> requests.Response:
        params = {"year": str(year)} if year is not None else None
        return self.request(
            "GET", "/api/v1/me/contributions", token=token, params=params
        )


BackendFactory = Callable[..., Backend]

# For tests of request validation, which fails before any database access:
# running them on PostgreSQL too would only cost time.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""``make_backend(**settings_overrides) -> Backend`` (the conftest fixture)."""


def wrong_code(code: str) -> str:
    """A 6-digit code that is certainly not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"
