"""http-01 by a small built-in web server (certbot's ``--standalone``), RFC 8555 section 8.3.

The server answers exactly one kind of request: ``GET`` (or ``HEAD``)
``/.well-known/acme-challenge/<token>`` for a token in flight, with a ``Host`` header naming
that token's identifier. Everything else gets an error status and an empty body: there is no
listing, no file is ever read from disk, and each connection carries one request
(``Connection: close``). Request heads are capped in size and must arrive within a time limit,
so a slow or hostile client cannot hold the server.

Every request received is logged and kept in ``requests_seen``: for a validation request the
remote address is the CA's vantage point, which the CLI reports when validation fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from certsmith.challenges._listener import ListeningSolver
from certsmith.challenges.base import ChallengeTask, is_safe_token
from certsmith.wording import Said

logger = logging.getLogger(__name__)

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    505: "HTTP Version Not Supported",
}
# Spellings of "..", "/" and "\" that a path-normalising proxy in front of us might decode.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_TRAVERSAL_MARKERS = ("..", "%2e", "%2f", "%5c", "\\", "%00", "\x00")


@dataclass(frozen=True)
class SeenRequest:
    """One request the server received (``remote_address`` is the client's, e.g. the CA's)."""

    remote_address: str
    remote_port: int
    method: str
    target: str
    host: str | None
    user_agent: str | None
    status: int
    received_at: float


def normalize_host(value: str) -> str | None:
    """A Host header value as a comparable name: lower case, no port, no trailing dot.

    IPv6 literals must be bracketed (``[::1]:80``) and come back in canonical form (``::1``);
    IPv4 literals come back canonical too. Returns ``None`` for a malformed value.
    """
    text = value.strip().lower()
    if text.startswith("["):
        inside, sep, rest = text[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and _is_port(rest[1:]))):
            return None
        try:
            return str(ipaddress.IPv6Address(inside))
        except ValueError:
            return None
    name, sep, port = text.partition(":")
    if sep and not _is_port(port):
        return None
    name = name.removesuffix(".")
    if not name:
        return None
    with contextlib.suppress(ValueError):
        return str(ipaddress.IPv4Address(name))
    return name


def _is_port(text: str) -> bool:
    return text.isdigit() and len(text) <= 5


def _identifier_key(task: ChallengeTask) -> str:
    value = task.identifier.value.lower().removesuffix(".")
    if task.identifier.type == "ip":
        return str(ipaddress.ip_address(value))
    return value


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]


class StandaloneHttp01Server(ListeningSolver):
    """A ``Solver`` for http-01 that serves the key authorizations itself.

    ``address`` / ``port`` are certbot's ``--http-01-address`` / ``--http-01-port``: ``""``
    binds every IPv4 and IPv6 address (IPv4 alone when the host has no IPv6); a list binds
    each address given. The server starts on the first ``present`` (or ``start``) and stops on
    ``close`` or at the end of ``async with``; ``cleanup`` only withdraws one token.
    """

    challenge_type = "http-01"
    server_label = Said("standalone server", "challenge.label.standalone")

    def __init__(
        self,
        *,
        address: str | Sequence[str] = "",
        port: int = 80,
        header_timeout: float = 10.0,
        write_timeout: float = 10.0,
        max_head_bytes: int = 8192,
        max_connections: int = 64,
        max_requests_seen: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._header_timeout = header_timeout
        self._write_timeout = write_timeout
        self._max_head_bytes = max_head_bytes
        self._clock = clock
        super().__init__(
            address=address, port=port, max_connections=max_connections, read_limit=max_head_bytes
        )
        self._responses: dict[str, tuple[str, str]] = {}  # token -> (host key, key auth)
        self._max_requests_seen = max_requests_seen
        # Newest last; capped so a flood of requests cannot grow it without bound.
        self.requests_seen: list[SeenRequest] = []

    @property
    def sockets(self) -> list[tuple[str, int]]:
        """Every (address, port) bound."""
        return self._listener.sockets

    def _forget_all(self) -> None:
        self._responses.clear()

    async def present(self, task: ChallengeTask) -> None:
        """Serve ``task``'s key authorization (starting the server if needed)."""
        self._check_task(task)
        self._responses[task.token] = (_identifier_key(task), task.key_authorization)
        await self.start()

    async def cleanup(self, task: ChallengeTask) -> None:
        """Stop answering for ``task``'s token; never raises."""
        self._responses.pop(task.token, None)

    # -- serving ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._header_timeout)
        except TimeoutError:
            logger.info("http-01: %s sent no complete request in time", peer[0])
            await self._respond(writer, 408, b"", head_only=False)
            return
        except asyncio.LimitOverrunError:
            await self._refuse_oversized(reader, writer)
            return
        except asyncio.IncompleteReadError:
            return
        if len(head) > self._max_head_bytes:
            await self._refuse_oversized(reader, writer)
            return
        try:
            request = _parse_head(head)
        except _BadRequest as bad:
            await self._respond(writer, bad.status, b"", head_only=False)
            return
        status, body = self._answer(request)
        self._record(peer, request, status)
        await self._respond(writer, status, body, head_only=request.method == "HEAD")

    async def _refuse_oversized(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await self._respond(writer, 431, b"", head_only=False)
        # Read and drop what the client is still sending for a moment, so that closing with
        # unread input does not reset the connection before the client has read the 431.
        with contextlib.suppress(TimeoutError, ConnectionError):
            writer.write_eof()
            async with asyncio.timeout(min(self._header_timeout, 1.0)):
                for _ in range(16):
                    if not await reader.read(65536):
                        break

    def _answer(self, request: _Request) -> tuple[int, bytes]:
        if request.method not in ("GET", "HEAD"):
            return 405, b""
        target = request.target
        if any(marker in target.lower() for marker in _TRAVERSAL_MARKERS):
            return 400, b""
        if not target.startswith(CHALLENGE_PREFIX):
            return 404, b""
        token = target.removeprefix(CHALLENGE_PREFIX)
        entry = self._responses.get(token) if is_safe_token(token) else None
        if entry is None:
            return 404, b""
        host = normalize_host(request.headers.get("host", ""))
        expected_host, key_authorization = entry
        if host != expected_host:
            return 404, b""
        return 200, key_authorization.encode("utf-8")

    def _record(self, peer: tuple[str, int], request: _Request, status: int) -> None:
        seen = SeenRequest(
            remote_address=str(peer[0]),
            remote_port=int(peer[1]),
            method=request.method,
            target=request.target[:200],
            host=request.headers.get("host"),
            user_agent=request.headers.get("user-agent"),
            status=status,
            received_at=self._clock(),
        )
        self.requests_seen.append(seen)
        del self.requests_seen[: -self._max_requests_seen]
        logger.info(
            "http-01: %s %s %s (Host %r) from %s -> %d",
            seen.method,
            seen.target,
            request.version,
            seen.host,
            seen.remote_address,
            status,
        )

    async def _respond(
        self, writer: asyncio.StreamWriter, status: int, body: bytes, *, head_only: bool
    ) -> None:
        headers = [
            f"HTTP/1.1 {status} {_REASONS[status]}",
            "Content-Type: text/plain",
            f"Content-Length: {len(body)}",
            "Cache-Control: no-store",
            "Connection: close",
        ]
        if status == 405:
            headers.append("Allow: GET, HEAD")
        data = ("\r\n".join(headers) + "\r\n\r\n").encode("ascii")
        writer.write(data if head_only else data + body)
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(writer.drain(), self._write_timeout)


def _parse_head(head: bytes) -> _Request:
    """Parse an HTTP/1.x request head (RFC 9112 section 2-5), strictly."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise _BadRequest(400) from None
    lines = text[:-4].split("\r\n")
    # A bare CR or LF, NUL or other control character is how requests get smuggled past a
    # proxy (RFC 9112 section 2.2); only HTAB is allowed, inside header values.
    if _CONTROL_RE.search(lines[0]) or any(_CONTROL_RE.search(x.replace("\t", " ")) for x in lines):
        raise _BadRequest(400)
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[0].isupper():
        raise _BadRequest(400)
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(505 if version.startswith("HTTP/") else 400)
    if not target.startswith("/"):
        raise _BadRequest(400)  # only origin-form (RFC 9112 section 3.2.1)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        # Obsolete line folding and whitespace before the colon are rejected (RFC 9112 5.1-5.2).
        if not sep or not name or name != name.strip() or any(c in name for c in " \t"):
            raise _BadRequest(400)
        key = name.lower()
        if key == "host" and key in headers:
            raise _BadRequest(400)
        headers[key] = value.strip(" \t")
    if version == "HTTP/1.1" and "host" not in headers:
        raise _BadRequest(400)
    return _Request(method, target, version, headers)
