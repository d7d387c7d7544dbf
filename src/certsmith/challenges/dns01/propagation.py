"""Waiting until dns-01 TXT records are visible, and finding where they must be written.

Two modes:

- Authoritative (default): find the zone of each record name (SOA walk through the resolver),
  its NS names and their addresses, then ask every authoritative server directly (UDP, TCP when
  the answer is truncated) until each one serves every expected value. This is what the CA will
  see once its resolver's cache is clear, and it does not depend on our resolver's cache.
- Resolver (``--dns-resolver HOST:PORT``): ask that one server instead, for split-horizon setups
  and tests.

``_acme-challenge`` names may be CNAMEs into another zone (RFC 8555 section 8.4 lets the CA
follow them); ``resolve_challenge_target`` returns the name where the TXT record must be written.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Set
from dataclasses import dataclass

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from certsmith.acme.identifier import Identifier
from certsmith.dnsutil import make_resolver, parse_host_port
from certsmith.errors import SolverError
from certsmith.wording import said
from certsmith.wording_parts import joined

logger = logging.getLogger(__name__)

MAX_CNAME_HOPS = 8
MAX_NAMESERVERS = 16


_HOST_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def txt_value(key_authorization: str) -> str:
    """RFC 8555 section 8.4: base64url(SHA-256(key authorization)) without padding."""
    digest = hashlib.sha256(key_authorization.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def challenge_name(identifier: Identifier) -> str:
    """``_acme-challenge.<name>`` with a leading ``*.`` removed (RFC 8555 section 8.4).

    The name must be an ASCII host name (LDH labels of 1-63 characters, at most 253 in all):
    anything else (a backslash escape, a space, an empty label) would make the DNS provider
    write somewhere other than this identifier's zone, so it raises ``SolverError``.
    """
    if identifier.type != "dns":
        value = str(identifier)
        why = said("challenge.identifier_type", kind="dns-01", type=identifier.type, value=value)
        raise SolverError(why)
    name = identifier.value.removeprefix("*.").removesuffix(".").lower()
    if len(name) > 253 or not all(_HOST_LABEL_RE.fullmatch(x) for x in name.split(".")):
        name = repr(identifier.value[:300])
        raise SolverError(said("challenge.not_dns_name", name=name, kind="dns-01"))
    return "_acme-challenge." + name


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


@dataclass(frozen=True)
class Nameserver:
    """One server to ask: its name (or the resolver address) and the addresses to try in turn."""

    name: str
    addresses: tuple[str, ...]
    port: int


async def resolve_challenge_target(
    name: str, resolver: dns.asyncresolver.Resolver, max_hops: int = MAX_CNAME_HOPS
) -> str:
    """Follow CNAMEs from ``name`` and return the last name (without trailing dot, lower case).

    A name without a CNAME returns itself. A loop or a chain longer than ``max_hops`` raises
    ``SolverError``. Lookup failures other than NXDOMAIN / no answer raise ``SolverError`` too,
    since writing to the wrong name would fail only later at the CA.
    """
    current = _norm(name)
    seen = {current}
    for _ in range(max_hops):
        try:
            answer = await resolver.resolve(current, "CNAME", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return current
        except dns.exception.DNSException as exc:
            raise SolverError(said("dns01.cname_lookup", name=current, reason=exc)) from exc
        if answer.rrset is None:
            return current
        target = _norm(answer.rrset[0].target.to_text())
        if target in seen:
            raise SolverError(said("dns01.cname_loop", name=current, target=target))
        logger.info("%s is a CNAME to %s; the TXT record goes there", current, target)
        seen.add(target)
        current = target
    raise SolverError(said("dns01.cname_chain", count=max_hops, name=name))


async def find_authoritative_servers(
    name: str, resolver: dns.asyncresolver.Resolver, port: int = 53
) -> tuple[str, list[Nameserver]]:
    """The zone containing ``name`` (SOA walk) and its NS names with their A/AAAA addresses."""
    try:
        zone = await dns.asyncresolver.zone_for_name(name, resolver=resolver)
        ns_answer = await resolver.resolve(zone, "NS")
    except dns.exception.DNSException as exc:
        raise SolverError(said("dns01.no_authority", name=name, reason=exc)) from exc
    servers: list[Nameserver] = []
    ns_names = sorted({_norm(r.target.to_text()) for r in ns_answer})
    for ns_name in ns_names[:MAX_NAMESERVERS]:
        addresses: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await resolver.resolve(ns_name, rdtype, raise_on_no_answer=False)
            except dns.exception.DNSException:
                continue
            if answer.rrset is not None:
                addresses.extend(r.to_text() for r in answer.rrset)
        if not addresses:
            raise SolverError(said("dns01.ns_no_address", ns=ns_name, zone=zone))
        servers.append(Nameserver(ns_name, tuple(addresses), port))
    return _norm(zone.to_text()), servers


async def query_txt(
    server: Nameserver, name: str, timeout: float, recursion: bool
) -> tuple[set[str] | None, str]:
    """Ask ``server`` for the TXT set of ``name``: (values or None when no answer, description).

    Each address is tried in turn; the first that answers counts (a host without IPv6 still
    reaches a dual-stack server). UDP first, TCP when the answer is truncated.
    """
    query = dns.message.make_query(name, dns.rdatatype.TXT)
    if not recursion:
        query.flags &= ~dns.flags.RD
    errors: list[str] = []
    for address in server.addresses:
        try:
            response, _ = await dns.asyncquery.udp_with_fallback(
                query, address, timeout=timeout, port=server.port
            )
        except (dns.exception.DNSException, OSError) as exc:
            errors.append(f"{address}: {type(exc).__name__}")
            continue
        rcode = response.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            errors.append(f"{address}: {dns.rcode.to_text(rcode)}")
            continue
        values: set[str] = set()
        qname = dns.name.from_text(name)
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.TXT and rrset.name == qname:
                values.update(b"".join(r.strings).decode("ascii", "replace") for r in rrset)
        if values:
            return values, repr(sorted(values))
        return values, f"no TXT ({dns.rcode.to_text(rcode)})"
    return None, "no answer (" + ", ".join(errors) + ")"


Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class PropagationChecker:
    """Finds challenge targets and waits until TXT records are served.

    ``dns_resolver`` (HOST:PORT) switches to resolver mode. ``resolver`` is the resolver used for
    CNAME, SOA, NS and address lookups (default: ``make_resolver(dns_resolver)``);
    ``nameserver_port`` is the port of the authoritative servers (53; tests change it).
    ``timeout`` bounds one ``wait`` overall; ``interval`` is the pause between polls.
    """

    def __init__(
        self,
        *,
        dns_resolver: str | None = None,
        resolver: dns.asyncresolver.Resolver | None = None,
        nameserver_port: int = 53,
        timeout: float = 120.0,
        interval: float = 5.0,
        query_timeout: float = 3.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.dns_resolver = dns_resolver
        self.resolver = resolver or make_resolver(dns_resolver, timeout=query_timeout)
        self.nameserver_port = nameserver_port
        self.timeout = timeout
        self.interval = interval
        self.query_timeout = query_timeout
        self._clock = clock
        self._sleep = sleep

    async def resolve_challenge_target(self, name: str) -> str:
        """Where the TXT record for ``name`` must be written (see the module function)."""
        return await resolve_challenge_target(name, self.resolver)

    async def servers_for(self, name: str) -> list[Nameserver]:
        """The servers to check ``name`` against: the --dns-resolver, or the zone's NS set."""
        if self.dns_resolver is not None:
            host, port = parse_host_port(self.dns_resolver)
            return [Nameserver(f"resolver {host}:{port}", (host,), port)]
        zone, servers = await find_authoritative_servers(name, self.resolver, self.nameserver_port)
        logger.debug("zone %s of %s is served by %s", zone, name, [s.name for s in servers])
        return servers

    async def wait(self, records: Mapping[str, Set[str]]) -> None:
        """Return once every server serves every value of ``records`` (name -> TXT values).

        Polls every ``interval`` seconds until ``timeout`` has passed since the call, then raises
        ``SolverError`` naming each lagging server, the name it lags on and what it served.
        Extra values at a name are fine (another order may be in flight).
        """
        deadline = self._clock() + self.timeout
        wanted = {_norm(name): set(values) for name, values in records.items() if values}
        plan = {name: await self.servers_for(name) for name in wanted}
        max_polls = int(self.timeout / max(self.interval, 0.001)) + 2
        lagging: list[str] = []
        for poll in range(max_polls):
            lagging = await self._lagging(plan, wanted)
            if not lagging:
                logger.info("TXT records visible on all servers after %d poll(s)", poll + 1)
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            logger.debug("still waiting for: %s", "; ".join(lagging))
            await self._sleep(min(self.interval, remaining))
        seconds = f"{self.timeout:g}"
        raise SolverError(said("dns01.not_visible", seconds=seconds, lagging=joined(lagging)))

    async def _lagging(
        self, plan: Mapping[str, list[Nameserver]], wanted: Mapping[str, set[str]]
    ) -> list[str]:
        recursion = self.dns_resolver is not None
        checks = [
            (name, server, query_txt(server, name, self.query_timeout, recursion))
            for name, servers in plan.items()
            for server in servers
        ]
        results = await asyncio.gather(*(coro for _, _, coro in checks))
        lagging: list[str] = []
        for (name, server, _), (served, description) in zip(checks, results, strict=True):
            if served is None or not wanted[name] <= served:
                lagging.append(
                    said("dns01.lagging", server=server.name, what=description, name=name)
                )
        return lagging
