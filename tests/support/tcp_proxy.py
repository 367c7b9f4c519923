"""A TCP forwarder on a loopback port that a test can cut and restore.

It stands between a client and a real server (Redis) so a test can make the
server "go down" and "come back" on the same address without touching the
shared server itself.  It runs in its own threads, so synchronous clients in
the test's thread work through it.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from typing import Any, List, Optional, Tuple


class _Handler(socketserver.BaseRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        try:
            upstream = socket.create_connection(self.server.upstream, timeout=5)
        except OSError:
            return
        self.server.track(upstream)
        self.server.track(self.request)
        pump = threading.Thread(target=_pump, args=(upstream, self.request))
        pump.daemon = True
        pump.start()
        _pump(self.request, upstream)
        pump.join(timeout=5)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: Tuple[str, int], upstream: Tuple[str, int]) -> None:
        self.upstream = upstream
        self.sockets: List[socket.socket] = []
        super().__init__(address, _Handler)

    def track(self, sock: socket.socket) -> None:
        self.sockets.append(sock)


class TcpProxy:
    """``127.0.0.1:<port>`` forwards to ``upstream`` while it is up."""

    def __init__(self, upstream: Tuple[str, int]) -> None:
        self.upstream = upstream
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server: Optional[_Server] = None

    def up(self) -> "TcpProxy":
        """Listen (again) on the same port."""
        self._server = _Server(("127.0.0.1", self.port), self.upstream)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        """Stop listening and cut every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for sock in server.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    def __enter__(self) -> "TcpProxy":
        return self.up()

    def __exit__(self, *exc: Any) -> None:
        self.down()
