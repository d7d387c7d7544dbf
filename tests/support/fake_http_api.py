"""The server thread the fake provider APIs (fake_acmedns, fake_duckdns) share.

A subclass says how to answer in ``handler()`` (a ``QuietHandler`` subclass, usually a closure
over the fake); entering the fake serves it on 127.0.0.1:<free port> in a daemon thread, leaving
it shuts the server down.

    class FakeThing(LoopbackApi):
        def handler(self) -> type[QuietHandler]: ...

    with FakeThing() as api:
        api.url
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers with ``reply``."""

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        """Send ``body`` with ``status``, ``content_type`` and its Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackApi:
    """Serves ``handler()`` on 127.0.0.1:<free port> while the fake is entered."""

    _server: ThreadingHTTPServer | None = None

    def handler(self) -> type[QuietHandler]:
        """The handler class for this fake's requests."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; only while entered."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
