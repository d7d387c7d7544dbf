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
from datetime import datetime

import dns.asyncresolver
import dns.exception
import dns.resolver

from certsmith.acme.identifier import Identifier
from certsmith.challenges.dns_persist import Finding, evaluate, persist_owner, until_text
from certsmith.errors import SolverError
from certsmith.preflight.checks import CheckResult
from certsmith.preflight.messages import Catalogue

CHECK_NAME = "dns_persist"


async def txt_values(name: str, resolver: dns.asyncresolver.Resolver) -> set[str]:
    """The TXT strings at ``name`` (empty when it does not exist); DNSException on failure."""
    try:
        answer = await resolver.resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return set()
    if answer.rrset is None:
        return set()
    return {b"".join(r.strings).decode("ascii", "replace") for r in answer.rrset}


async def check_persist_records(
    identifiers: Iterable[Identifier],
    issuers: Iterable[str],
    account_uri: str | None,
    *,
    resolver: dns.asyncresolver.Resolver,
    now: datetime,
    catalogue: Catalogue | None = None,
) -> list[CheckResult]:
    """One result per DNS identifier (IP addresses are not dns-persist-01's business)."""
    cat = catalogue or Catalogue()
    issuer_list = list(issuers)

    async def one(ident: Identifier) -> CheckResult:
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
        if verdict.ok:
            text = cat.get("check.persist.ok", **fields)
            return CheckResult(CHECK_NAME, ident.value, True, "info", text)
        finding = verdict.finding
        if account_uri is None and finding in (Finding.OTHER_ACCOUNT, Finding.MISSING):
            key = "check.persist.no_account"
        else:
            key = f"check.persist.{finding.value}"
        next_step = cat.get("check.persist.next", **fields)
        return CheckResult(
            CHECK_NAME, ident.value, False, "error", cat.get(key, **fields), next_step
        )

    dns_names = [i for i in identifiers if i.type == "dns"]
    return list(await asyncio.gather(*(one(i) for i in dns_names)))
