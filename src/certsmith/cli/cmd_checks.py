"""`caa-check` (a machine contract: one JSON object, exit 0 allowed / 1 forbidden / 2 error) and
`doctor` (every pre-flight check, one line each, or --json)."""

from __future__ import annotations

import asyncio
import json

from certsmith import crypto
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.options import CaaCheckOptions, CommonOptions, DoctorOptions
from certsmith.errors import CertsmithError, UsageError

CAA_EXIT = {"allowed": 0, "forbidden": 1, "error": 2}


async def _ca_identities(options: CommonOptions) -> list[str]:
    """The CA's CAA identities from its directory (`meta.caaIdentities`)."""
    from certsmith.renewal.ca import read_directory
    from certsmith.renewal.settings import LineageSettings

    ca_bundle = str(options.ca_bundle) if options.ca_bundle else None
    settings = LineageSettings(server=options.server, ca_bundle=ca_bundle)
    directory = await read_directory(common.environment(options), settings)
    return list(directory.meta.caa_identities)


def caa_check(options: CaaCheckOptions, console: Console) -> int:
    from certsmith.dnsutil import make_resolver
    from certsmith.preflight import check_caa

    if len(options.domains) != 1:
        raise UsageError(
            "caa-check takes one DOMAIN: certsmith caa-check example.com --issuer letsencrypt.org"
        )
    issuers = [options.issuer] if options.issuer else asyncio.run(_ca_identities(options.common))
    if not issuers:
        raise UsageError("The CA's directory names no CAA identity; pass --issuer DOMAIN.")
    resolver = make_resolver(common.dns_resolver_text(options.common))
    result = asyncio.run(
        check_caa(
            options.domains[0],
            issuers,
            resolver=resolver,
            account_uri=options.account_uri,
            method=options.method,
        )
    )
    console.data(json.dumps(result.to_json(), ensure_ascii=False))
    return CAA_EXIT.get(result.verdict, 2)


def doctor(options: DoctorOptions, console: Console) -> int:
    from certsmith.dnsutil import make_resolver
    from certsmith.preflight import run_preflight

    identifiers = crypto.normalize_names(options.domains)
    if not identifiers:
        raise UsageError("Say which names to check: certsmith doctor -d NAME.")
    try:
        identities = asyncio.run(_ca_identities(options.common))
    except CertsmithError as exc:
        console.note(
            f"Could not read the CA's directory ({exc}); CAA is checked for letsencrypt.org."
        )
        identities = ["letsencrypt.org"]
    method = "dns-01" if any(i.is_wildcard for i in identifiers) else "http-01"
    results = asyncio.run(
        run_preflight(
            identifiers,
            method,
            identities,
            resolver=make_resolver(common.dns_resolver_text(options.common)),
        )
    )
    if options.json:
        console.data(json.dumps({"checks": [r.to_json() for r in results]}, ensure_ascii=False))
    else:
        for result in results:
            verdict = "ok" if result.ok else result.severity.upper()
            line = f"[{verdict}] {result.identifier}: {result.message}"
            if not result.ok and result.next_step:
                line += f" {result.next_step}"
            console.say(line)
    return 1 if any(r.blocking for r in results) else 0
