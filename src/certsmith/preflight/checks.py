"""Checks run before ordering: CAA, address resolution, reachability, the dns-01 zone.

Each check returns a ``CheckResult`` with one plain sentence. ``blocking`` results (``ok`` false,
severity ``"error"``) mean the caller stops before creating an order; a ``"warning"`` is shown
but does not stop (for example a name that points at a NAT router, not at this machine).

Everything that touches the outside is injected: the dnspython resolver, the HTTP transport
(``httpx.MockTransport`` in tests), an ``address_map`` that sends ``(host, port)`` to another
address (a loopback test server), and the local address set.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver
import httpx

from certsmith.acme.identifier import Identifier
from certsmith.preflight.caa import LETSENCRYPT, CaaPolicy, check_caa
from certsmith.preflight.messages import Catalogue
from certsmith.preflight.provider_zones import provider_zone

Severity = Literal["error", "warning", "info"]

MAX_REDIRECTS = 10  # Let's Encrypt follows at most 10 redirects
_BODY_LIMIT = 8192
_TRAILING_WS = " \t\r\n"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check for one identifier."""

    name: str
    identifier: str
    ok: bool
    severity: Severity
    message: str
    next_step: str | None = None
    # False: skipping the check would only move the failure to the CA (see provider_zones).
    skippable: bool = True

    @property
    def blocking(self) -> bool:
        """Whether the caller must stop before ordering."""
        return not self.ok and self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "identifier": self.identifier,
            "ok": self.ok,
            "severity": self.severity,
            "message": self.message,
            "next_step": self.next_step,
        }


def _is_local(address: str, local_addresses: set[str]) -> bool:
    # All of 127.0.0.0/8 (and ::1) is this machine, whatever the interface list says.
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or ip in {ipaddress.ip_address(x) for x in local_addresses}


def default_local_addresses() -> set[str]:
    """Addresses of this machine known without sending anything: loopback and the hostname's."""
    found = {"127.0.0.1", "::1"}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            found.add(str(ipaddress.ip_address(str(info[4][0]).split("%")[0])))
    except (OSError, ValueError):
        pass
    return found


