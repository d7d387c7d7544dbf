"""DNS resolvers for every layer that looks things up (challenges, pre-flight checks).

``--dns-resolver HOST:PORT`` sends every lookup to one server instead of the system's; tests
point it at their own DNS server.
"""

from __future__ import annotations

import dns.asyncresolver

from certsmith.hostport import parse_host_port

__all__ = ["make_resolver", "parse_host_port"]


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
