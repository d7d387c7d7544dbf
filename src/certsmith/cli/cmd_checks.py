"""`caa-check` (a machine contract: one JSON object, exit 0 allowed / 1 forbidden / 2 error) and
`doctor` (every pre-flight check, one line each, or --json)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.options import CaaCheckOptions, CommonOptions, DoctorOptions
from certsmith.cli.usage import usage_error
from certsmith.errors import CertsmithError

if TYPE_CHECKING:
    from certsmith.preflight.checks import CheckResult

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
        raise usage_error("caa_check.one_domain")
    issuers = [options.issuer] if options.issuer else asyncio.run(_ca_identities(options.common))
    if not issuers:
        raise usage_error("caa_check.no_identity")
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


def _doctor_names(options: DoctorOptions) -> list[str]:
    """-d / bare names, else the names of --cert-name's lineage."""
    if options.domains:
        return list(options.domains)
    if options.cert_name:
        from certsmith.storage.filesystem import file_stores

        lineages = file_stores(options.common.config_dir).lineages
        if not lineages.exists(options.cert_name):
            raise usage_error("usage.no_such_certificate", name=repr(options.cert_name))
        return [i.value for i in lineages.load(options.cert_name).identifiers]
    raise usage_error("doctor.which_names")


async def _probe(options: DoctorOptions, identifiers: list[Identifier]) -> list[CheckResult]:
    """With --standalone or --webroot: serve a probe through it and fetch it as the CA would."""
    from certsmith.renewal.probe import probe_http01
    from certsmith.renewal.settings import LineageSettings
    from certsmith.renewal.solvers import SolverContext, solvers_for

    ch = options.challenge
    if ch.authenticator not in ("standalone", "webroot"):
        return []
    webroot = {i.value: str(p) for i in identifiers if (p := ch.webroot_for(i.value)) is not None}
    settings = LineageSettings(
        authenticator=str(ch.authenticator),
        webroot_map=webroot,
        http01_port=ch.http01_port,
        http01_address=ch.http01_address,
        dns_resolver=common.dns_resolver_text(options.common),
    )
    async with solvers_for(settings, SolverContext()) as solvers:
        return await probe_http01(solvers["http-01"], identifiers, settings)


async def _persist(
    options: DoctorOptions, identifiers: list[Identifier], issuers: list[str], console: Console
) -> list[CheckResult]:
    """The dns-persist-01 record of each name, judged for the account stored for --server:
    an error only with -a dns-persist (or --preferred-challenges dns-persist-01); otherwise
    names without a record are not mentioned."""
    import datetime

    from certsmith.dnsutil import make_resolver
    from certsmith.preflight.persist import check_persist_records
    from certsmith.storage.interface import find_account

    c, ch = options.common, options.challenge
    account = find_account(common.environment(c).stores.accounts, c.server)
    required = ch.authenticator == "dns-persist" or "dns-persist-01" in ch.preferred_challenges
    return await check_persist_records(
        identifiers,
        issuers,
        account.uri if account else None,
        resolver=make_resolver(common.dns_resolver_text(c)),
        now=datetime.datetime.now(datetime.UTC),
        catalogue=console.catalogue,
        required=required,
    )


def doctor(options: DoctorOptions, console: Console) -> int:
    from certsmith.dnsutil import make_resolver
    from certsmith.preflight import run_preflight

    identifiers = crypto.normalize_names(_doctor_names(options))
    try:
        identities = asyncio.run(_ca_identities(options.common))
    except CertsmithError as exc:
        console.note(console.message("doctor.no_directory", error=exc))
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
    results = [*results, *asyncio.run(_probe(options, list(identifiers)))]
    results += asyncio.run(_persist(options, list(identifiers), identities, console))
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