def _problem(exc: BaseException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "timeout"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "SERVFAIL" if "SERVFAIL" in str(exc) else "no server answered"
    return str(exc) or type(exc).__name__


async def resolve_addresses(
    name: str, resolver: dns.asyncresolver.Resolver
) -> tuple[list[str], str | None]:
    """All A and AAAA addresses of ``name`` and the first failure other than NXDOMAIN/NODATA."""
    addresses: list[str] = []
    problem: str | None = None
    for rtype in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(
                dns.name.from_text(name), rtype, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN:
            continue
        except dns.exception.DNSException as exc:
            problem = problem or _problem(exc)
            continue
        if answer.rrset is not None:
            addresses.extend(rdata.address for rdata in answer.rrset if hasattr(rdata, "address"))
    return addresses, problem


async def check_resolution(
    name: str,
    resolver: dns.asyncresolver.Resolver,
    *,
    local_addresses: set[str] | None = None,
    catalogue: Catalogue | None = None,
) -> list[CheckResult]:
    """A/AAAA of ``name``; with ``local_addresses`` also whether one of them is this machine."""
    cat = catalogue or Catalogue()
    addresses, problem = await resolve_addresses(name, resolver)
    if not addresses:
        key = "check.resolve.error" if problem else "check.resolve.none"
        return [
            CheckResult("resolve", name, False, "error", cat.get(key, name=name, problem=problem))
        ]
    shown = ", ".join(addresses)
    results = [
        CheckResult(
            "resolve", name, True, "info", cat.get("check.resolve.ok", name=name, addresses=shown)
        )
    ]
    if local_addresses is not None:
        here = any(_is_local(a, local_addresses) for a in addresses)
        key = "check.local.ok" if here else "check.local.elsewhere"
        results.append(
            CheckResult(
                "points_here",
                name,
                here,
                "info" if here else "warning",
                cat.get(key, name=name, addresses=shown),
            )
        )
    return results


class _AddressMapTransport(httpx.AsyncBaseTransport):
    """Sends each request to ``address_map[(host, port)]`` when present, Host header unchanged."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        address_map: Mapping[tuple[str, int], tuple[str, int]],
    ):
        self._inner, self._map = inner, address_map

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        target = self._map.get((request.url.host, port))
        if target is not None:
            request.url = request.url.copy_with(host=target[0], port=target[1])
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _redirect_problem(url: httpx.URL) -> str | None:
    """Why the CA would refuse to follow a redirect to ``url`` (None if it would follow)."""
    if url.scheme not in ("http", "https"):
        return f"scheme {url.scheme!r} is not http or https"
    if url.port not in (None, 80, 443):
        return f"port {url.port} is not 80 or 443"
    try:
        ipaddress.ip_address(url.host)
    except ValueError:
        return None
    return "the target is an IP address, not a domain name"


async def _get_bounded(client: httpx.AsyncClient, url: httpx.URL) -> tuple[httpx.Response, bytes]:
    """GET ``url``; read at most ``_BODY_LIMIT`` bytes of the body, however much is sent."""
    # identity: raw bytes are then the body, and no compressed bomb expands in memory.
    headers = {"User-Agent": "certsmith-preflight", "Accept-Encoding": "identity"}
    request = client.build_request("GET", url, headers=headers)
    response = await client.send(request, stream=True)
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            body += chunk[: _BODY_LIMIT - len(body)]
            if len(body) >= _BODY_LIMIT:
                break
    except httpx.StreamConsumed:  # a response built in memory (a test transport)
        body[:] = response.content[:_BODY_LIMIT]
    finally:
        await response.aclose()
    return response, bytes(body)


async def check_http01(
    name: str,
    token: str,
    expected: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    address_map: Mapping[tuple[str, int], tuple[str, int]] | None = None,
    timeout: float = 10.0,
    catalogue: Catalogue | None = None,
) -> CheckResult:
    """Fetch ``http://name/.well-known/acme-challenge/<token>`` as the CA does; compare the body.

    Redirects are followed by hand, up to 10, only to http/https on ports 80/443 and to domain
    names; https certificates are not verified (the CA does not verify them either). The body's
    trailing whitespace is ignored, as Let's Encrypt does.
    """
    cat = catalogue or Catalogue()
    start = httpx.URL(f"http://{name}/.well-known/acme-challenge/{token}")
    inner = transport or httpx.AsyncHTTPTransport(verify=False)
    wrapped = _AddressMapTransport(inner, address_map or {})
    url = start
    async with httpx.AsyncClient(
        transport=wrapped, timeout=timeout, follow_redirects=False
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response, body = await _get_bounded(client, url)
            except httpx.HTTPError as exc:
                text = cat.get(
                    "check.http01.unreachable", url=url, problem=str(exc) or type(exc).__name__
                )
                return CheckResult("http01", name, False, "error", text)
            if response.is_redirect and "location" in response.headers:
                target = url.join(response.headers["location"])
                why = _redirect_problem(target)
                if why is not None:
                    text = cat.get("check.http01.bad_redirect", url=url, target=target, why=why)
                    return CheckResult("http01", name, False, "error", text)
                url = target
                continue
            if response.status_code != 200:
                text = cat.get("check.http01.status", url=url, status=response.status_code)
                return CheckResult("http01", name, False, "error", text)
            got = body.decode("utf-8", errors="replace").rstrip(_TRAILING_WS)
            if got != expected.rstrip(_TRAILING_WS):
                return CheckResult(
                    "http01", name, False, "error", cat.get("check.http01.mismatch", url=start)
                )
            return CheckResult("http01", name, True, "info", cat.get("check.http01.ok", url=start))
    return CheckResult("http01", name, False, "error", cat.get("check.http01.too_many", url=start))


async def check_dns01_zone(
    name: str, resolver: dns.asyncresolver.Resolver, *, catalogue: Catalogue | None = None
) -> CheckResult:
    """The zone holding ``_acme-challenge.<name>`` is found (SOA) and lists name servers (NS)."""
    cat = catalogue or Catalogue()
    base = name[2:] if name.startswith("*.") else name
    try:
        zone = await dns.asyncresolver.zone_for_name(dns.name.from_text(base), resolver=resolver)
        # The zone may be found from a negative answer's SOA; ask the apex itself too.
        await resolver.resolve(zone, "SOA", search=False)
        answer = await resolver.resolve(zone, "NS", raise_on_no_answer=False, search=False)
    except dns.exception.DNSException as exc:
        # Block only on a definite finding (no SOA anywhere up to the root). A server that
        # failed, refused or does not implement the query (NOTIMP) leaves it unknown: warn.
        severity: Severity = "error" if isinstance(exc, dns.resolver.NoRootSOA) else "warning"
        text = cat.get("check.dns01.no_zone", name=name, problem=_problem(exc))
        return CheckResult("dns01_zone", name, False, severity, text)
    zone_text = zone.to_text(omit_final_dot=True)
    servers = sorted(str(r.target).rstrip(".") for r in answer.rrset or [] if hasattr(r, "target"))
    if not servers:
        return CheckResult(
            "dns01_zone", name, False, "error", cat.get("check.dns01.no_ns", zone=zone_text)
        )
    text = cat.get("check.dns01.ok", zone=zone_text, name=name, servers=", ".join(servers))
    return CheckResult("dns01_zone", name, True, "info", text)


async def _caa_check(
    identifier: str, issuers: list[str], method: str, resolver: dns.asyncresolver.Resolver,
    account_uri: str | None, policy: CaaPolicy, cat: Catalogue,
) -> CheckResult:  # fmt: skip
    result = await check_caa(
        identifier, issuers, resolver=resolver, account_uri=account_uri, method=method,
        policy=policy, catalogue=cat,
    )  # fmt: skip
    message = result.reason + (f" {result.caveat}" if result.caveat else "")
    next_step = None
    skippable = True
    if result.verdict == "forbidden":
        zone = provider_zone(identifier, result.relevant_domain)
        if zone is not None:
            # Not theirs to change, and the CA reads the same record: no "add a record", no
            # "--no-preflight".
            message += " " + cat.get("caa.provider_zone", zone=zone)
            next_step = cat.get("caa.provider_zone.next", domain=identifier.removeprefix("*."))
            skippable = False
        else:
            relevant = result.relevant_domain
            next_step = cat.get("check.caa.next", relevant=relevant, issuer=issuers[0])
    severity: Severity = "info" if result.ok else "error"
    return CheckResult(
        "caa", identifier, result.ok, severity, message, next_step, skippable=skippable
    )


async def run_preflight(
    identifiers: Iterable[Identifier | str],
    method: str,
    ca_identities: list[str],
    *,
    resolver: dns.asyncresolver.Resolver,
    account_uri: str | None = None,
    standalone: bool = False,
    http_probe: tuple[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    address_map: Mapping[tuple[str, int], tuple[str, int]] | None = None,
    local_addresses: Callable[[], set[str]] = default_local_addresses,
    policy: CaaPolicy = LETSENCRYPT,
    catalogue: Catalogue | None = None,
) -> list[CheckResult]:
    """Every check that applies to ``identifiers`` for ``method``; stop if any is ``blocking``.

    - dns names: CAA against ``ca_identities`` (skipped when empty: the CA has none); for http-01
      and tls-alpn-01 the A/AAAA records; with ``standalone`` whether they point here; with
      ``http_probe=(token, content)`` (served by the caller) the http-01 fetch; for dns-01 the
      zone's SOA and NS. A wildcard with another method than dns-01 is an error.
    - ip addresses: with ``standalone`` whether the address is this machine's.
    """
    cat = catalogue or Catalogue()
    local = local_addresses() if standalone else None

    async def one(ident: Identifier) -> list[CheckResult]:
        value = ident.value
        if ident.type == "ip":
            if local is None:
                return []
            here = _is_local(value, local)
            key = "check.local.ok" if here else "check.local.elsewhere"
            text = cat.get(key, name=value, addresses=value)
            return [CheckResult("points_here", value, here, "info" if here else "warning", text)]
        if ident.is_wildcard and method != "dns-01":
            text = cat.get("check.wildcard.method", name=value, method=method)
            return [CheckResult("method", value, False, "error", text)]
        out: list[CheckResult] = []
        if ca_identities:
            out.append(
                await _caa_check(value, ca_identities, method, resolver, account_uri, policy, cat)
            )
        if method in ("http-01", "tls-alpn-01"):
            out.extend(
                await check_resolution(value, resolver, local_addresses=local, catalogue=cat)
            )
        if method == "http-01" and http_probe is not None and not any(r.blocking for r in out):
            token, content = http_probe
            out.append(
                await check_http01(
                    value,
                    token,
                    content,
                    transport=transport,
                    address_map=address_map,
                    catalogue=cat,
                )
            )
        if method == "dns-01":
            out.append(await check_dns01_zone(value, resolver, catalogue=cat))
        return out

    # At most 8 names at once: a 100-name order must not flood the resolver or the servers.
    limit = asyncio.Semaphore(8)

    async def bounded(ident: Identifier) -> list[CheckResult]:
        async with limit:
            return await one(ident)

    idents = [i if isinstance(i, Identifier) else _as_identifier(i) for i in identifiers]
    groups = await asyncio.gather(*(bounded(i) for i in idents))
    return [result for group in groups for result in group]


def _as_identifier(value: str) -> Identifier:
    try:
        return Identifier.ip(value)
    except ValueError:
        return Identifier.dns(value.strip().rstrip(".").lower())
