"""`certsmith report --serve`: the status page over HTTP, read-only, on loopback.

GET (or HEAD) ``/`` answers the page, made afresh at most every ``MAX_AGE`` seconds; every
other path is 404 and every other method 405. Nothing is written, no query is read. Each
connection has a time limit, requests are read with the standard library's line limits, and the
address must be a loopback one (the page names every certificate of the machine: sharing it
wider is a decision for a web server with authentication in front, see docs/monitoring.md).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MAX_AGE", "StatusServer", "is_loopback"]

MAX_AGE = 30.0  # seconds a rendered page is reused
TIMEOUT = 10.0  # seconds per connection


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Page:
    """The rendered page, shared by the handler threads (made again once it is ``MAX_AGE`` old)."""

    def __init__(self, render: Callable[[], str], clock: Callable[[], float]) -> None:
        self.render, self.clock = render, clock
        self.lock = threading.Lock()
        self.body, self.made = b"", float("-inf")

    def current(self) -> bytes:
        with self.lock:
            if self.clock() - self.made >= MAX_AGE:
                self.body, self.made = self.render().encode("utf-8"), self.clock()
            return self.body


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = TIMEOUT
    server_version = "certsmith"
    sys_version = ""

    def _answer(self, with_body: bool) -> None:
        if self.path.split("?", 1)[0] not in ("/", "/index.html"):
            self.send_error(404)
            return
        body = self.server.page.current()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def _refuse(self) -> None:
        self.send_error(405)

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the command line stays quiet; nothing here is worth a log line per request


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    page: _Page


class _Server6(_Server):
    address_family = socket.AF_INET6


class StatusServer:
    """Serve ``render()``'s page on ``(host, port)`` (port 0: any free one)."""

    def __init__(
        self,
        host: str,
        port: int,
        render: Callable[[], str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        kind = _Server6 if ":" in host else _Server
        self._server = kind((host, port), _Handler)
        self._server.page = _Page(render, clock)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def serve_forever(self) -> None:
        """Until ``shutdown`` (another thread) or Ctrl-C; the socket is closed either way."""
        try:
            self._server.serve_forever(poll_interval=0.5)
        finally:
            self._server.server_close()

    def shutdown(self) -> None:
        self._server.shutdown()
