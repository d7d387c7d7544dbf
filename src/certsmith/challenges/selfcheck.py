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


class ResolvingTransport(httpx.AsyncBaseTransport):
    """Sends each request to ``resolve(host, port)`` but keeps its Host header and SNI name."""

    def __init__(self, resolve: Resolve, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._resolve = resolve
        self._owns_inner = inner is None
        # Hops to https are not certificate-checked, as by the CA (RFC 8555 section 8.3).
        self._inner = inner or httpx.AsyncHTTPTransport(verify=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        address, real_port = await self._resolve(host, port)
        request.url = request.url.copy_with(host=address, port=real_port)
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()


class _Borrowed(httpx.AsyncBaseTransport):
    """A caller's transport, used for one client but left open for the caller."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


def _check_hop(url: httpx.URL) -> None:
    port = url.port or (443 if url.scheme == "https" else 80)
    if (url.scheme, port) not in _ALLOWED:
        raise SolverError(f"the CA would not follow a redirect to {url} (only http:80, https:443)")


async def fetch_like_ca(
    url: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve: Resolve | None = None,
    timeout: float = 10.0,
) -> FetchResult:
    """GET ``url`` following redirects like the CA; raises ``SolverError`` if it cannot."""
    if transport is not None:
        transport = _Borrowed(transport)
    if resolve is not None:
        transport = ResolvingTransport(resolve, transport)
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
            except httpx.HTTPError as exc:
                raise SolverError(f"self-check could not fetch {current}: {exc!r}") from exc
            if status in (301, 302, 303, 307, 308) and location:
                current = current.join(location)
                logger.debug("self-check: redirected to %s", current)
                continue
            return FetchResult(str(current), status, body[:MAX_BODY])
    raise SolverError(f"self-check: more than {MAX_REDIRECTS} redirects from {url}")


async def check_http01(
    url: str,
    expected: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    resolve: Resolve | None = None,
    timeout: float = 10.0,
) -> None:
    """Raise ``SolverError`` saying what was seen unless ``url`` serves ``expected``."""
    result = await fetch_like_ca(url, transport=transport, resolve=resolve, timeout=timeout)
    text = result.body.decode("utf-8", errors="replace").rstrip(_WHITESPACE)
    if result.status == 200 and text == expected:
        logger.info("self-check: %s serves the expected key authorization", url)
        return
    raise SolverError(
        f"self-check of {url} failed: {result.url} answered HTTP {result.status} with "
        f"{result.body[:64]!r} instead of the key authorization {expected[:20]}..."
    )
