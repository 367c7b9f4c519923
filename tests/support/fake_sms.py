"""A fake HTTP SMS gateway on a free local port, served from a thread.

It records every request (headers and JSON body) and answers 200, except for
the first ``fail_times`` requests, which get ``fail_status`` (or, with
``hang_seconds``, an answer that comes too late for the sender's timeout).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional


class FakeSmsGateway:
    def __init__(
        self, fail_times: int = 0, fail_status: int = 503, hang_seconds: float = 0.0
    ) -> None:
        self.fail_times = fail_times
        self.fail_status = fail_status
        self.hang_seconds = hang_seconds
        self.requests: List[Dict[str, Any]] = []
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with gateway._lock:
                    gateway.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "json": json.loads(raw or b"null"),
                        }
                    )
                    failing = len(gateway.requests) <= gateway.fail_times
                if failing and gateway.hang_seconds:
                    time.sleep(gateway.hang_seconds)
                status = gateway.fail_status if failing else 200
                body = json.dumps({"ok": status == 200}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/sms/send"
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "FakeSmsGateway":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
