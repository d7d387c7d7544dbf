"""The HTTP sender under the ACME client: nonces, retries, size and type checks, error mapping.

Policy, in one place:
- Every response's ``Replay-Nonce`` goes into a small pool; ``HEAD newNonce`` is sent only when
  the pool is empty and no request in flight will bring one (RFC 8555 section 7.2).
- ``badNonce`` is retried at once with a fresh nonce, at most ``max_bad_nonce_retries`` times and
  for at most ``bad_nonce_budget`` seconds (section 6.5).
- A dropped connection, a timeout or a 5xx is retried (at most ``max_server_retries`` times,
  waiting its ``Retry-After``, capped, within ``retry_budget`` seconds) where the request's
  ``Repeat`` allows it: the table is in ``acme/retry.py``. Each retry is logged once, at INFO.
  ``rateLimited`` is never retried here: its wait is usually hours; the caller decides.
- Problem documents become typed exceptions; httpx failures become ``TransportError``; bodies
  over ``max_body`` bytes, wrong content types and bad JSON become ``ProtocolViolation``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from typing import Any

import httpx

from certsmith.acme.errors import (
    AcmeError,
    BadNonce,
    CertificateNotTrusted,
    ProblemError,
    ProtocolViolation,
    TransportError,
    problem_from_json,
)
from certsmith.acme.retry import Repeat, RetryPolicy, parse_retry_after, transport_error

logger = logging.getLogger(__name__)

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
PEM_CHAIN = "application/pem-certificate-chain"
JOSE_JSON = "application/jose+json"

_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{1,512}$")
_LINK_RE = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_NONCE_POOL_SIZE = 32

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Now = Callable[[], datetime]
# A POST-as-GET (or GET) of one URL, as the client sends it: polls and chain downloads.
Fetch = Callable[[str], Awaitable["Response"]]


def default_user_agent() -> str:
    """``certsmith/<version>`` as installed (the package itself is not imported here)."""
    try:
        version = metadata.version("certsmith")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"certsmith/{version} (+ACME RFC 8555) httpx/{httpx.__version__}"


def default_timeout() -> httpx.Timeout:
    return httpx.Timeout(connect=10.0, read=30.0, write=10.0, pool=10.0)


def _media_type(headers: httpx.Headers) -> str:
    value: str = headers.get("content-type", "")
    return value.split(";")[0].strip().lower()


@dataclass(frozen=True)
class Response:
    """A fully read response of bounded size."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def media_type(self) -> str:
        return _media_type(self.headers)

    @property
    def location(self) -> str | None:
        """The Location header resolved against the request URL (RFC 9110 section 10.2.2)."""
        value: str | None = self.headers.get("location")
        if not value:
            return None
        try:
            return str(httpx.URL(self.url).join(value))
        except (httpx.InvalidURL, ValueError):
            raise ProtocolViolation(f"{self.url} sent an unreadable Location header") from None

    def require_location(self) -> str:
        if not self.location:
            raise ProtocolViolation(f"the CA's response from {self.url} has no Location header")
        return self.location

    def json(self) -> Any:
        if self.media_type not in (JSON, PROBLEM_JSON):
            raise ProtocolViolation(
                f"{self.url} answered {self.media_type or 'no content type'}, not {JSON}"
            )
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise ProtocolViolation(f"{self.url} answered malformed JSON") from None

    def links(self, rel: str) -> list[str]:
        """Targets of ``Link`` headers with this relation (RFC 8288), resolved against the URL."""
        found: list[str] = []
        for header in self.headers.get_list("link"):
            for target, params in _LINK_RE.findall(header):
                rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', params)
                if any(rel in r.split() for r in rels):
                    try:
                        found.append(str(httpx.URL(self.url).join(target)))
                    except (httpx.InvalidURL, ValueError):
                        logger.info("%s: ignoring unreadable Link target %r", self.url, target)
        return found


