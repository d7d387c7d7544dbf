"""A fault-injecting HTTPS proxy on loopback, between certsmith's ACME client and Pebble.

The proxy terminates TLS with its own throwaway certificate (``ca_bundle`` is the file to hand
to the client), reads one HTTP/1.1 request at a time, and forwards it over TLS to Pebble with the
client's ``Host`` header unchanged. Pebble builds every URL it hands out, and checks every JWS
``url``, from that header, so the whole conversation keeps going through the proxy without any
rewriting.

A ``Fault`` names the requests it applies to (method and a piece of the path) and how many of
them it spoils; each fault counts what it injected. A ``Watch`` counts the requests whose path
contains a piece (``renewalInfo``): how many came, and the most that were in the proxy at once
(read, forwarded, answered), optionally holding each for ``hold`` seconds so that a client
allowing more in flight than it should shows it here. A CA that writes its own origin into its
answers (instead of the ``Host`` it was asked for) is rewritten to the proxy's, so every URL of
the directory, ``renewalInfo`` included, keeps going through the proxy. Everything is bounded:
header and body sizes, the idle wait for the next request, the upstream timeout, the slow
mode's delay, the hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pebble import write_loopback_cert

MODES = (
    "drop",  # close the connection without forwarding or answering
    "status",  # answer ``status`` (with ``retry_after`` if set) without forwarding
    "html_status",  # answer ``status`` with an HTML page, no problem document
    "slow",  # wait ``delay`` seconds, then forward (the client has timed out by then)
    "truncate",  # forward; announce the full length, send half the body, close
    "not_json",  # forward; replace the body with HTML, keep the JSON content type
    "content_type",  # forward; keep the body, claim text/html
    "huge",  # forward; pad the JSON body past ``size`` bytes, with Content-Length
    "huge_chunked",  # the same, chunked, no length announced
    "location",  # forward; point Location at ``location``
    "lose",  # forward, then close without answering: the CA acted, its answer is lost
)

_MAX_HEADER = 64 * 1024
_MAX_BODY = 1 << 20
_IDLE = 30.0
_MAX_DELAY = 10.0
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Fault:
    """Spoil the first ``times`` requests whose method and path match."""

    mode: str
    method: str = ""
    path_contains: str = ""
    times: int = 1
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    size: int = 2 * _MAX_BODY
    location: str = ""
    injected: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}")

    def matches(self, method: str, path: str) -> bool:
        return (
            self.injected < self.times
            and (not self.method or self.method == method)
            and self.path_contains in path
        )


@dataclass
class Watch:
    """Counts the requests whose path contains ``path_contains``: ``total`` and the most in the
    proxy at once (``most``), each held ``hold`` seconds before it is forwarded."""

    path_contains: str
    hold: float = 0.0
    total: int = 0
    in_flight: int = 0
    most: int = 0

    def enter(self) -> None:
        self.total += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)


@dataclass
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FaultProxy:
    """``async with FaultProxy(upstream, upstream_ca, tmp) as proxy``: ``proxy.url`` + path."""

    def __init__(self, upstream: str, upstream_ca: str, directory: Path) -> None:
        self._upstream = upstream.rstrip("/")
        self._upstream_ca = upstream_ca
        self._directory = directory
        self.faults: list[Fault] = []
        self.watches: list[Watch] = []
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.ca_bundle = ""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def injected(self) -> int:
        return sum(fault.injected for fault in self.faults)

    def watch(self, path_contains: str, hold: float = 0.0) -> Watch:
        """Count the requests whose path contains ``path_contains`` from now on."""
        watch = Watch(path_contains, min(hold, _MAX_DELAY))
        self.watches.append(watch)
        return watch

    async def __aenter__(self) -> FaultProxy:
        cert, key = write_loopback_cert(self._directory, "fault proxy", "proxy")
        self.ca_bundle = str(cert)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        upstream_tls = ssl.create_default_context(cafile=self._upstream_ca)
        self._http = httpx.AsyncClient(verify=upstream_tls, timeout=15.0)
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=context, limit=_MAX_HEADER
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._http is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        await self._http.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            for _ in range(100_000):  # requests on one kept-alive connection (a fleet run)
                request = await asyncio.wait_for(self._read_request(reader), _IDLE)
                if request is None or not await self._answer(request, writer):
                    break
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Ended by __aexit__: return normally, or asyncio's stream callback logs an error.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _read_request(self, reader: asyncio.StreamReader) -> _Request | None:
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.strip():
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or "0")
        if length > _MAX_BODY:
            return None
        body = await reader.readexactly(length) if length else b""
        return _Request(method, path, headers, body)

    def _fault_for(self, request: _Request) -> Fault | None:
        for fault in self.faults:
            if fault.matches(request.method, request.path):
                fault.injected += 1
                return fault
        return None

    async def _answer(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request, counted by the watches it matches; False to close."""
        watches = [w for w in self.watches if w.path_contains in request.path]
        for watch in watches:
            watch.enter()
        try:
            if watches:
                await asyncio.sleep(max(w.hold for w in watches))
            return await self._answer_one(request, writer)
        finally:
            for watch in watches:
                watch.in_flight -= 1

    async def _answer_one(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        self.requests += 1
        fault = self._fault_for(request)
        mode = fault.mode if fault else ""
        if fault and mode == "drop":
            return False
        if fault and mode in ("status", "html_status"):
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            # A HEAD answer has no body (RFC 9110 section 9.3.2): the client would read one as
            # the start of the next response on the kept-alive connection.
            bare = request.method == "HEAD"
            if mode == "status":
                body = b'{"type":"urn:ietf:params:acme:error:serverInternal","detail":"fault"}'
                kind = "application/problem+json"
            else:
                body, kind = b"<html><body>Bad gateway</body></html>", "text/html"
            await _write(writer, fault.status, kind, extra, b"" if bare else body)
            return True
        if fault and mode == "slow":
            await asyncio.sleep(min(fault.delay, _MAX_DELAY))
        status, headers, body = await self._forward(request)
        content_type = headers.pop("content-type", "")
        if fault and status >= 400 and mode != "slow":
            # Pebble's own refusals (its random badNonce) pass untouched and are not counted:
            # the fault is meant for the answer the client would have used.
            fault.injected -= 1
            fault = None
        if fault:
            return await self._spoil(fault, writer, status, content_type, headers, body)
        await _write(writer, status, content_type, headers, body)
        return True

    async def _spoil(
        self,
        fault: Fault,
        writer: asyncio.StreamWriter,
        status: int,
        content_type: str,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        if fault.mode == "lose":
            return False
        if fault.mode == "truncate":
            await _write(writer, status, content_type, headers, body[: len(body) // 2], len(body))
            return False
        if fault.mode == "not_json":
            body = b"<html><body>maintenance</body></html>"
        elif fault.mode == "content_type":
            content_type = "text/html"
        elif fault.mode in ("huge", "huge_chunked"):
            # Still valid JSON with every real member: only the size is wrong.
            stripped = body.rstrip()
            pad = b' ,"padding":"' + b"x" * fault.size + b'"}'
            body = stripped[:-1] + pad if stripped.endswith(b"}") else body + b"x" * fault.size
            if fault.mode == "huge_chunked":
                await _write_chunked(writer, status, content_type, headers, body)
                return True
        elif fault.mode == "location":
            headers["location"] = fault.location
        await _write(writer, status, content_type, headers, body)
        return True

    async def _forward(self, request: _Request) -> tuple[int, dict[str, str], bytes]:
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k not in _HOP_HEADERS}
        headers["host"] = request.headers.get("host", f"127.0.0.1:{self.port}")
        response = await self._http.request(
            request.method, self._upstream + request.path, headers=headers, content=request.body
        )
        kept = {
            k.lower(): v
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_HEADERS | {"content-encoding"}
        }
        # Pebble builds its URLs from the Host header; a CA that uses its own origin instead
        # would send the client around the proxy.
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self._upstream))
        for name in ("location", "link"):
            if name in kept:
                kept[name] = kept[name].replace(origin, self.url)
        body = response.content.replace(origin.encode(), self.url.encode())
        return response.status_code, kept, body


@contextlib.contextmanager
def in_thread(proxy: FaultProxy, timeout: float = 30.0) -> Iterator[FaultProxy]:
    """Run ``proxy`` on an event loop of its own thread, for synchronous callers (the bench):
    ``with in_thread(FaultProxy(...)) as proxy``. Its counters are read from this thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(proxy.__aenter__(), loop).result(timeout)
        try:
            yield proxy
        finally:
            asyncio.run_coroutine_threadsafe(proxy.__aexit__(), loop).result(timeout)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()


async def _write(
    writer: asyncio.StreamWriter,
    status: int,
    content_type: str,
    headers: dict[str, str],
    body: bytes,
    length: int | None = None,
) -> None:
    lines = [f"HTTP/1.1 {status} X"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await asyncio.wait_for(writer.drain(), _IDLE)


async def _write_chunked(
    writer: asyncio.StreamWriter,
    status: int,
    content_type: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append("Transfer-Encoding: chunked")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    step = 64 * 1024
    for start in range(0, len(body), step):
        chunk = body[start : start + step]
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await asyncio.wait_for(writer.drain(), _IDLE)
    writer.write(b"0\r\n\r\n")
    await asyncio.wait_for(writer.drain(), _IDLE)
