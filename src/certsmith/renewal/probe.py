"""The http-01 reachability probe: before ordering, publish a probe token through the very
solver the order will use (the standalone server, the webroot) and fetch it the way the CA will.

The result is a warning, never a stop: from inside a network, a name's public address often
cannot be reached (no hairpin NAT) although the CA reaches it fine, so only the CA can say no.
What the probe saw (an nginx 404, a redirect to the wrong host) is still the best early hint.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask, Solver
from certsmith.renewal.settings import LineageSettings
from certsmith.renewal.solvers import http01_resolver

if TYPE_CHECKING:
    from certsmith.preflight.checks import CheckResult

log = logging.getLogger(__name__)


def _host(identifier: Identifier) -> str:
    if identifier.type == "ip" and ipaddress.ip_address(identifier.value).version == 6:
        return f"[{identifier.value}]"
    return identifier.value


async def _address_map(
    identifiers: Sequence[Identifier], settings: LineageSettings
) -> dict[tuple[str, int], tuple[str, int]] | None:
    """Where the probe connects: as the manual self-check does (solvers.http01_resolver)."""
    resolve = http01_resolver(settings.dns_resolver, settings.http01_port)
    if resolve is None:
        return None
    mapping: dict[tuple[str, int], tuple[str, int]] = {}
    for ident in identifiers:
        try:
            mapping[(ident.value, 80)] = await resolve(ident.value, 80)
        except Exception as exc:  # unresolvable: the check itself reports it
            log.debug("probe: %s does not resolve through the resolver: %s", ident, exc)
    return mapping


async def probe_http01(
    solver: Solver, identifiers: Sequence[Identifier], settings: LineageSettings
) -> list[CheckResult]:
    """Serve a random probe for each name through ``solver`` and fetch it; always cleans up."""
    from certsmith.preflight.checks import check_http01

    names = [i for i in identifiers if not i.is_wildcard]
    tasks = [
        ChallengeTask(i, "http-01", token, f"{token}.{secrets.token_urlsafe(16)}")
        for i, token in ((i, secrets.token_urlsafe(24)) for i in names)
    ]
    presented: list[ChallengeTask] = []
    try:
        for task in tasks:
            await solver.present(task)
            presented.append(task)
        mapping = await _address_map(names, settings)
        return list(
            await asyncio.gather(
                *(
                    check_http01(
                        _host(t.identifier), t.token, t.key_authorization, address_map=mapping
                    )
                    for t in tasks
                )
            )
        )
    finally:
        for task in presented:
            try:
                await solver.cleanup(task)
            except Exception:  # the probe must never leave an error behind
                log.exception("cleanup of the http-01 probe for %s failed", task.identifier)
