"""DNS resolvers for every layer that looks things up (challenges, pre-flight checks).

``--dns-resolver HOST:PORT`` sends every lookup to one server instead of the system's; tests
point it at their own DNS server.
"""

from __future__ import annotations

import ipaddress

import dns.asyncresolver

from certsmith.errors import UsageError


def parse_host_port(text: str, default_port: int = 53) -> tuple[str, int]:
    """``"127.0.0.1:5353"``, ``"[::1]:53"``, ``"::1"`` or ``"10.0.0.1"`` -> (host, port)."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        ipaddress.ip_address(host)
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise UsageError(f"{text!r} is not an IP address with an optional port") from None
    if not 0 < port < 65536:
        raise UsageError(f"{text!r}: port out of range")
    return host, port


def make_resolver(
    nameserver: str | None = None, timeout: float = 5.0
) -> dns.asyncresolver.Resolver:
    """A resolver that asks ``nameserver`` (HOST:PORT) if given, else the system's resolvers."""
    if nameserver is None:
        resolver = dns.asyncresolver.Resolver(configure=True)
    else:
        host, port = parse_host_port(nameserver)
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    return resolver
