"""dns-01 (RFC 8555 section 8.4): providers write TXT records, a checker waits for them.

Public surface: ``DnsSolver`` (the Solver), ``PropagationChecker``, the provider contract
(``DnsProvider``, ``ProviderFactory``, ``read_credentials``: ``contract``), the provider registry
(``discover_providers``, ``load_provider``: ``provider``), and the record helpers ``txt_value`` /
``challenge_name`` / ``resolve_challenge_target``. The built-in providers live in ``rfc2136``,
``acmedns``, ``duckdns`` and, for certbot's DNS plug-ins, ``cloudflare``, ``route53``,
``digitalocean``, ``google``, ``ovh``, ``linode`` (imported on use); they depend on
``contract`` (and ``httpapi``), not on the registry.
"""

from __future__ import annotations

from certsmith.challenges.dns01.contract import DnsProvider, ProviderFactory, read_credentials
from certsmith.challenges.dns01.propagation import (
    PropagationChecker,
    challenge_name,
    resolve_challenge_target,
    txt_value,
)
from certsmith.challenges.dns01.provider import (
    ENTRY_POINT_GROUP,
    builtin_providers,
    discover_providers,
    load_provider,
)
from certsmith.challenges.dns01.solver import DnsSolver

__all__ = [
    "ENTRY_POINT_GROUP",
    "DnsProvider",
    "DnsSolver",
    "PropagationChecker",
    "ProviderFactory",
    "builtin_providers",
    "challenge_name",
    "discover_providers",
    "load_provider",
    "read_credentials",
    "resolve_challenge_target",
    "txt_value",
]
