"""Fetch an http-01 URL the way the CA will, before the CA is asked to.

Like Boulder's validator: start at ``http://<name>:80/.well-known/acme-challenge/<token>``,
follow at most 10 redirects, only to ``http`` or ``https`` on ports 80 and 443, do not verify
certificates on https hops, and compare the body with trailing whitespace removed.

Name resolution is injectable: ``resolve(host, port) -> (address, port)`` picks where to
connect while the request keeps its ``Host`` header and TLS server name, so tests can point a
name at a loopback server on any port.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from certsmith.errors import SolverError
from certsmith.wording import said

logger = logging.getLogger(__name__)

Resolve = Callable[[str, int], Awaitable[tuple[str, int]]]

MAX_REDIRECTS = 10
MAX_BODY = 4096
_ALLOWED = {("http", 80), ("https", 443)}
_WHITESPACE = " \t\r\n"


@dataclass(frozen=True)
class FetchResult:
    """What the last hop answered: its URL, status and (at most ``MAX_BODY``) body bytes."""

    url: str
    status: int
    body: bytes


@dataclass(frozen=True)
class SelfCheckFailure:
    """What the self-check saw instead of the key authorization: the URL asked, the address
    it connected to (``""`` when unknown), and either the answer (``status``, the start of the
    body) or why there was none (``problem``)."""

    url: str
    address: str = ""
    status: int | None = None
    excerpt: str = ""
    problem: str = ""


class ResolvingTransport(httpx.AsyncBaseTransport):
    """Sends each request to ``resolve(host, port)`` but keeps its Host header and SNI name.
    ``last_address`` is where the latest request went (``host:port``)."""

    def __init__(self, resolve: Resolve, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._resolve = resolve
        self._owns_inner = inner is None
        # Hops to https are not certificate-checked, as by the CA (RFC 8555 section 8.3).
        self._inner = inner or httpx.AsyncHTTPTransport(verify=False)
        self.last_address = ""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        address, real_port = await self._resolve(host, port)
        self.last_address = _host_port(address, real_port)
        request.url = request.url.copy_with(host=address, port=real_port)
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()


def _host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def problem_text(exc: BaseException) -> str:
    """An exception as words for a person: its message, never its repr (``ConnectError('x')``)
    or a bytes literal; the class name only when the message is empty."""
    text = str(exc).strip()
    return text or type(exc).__name__


class _Borrowed(httpx.AsyncBaseTransport):
    """A caller's transport, used for one client but left open for the caller."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


def _check_hop(url: httpx.URL) -> None:
    port = url.port or (443 if url.scheme == "https" else 80)
    if (url.scheme, port) not in _ALLOWED:
        raise SolverError(said("selfcheck.bad_redirect", url=url))


class _FetchError(Exception):
    """A fetch that got no answer; ``address`` is where it tried to connect (may be "")."""

    def __init__(self, message: str, problem: str, address: str) -> None:
        super().__init__(message)
        self.problem, self.address = problem, address


async def fetch_like_ca(
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve: Resolve | None = None,
    timeout: float = 10.0,
) -> FetchResult:
    """GET ``url`` following redirects like the CA; raises ``SolverError`` if it cannot."""
    try:
        result, _ = await _fetch(url, transport=transport, resolve=resolve, timeout=timeout)
    except _FetchError as exc:
        raise SolverError(str(exc)) from exc
    return result


async def _fetch(
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None,
    resolve: Resolve | None,
    timeout: float,
) -> tuple[FetchResult, str]:
    """The last hop's answer and the address it came from (``""`` when unknown)."""
    resolving: ResolvingTransport | None = None
    if transport is not None:
        transport = _Borrowed(transport)
    if resolve is not None:
        transport = resolving = ResolvingTransport(resolve, transport)
    elif transport is None:
        transport = httpx.AsyncHTTPTransport(verify=False)
    current = httpx.URL(url)
    async with httpx.AsyncClient(
        transport=transport, follow_redirects=False, timeout=timeout, trust_env=False
    ) as client:
        for _hop in range(MAX_REDIRECTS + 1):
            _check_hop(current)
            try:
                async with client.stream("GET", current) as response:
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) >= MAX_BODY:
                            break
                    status, location = response.status_code, response.headers.get("location")
                    address = _peer(response) or (resolving.last_address if resolving else "")
            except httpx.HTTPError as exc:
                where = resolving.last_address if resolving else ""
                problem = problem_text(exc)
                raise _FetchError(
                    f"self-check could not fetch {current}: {problem}", problem, where
                ) from exc
            if status in (301, 302, 303, 307, 308) and location:
                current = current.join(location)
                logger.debug("self-check: redirected to %s", current)
                continue
            return FetchResult(str(current), status, body[:MAX_BODY]), address
    raise SolverError(said("selfcheck.too_many_redirects", count=MAX_REDIRECTS, url=url))


def _peer(response: httpx.Response) -> str:
    """``address:port`` of the server that answered, when the transport tells."""
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except Exception:  # a transport without this information
        return ""
    if isinstance(peer, tuple) and len(peer) >= 2:
        return _host_port(str(peer[0]), int(peer[1]))
    return ""


async def self_check_http01(
    url: str,
    expected: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve: Resolve | None = None,
    timeout: float = 10.0,
) -> SelfCheckFailure | None:
    """None when ``url`` serves ``expected``; else what was seen instead (never raises for
    an unreachable or wrong answer)."""
    try:
        result, address = await _fetch(url, transport=transport, resolve=resolve, timeout=timeout)
    except _FetchError as exc:
        return SelfCheckFailure(url, address=exc.address, problem=exc.problem)
    except SolverError as exc:  # a redirect the CA would not follow, or too many
        return SelfCheckFailure(url, problem=str(exc))
    text = result.body.decode("utf-8", errors="replace").rstrip(_WHITESPACE)
    if result.status == 200 and text == expected:
        logger.info("self-check: %s serves the expected key authorization", url)
        return None
    excerpt = " ".join(text[:80].split())
    return SelfCheckFailure(result.url, address=address, status=result.status, excerpt=excerpt)


async def check_http01(
    url: str,
    expected: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve: Resolve | None = None,
    timeout: float = 10.0,
) -> None:
    """Raise ``SolverError`` saying what was seen unless ``url`` serves ``expected``."""
    failure = await self_check_http01(
        url, expected, transport=transport, resolve=resolve, timeout=timeout
    )
    if failure is not None:
        raise SolverError(said("selfcheck.failed", url=url, seen=describe_failure(failure)))


def describe_failure(failure: SelfCheckFailure) -> str:
    """What the self-check saw, in one clause (a Said: English, worded by the CLI's catalogue)."""
    where = said("selfcheck.seen.where", address=failure.address) if failure.address else ""
    if failure.status is None:
        problem = failure.problem
        return said("selfcheck.seen.unreachable", url=failure.url, where=where, problem=problem)
    body = (
        said("selfcheck.seen.body", excerpt=failure.excerpt)
        if failure.excerpt
        else said("selfcheck.seen.empty")
    )
    status = failure.status
    return said("selfcheck.seen.answered", url=failure.url, status=status, where=where, body=body)
