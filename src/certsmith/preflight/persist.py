"""The dns-persist-01 pre-flight: is the standing record there, and would this CA accept it?

Before any order (and before a new account is registered) every DNS name of the order is looked
up at ``_validation-persist.<name>`` and judged as the CA will judge it
(``certsmith.challenges.dns_persist.evaluate``): a record that names this CA's issuer domain
name and this account, with ``policy=wildcard`` for a wildcard name, not past ``persistUntil``.
Each name gets one ``CheckResult`` with one sentence; a missing or mismatching record blocks the
order (``--no-preflight`` skips it: the CA then says the same, after an order was made).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import dns.asyncresolver
import dns.exception
import dns.resolver

from certsmith.acme.identifier import Identifier
from certsmith.challenges.dns_persist import (
    Finding,
    PersistRecord,
    Verdict,
    evaluate,
    persist_owner,
    until_text,
)
from certsmith.errors import SolverError
from certsmith.preflight.checks import CheckResult, Severity
from certsmith.preflight.messages import Catalogue

CHECK_NAME = "dns_persist"
# `persistUntil` this close is worth a warning (doctor, certificates, the alerts).
UNTIL_WARNING = timedelta(days=30)


def until_soon(persist_until: int | None, now: datetime) -> bool:
    """Whether a record's ``persistUntil`` (Unix seconds) falls within ``UNTIL_WARNING``."""
    if persist_until is None:
        return False
    return persist_until - now.timestamp() <= UNTIL_WARNING.total_seconds()


async def txt_values(name: str, resolver: dns.asyncresolver.Resolver) -> set[str]:
    """The TXT strings at ``name`` (empty when it does not exist); DNSException on failure."""
    try:
        answer = await resolver.resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return set()
    if answer.rrset is None:
        return set()
    return {b"".join(r.strings).decode("ascii", "replace") for r in answer.rrset}


@dataclass(frozen=True)
class PersistDeadline:
    """How long the record of one name lets the CA validate it for one account (a fact for
    `certificates` and the alerts). ``until``: the record's ``persistUntil`` (Unix seconds;
    None: no limit); ``found`` False: no record names the account; ``error``: the lookup failed
    (the DNS exception's class name)."""

    name: str
    until: int | None = None
    found: bool = True
    error: str | None = None


async def persist_deadlines(
    identifiers: Iterable[Identifier],
    account_uri: str,
    *,
    resolver: dns.asyncresolver.Resolver,
) -> list[PersistDeadline]:
    """One deadline per DNS identifier: of the records naming ``account_uri`` (an account URL
    belongs to one CA, so no issuer is needed), the one that lasts longest. Bounded by the
    resolver's lifetime."""

    async def one(ident: Identifier) -> PersistDeadline:
        try:
            values = await txt_values(persist_owner(ident), resolver)
        except (SolverError, dns.exception.DNSException) as exc:
            return PersistDeadline(ident.value, found=False, error=type(exc).__name__)
        records = []
        for text in values:
            try:
                record = PersistRecord.parse(text)
            except ValueError:
                continue
            if record.account_uri == account_uri and (record.wildcard or not ident.is_wildcard):
                records.append(record)
        if not records:
            return PersistDeadline(ident.value, found=False)
        untils = [r.persist_until for r in records]
        return PersistDeadline(ident.value, None if None in untils else max(u or 0 for u in untils))

    dns_names = [i for i in identifiers if i.type == "dns"]
    return list(await asyncio.gather(*(one(i) for i in dns_names)))


async def check_persist_records(
    identifiers: Iterable[Identifier],
    issuers: Iterable[str],
    account_uri: str | None,
    *,
    resolver: dns.asyncresolver.Resolver,
    now: datetime,
    catalogue: Catalogue | None = None,
    required: bool = True,
) -> list[CheckResult]:
    """One result per DNS identifier (IP addresses are not dns-persist-01's business).

    ``required`` False (``doctor`` for a name that may not use dns-persist-01): names with no
    TXT record at all are left out, and a mismatch is a warning rather than an error."""
    cat = catalogue or Catalogue()
    issuer_list = list(issuers)

    async def one(ident: Identifier) -> CheckResult | None:
        try:
            owner = persist_owner(ident)
        except SolverError as exc:
            return CheckResult(CHECK_NAME, ident.value, False, "error", str(exc))
        try:
            values = await txt_values(owner, resolver)
        except dns.exception.DNSException as exc:
            text = cat.get("check.persist.lookup", owner=owner, error=type(exc).__name__)
            return CheckResult(CHECK_NAME, ident.value, False, "warning", text)
        verdict = evaluate(values, issuer_list, account_uri, wildcard=ident.is_wildcard, now=now)
        found = verdict.record
        fields = {
            "domain": ident.value,
            "owner": owner,
            "issuer": issuer_list[0] if issuer_list else "?",
            "issuers": ", ".join(issuer_list) or "?",
            "account": account_uri or "?",
            "found": found.account_uri if found else verdict.detail,
            "until": until_text(found),
            "detail": verdict.detail,
        }
        if verdict.ok and found is not None and until_soon(found.persist_until, now):
            text = cat.get("check.persist.until_soon", **fields)
            return CheckResult(CHECK_NAME, ident.value, True, "warning", text)
        if verdict.ok:
            text = cat.get("check.persist.ok", **fields)
            return CheckResult(CHECK_NAME, ident.value, True, "info", text)
        if not required and not values:
            return None
        finding = verdict.finding
        if account_uri is None and finding in (Finding.OTHER_ACCOUNT, Finding.MISSING):
            key = "check.persist.no_account"
        else:
            key = f"check.persist.{finding.value}"
        record = _record_to_set(owner, issuer_list, account_uri, ident.is_wildcard, verdict, now)
        if record is not None:
            next_step = cat.get("check.persist.next.record", record=record, **fields)
        else:
            next_step = cat.get("check.persist.next", **fields)
        severity: Severity = "error" if required else "warning"
        return CheckResult(
            CHECK_NAME, ident.value, False, severity, cat.get(key, **fields), next_step
        )

    dns_names = [i for i in identifiers if i.type == "dns"]
    results = await asyncio.gather(*(one(i) for i in dns_names))
    return [r for r in results if r is not None]


def _record_to_set(
    owner: str,
    issuers: list[str],
    account_uri: str | None,
    wildcard: bool,
    verdict: Verdict,
    now: datetime,
) -> str | None:
    """The zone line that would fix ``verdict`` for the account in use (None: not known yet).
    A record found for another account (a lineage moved to another account) keeps its
    ``policy=wildcard`` and a ``persistUntil`` still ahead."""
    if account_uri is None or not issuers:
        return None
    found = verdict.record
    until = found.persist_until if found else None
    if until is not None and until <= now.timestamp():
        until = None
    covers = wildcard or bool(found and found.wildcard)
    try:
        value = PersistRecord(issuers[0], account_uri, covers, until).to_text()
    except ValueError:
        return None
    return f'{owner}. IN TXT "{value}"'