def _certificate_not_verified(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a failed check of the server's certificate."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _ssl_context(ca_bundle: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Any:
    path = ca_bundle if ca_bundle is not None else environ.get("REQUESTS_CA_BUNDLE")
    if path:
        return ssl.create_default_context(cafile=os.fspath(path))
    return True


class Sender:
    """Sends ACME requests for one CA over one pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        *,
        ca_bundle: str | os.PathLike[str] | None = None,
        verify: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock,
        sleep: Sleep,
        now: Now,
        user_agent: str | None = None,
        timeout: httpx.Timeout | None = None,
        max_body: int = 1 << 20,
        max_bad_nonce_retries: int = 50,
        bad_nonce_budget: float = 60.0,
        max_server_retries: int = 3,
        max_retry_wait: float = 30.0,
        retry_budget: float = 90.0,
        nonce_wait: float = 10.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        headers = {"User-Agent": user_agent or default_user_agent()}
        common: dict[str, Any] = {
            "headers": headers,
            "timeout": timeout or default_timeout(),
            "follow_redirects": False,
        }
        if transport is not None:
            self._http = httpx.AsyncClient(transport=transport, **common)
        else:
            # verify=False: the caller asked not to check the CA's certificate (certbot's
            # --no-verify-ssl, for test CAs); the bundle is then not read at all.
            env = os.environ if environ is None else environ
            checked = _ssl_context(ca_bundle, env) if verify else False
            self._http = httpx.AsyncClient(verify=checked, **common)
        self._clock, self._sleep, self._now = clock, sleep, now
        self._max_body = max_body
        self._max_bad_nonce_retries = max_bad_nonce_retries
        self._bad_nonce_budget = bad_nonce_budget
        self._retry = RetryPolicy(max_server_retries, max_retry_wait, retry_budget)
        self._nonces: deque[str] = deque(maxlen=_NONCE_POOL_SIZE)
        self._nonce_ready = asyncio.Condition()
        self._in_flight = 0
        self._nonce_wait = nonce_wait
        self.new_nonce_url: str | None = None
        # URLs the CA hands out must be https; http only when the user chose an http directory.
        self.allow_http = False
        self.request_count = 0
        self.nonce_fetches = 0
        self.bad_nonce_retries = 0
        self.retries = 0

    def retry_after(self, response: Response) -> float | None:
        """The response's Retry-After in seconds from now, or None."""
        return parse_retry_after(response.headers.get("retry-after"), self._now())

    async def aclose(self) -> None:
        await self._http.aclose()

    def check_url(self, url: str) -> None:
        """ProtocolViolation unless ``url`` is https (or http, when ``allow_http``)."""
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        if scheme == "https" or (scheme == "http" and self.allow_http):
            return
        raise ProtocolViolation(f"the CA sent the URL {url[:200]!r}; only https URLs are followed")

    async def _send(
        self, method: str, url: str, *, pool_nonce: bool = True, **kwargs: Any
    ) -> Response:
        self.check_url(url)
        self.request_count += 1
        self._in_flight += 1
        logger.debug("%s %s", method, url)
        try:
            request = self._http.build_request(method, url, **kwargs)
            try:
                raw = await self._http.send(request, stream=True)
                try:
                    body = await self._read_capped(raw, url)
                finally:
                    await raw.aclose()
            except httpx.HTTPError as exc:
                if _certificate_not_verified(exc):
                    raise CertificateNotTrusted(f"{method} {url}: {exc}") from exc
                raise transport_error(method, url, exc) from exc
            nonce = raw.headers.get("replay-nonce")
            if pool_nonce and nonce and _NONCE_RE.fullmatch(nonce):
                self._nonces.append(nonce)
            return Response(url, raw.status_code, raw.headers, body)
        finally:
            self._in_flight -= 1
            async with self._nonce_ready:
                self._nonce_ready.notify_all()

    async def _read_capped(self, raw: httpx.Response, url: str) -> bytes:
        declared = raw.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise ProtocolViolation(f"{url} announced a body of {declared} bytes, too large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in raw.aiter_bytes():
            size += len(chunk)
            if size > self._max_body:
                raise ProtocolViolation(f"{url} sent more than {self._max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _nonce(self) -> str:
        """A nonce from the pool; else from a response still in flight; else ``HEAD newNonce``.

        Waiting for in-flight responses keeps concurrent callers (``asyncio.gather`` over
        authorizations) from spending one HEAD each; each wait is bounded by ``nonce_wait``.
        """
        async with self._nonce_ready:
            while not self._nonces and self._in_flight > 0:
                try:
                    await asyncio.wait_for(self._nonce_ready.wait(), self._nonce_wait)
                except TimeoutError:
                    break
            if self._nonces:
                return self._nonces.popleft()
        if self.new_nonce_url is None:
            raise ProtocolViolation("no newNonce URL known: fetch the directory first")
        # The HEAD's nonce is kept for this caller, not pooled where another could take it.
        response = await self._fetch("HEAD", self.new_nonce_url, pool_nonce=False)
        nonce = response.headers.get("replay-nonce")
        if not nonce or not _NONCE_RE.fullmatch(nonce):
            raise ProtocolViolation("the CA's newNonce answer has no usable Replay-Nonce")
        return str(nonce)

    def _problem(self, response: Response) -> ProblemError:
        retry_after = self.retry_after(response)
        data: Any = None
        if response.media_type in (PROBLEM_JSON, JSON):
            try:
                data = json.loads(response.body)
            except (ValueError, RecursionError):
                data = None
        if isinstance(data, dict):
            problem = problem_from_json(data, status=response.status, retry_after=retry_after)
            terms = response.links("terms-of-service")
            problem.tos_url = terms[0] if terms else None
            return problem
        snippet = response.body[:200].decode("utf-8", "replace")
        return problem_from_json(
            {"type": "about:blank", "detail": f"HTTP {response.status} {snippet}".strip()},
            status=response.status,
            retry_after=retry_after,
        )

    def _check_success(self, response: Response, accept: str | None) -> Response:
        if accept is not None and response.media_type != accept:
            raise ProtocolViolation(
                f"{response.url} answered {response.media_type or 'no content type'}, "
                f"expected {accept}"
            )
        return response

    async def _retry_or_raise(
        self, error: AcmeError, method: str, url: str, repeat: Repeat, tries: int, started: float
    ) -> None:
        """Sleep before try ``tries + 1`` when the policy allows one; else raise ``error``."""
        error.attempts = tries
        wait = self._retry.wait(error, repeat, tries, self._clock() - started)
        if wait is None:
            if isinstance(error, TransportError) and tries > 1:
                cause = error.__cause__
                error.raw = f"{type(cause).__name__}: {cause}" if cause else "no details"
                error.message = f"{method} {url}: {error.what}; gave up after {tries} tries"
                error.message += f" ({error.raw})"
            elif isinstance(error, TransportError) and error.sent and repeat is Repeat.ONCE:
                error.message += "; not sent again: the CA may have acted on it"
                error.not_resent = True
            raise error
        why = f"the CA answered {error.status}" if isinstance(error, ProblemError) else ""
        if isinstance(error, TransportError):
            why = error.what
        limit = self._retry.max_retries
        logger.info("%s %s: %s; retry %d of %d in %.1f s", method, url, why, tries, limit, wait)
        self.retries += 1
        await self._sleep(wait)

    async def _fetch(self, method: str, url: str, **kwargs: Any) -> Response:
        """A GET or HEAD (safe to repeat), retried as ``acme.retry`` says; raises for >= 400."""
        tries, started = 1, self._clock()
        while True:
            if method == "HEAD":
                self.nonce_fetches += 1
            try:
                response = await self._send(method, url, **kwargs)
            except TransportError as exc:
                await self._retry_or_raise(exc, method, url, Repeat.SAFE, tries, started)
            else:
                if response.status < 400:
                    return response
                error = self._problem(response)
                await self._retry_or_raise(error, method, url, Repeat.SAFE, tries, started)
            tries += 1

    async def get(self, url: str, *, accept: str | None = JSON) -> Response:
        """GET (directory, renewalInfo); dropped connections, timeouts and 5xx are retried."""
        response = await self._fetch("GET", url, headers={"Accept": accept or "*/*"})
        return self._check_success(response, accept)

    async def post(
        self,
        url: str,
        sign: Callable[[str], dict[str, str]],
        *,
        accept: str | None = JSON,
        repeat: Repeat = Repeat.ONCE,
    ) -> Response:
        """POST a JWS made by ``sign(nonce)``; re-signed with a fresh nonce on every retry.

        ``repeat`` says what sending it again may do at the CA (``acme.retry``); a problem or
        TransportError raised after more than one try has ``attempts`` above 1.
        """
        bad_nonces, tries = 0, 1
        started = self._clock()
        while True:
            body = json.dumps(sign(await self._nonce())).encode()
            headers = {"Content-Type": JOSE_JSON, "Accept": accept or "*/*"}
            try:
                response = await self._send("POST", url, content=body, headers=headers)
            except TransportError as exc:
                await self._retry_or_raise(exc, "POST", url, repeat, tries, started)
                tries += 1
                continue
            if response.status < 400:
                return self._check_success(response, accept)
            error = self._problem(response)
            if isinstance(error, BadNonce):
                bad_nonces += 1
                elapsed = self._clock() - started
                if bad_nonces <= self._max_bad_nonce_retries and elapsed < self._bad_nonce_budget:
                    logger.debug("badNonce from %s, retry %d", url, bad_nonces)
                    self.bad_nonce_retries += 1
                    continue
                error.attempts = tries
                raise error
            await self._retry_or_raise(error, "POST", url, repeat, tries, started)
            tries += 1
