"""dns-01 (RFC 8555 section 8.4): providers write TXT records, a checker waits for them.

Public surface: ``DnsSolver`` (the Solver), ``PropagationChecker``, ``DnsProvider`` and the
provider registry (``discover_providers``, ``load_provider``, ``read_credentials``), and the
record helpers ``txt_value`` / ``challenge_name`` / ``resolve_challenge_target``.
The built-in providers live in ``rfc2136``, ``acmedns`` and ``duckdns`` (imported on use).
"""

from __future__ import annotations

from certsmith.challenges.dns01.propagation import (
    PropagationChecker,
    challenge_name,
    resolve_challenge_target,
    txt_value,
)
from certsmith.challenges.dns01.provider import (
    ENTRY_POINT_GROUP,
    DnsProvider,
    ProviderFactory,
    builtin_providers,
    discover_providers,
    load_provider,
    read_credentials,
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
