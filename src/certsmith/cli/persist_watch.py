"""How long the standing dns-persist-01 records of the dns-persist lineages still count, for
`certificates` and the alerts at the end of `renew`.

Only lineages whose renewal conf uses dns-persist-01 (``authenticator = dns-persist``, or
``dns-persist-01`` among ``pref_challs``) are looked up: one TXT query per name, all at once,
through the lineage's own ``--dns-resolver`` if it has one, bounded by ``LOOKUP_TIMEOUT``. A
failed lookup is a fact (``PersistCheck.error``), never an exception.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterable

from certsmith import crypto
from certsmith.cli.output import PersistCheck
from certsmith.errors import CertsmithError
from certsmith.renewal.due import settings_from_conf
from certsmith.renewal.settings import LineageSettings
from certsmith.storage.interface import AccountStorage, LineageStorage, find_account

LOOKUP_TIMEOUT = 5.0  # seconds, for all the lookups of one command together


def uses_persist(settings: LineageSettings) -> bool:
    return settings.authenticator == "dns-persist" or (
        "dns-persist-01" in settings.preferred_challenges
    )


def _persist_settings(store: LineageStorage, name: str) -> LineageSettings | None:
    try:
        settings = settings_from_conf(store.read_conf(name))
    except (CertsmithError, OSError, ValueError):
        return None
    return settings if uses_persist(settings) else None


async def _check(
    store: LineageStorage, accounts: AccountStorage, name: str, settings: LineageSettings,
    now: datetime.datetime,
) -> PersistCheck:  # fmt: skip
    from certsmith.dnsutil import make_resolver
    from certsmith.preflight.persist import persist_deadlines, until_soon

    try:
        account = find_account(accounts, settings.server, settings.account)
        # The live certificate's names, read without healing (no lock needed).
        cert = crypto.load_certificates(store.read_live_cert(name))[0]
        identifiers = crypto.certificate_identifiers(cert)
    except (CertsmithError, OSError, ValueError, IndexError) as exc:
        return PersistCheck(error=type(exc).__name__)
    if account is None:
        return PersistCheck(error="no account")
    try:
        resolver = make_resolver(settings.dns_resolver, timeout=LOOKUP_TIMEOUT)
    except (CertsmithError, ValueError) as exc:
        return PersistCheck(error=type(exc).__name__)
    deadlines = await persist_deadlines(identifiers, account.uri, resolver=resolver)
    failed = [d.error for d in deadlines if d.error is not None]
    if failed:
        return PersistCheck(error=failed[0])
    missing = tuple(d.name for d in deadlines if not d.found)
    untils = [d.until for d in deadlines if d.found and d.until is not None]
    soonest = min(untils, default=None)
    until = None if soonest is None else datetime.datetime.fromtimestamp(soonest, datetime.UTC)
    names = tuple(d.name for d in deadlines)
    return PersistCheck(until, missing, until_soon(soonest, now), names=names)


def persist_checks(
    store: LineageStorage,
    accounts: AccountStorage,
    names: Iterable[str],
    now: datetime.datetime,
) -> dict[str, PersistCheck]:
    """The check of each dns-persist lineage among ``names`` (the others are left out; with
    none, no lookup and no event loop)."""
    found = {n: s for n in names if (s := _persist_settings(store, n)) is not None}
    if not found:
        return {}

    async def all_of() -> list[PersistCheck]:
        jobs = (_check(store, accounts, n, s, now) for n, s in found.items())
        return await asyncio.wait_for(asyncio.gather(*jobs), LOOKUP_TIMEOUT * 2)

    try:
        results = asyncio.run(all_of())
    except TimeoutError:
        return {n: PersistCheck(error="Timeout") for n in found}
    return dict(zip(found, results, strict=True))
