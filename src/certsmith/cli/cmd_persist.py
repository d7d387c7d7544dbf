"""`certsmith persist-record`: the dns-persist-01 records to publish once, for the account in use.

    certsmith persist-record -d example.org [-d ...] [--wildcard] [--until DATE] [--json]

The account is the one stored for --server (registered first, as certonly would, when there is
none: the record must name it). The issuer domain name is the CA's first CAA identity from its
directory (the name Pebble and Let's Encrypt put in the challenge's issuer-domain-names). One
record per name, owner ``_validation-persist.<name>``; a ``*.name`` or ``--wildcard`` adds
``policy=wildcard``. Nothing is written to DNS: the record is an authorization, and publishing it
is the domain owner's decision (docs/dns-persist.md).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from certsmith.acme.identifier import Identifier
from certsmith.challenges.dns_persist import PersistRecord, persist_owner
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.options import PersistRecordOptions
from certsmith.cli.prompt import make_prompter
from certsmith.errors import CertsmithError, SolverError, UsageError
from certsmith.preflight.messages import Catalogue
from certsmith.renewal.ca import CaSessions
from certsmith.renewal.settings import LineageSettings


@dataclass(frozen=True)
class PublishRecord:
    name: str  # owner name, without the trailing dot
    value: str  # TXT value

    def zone_line(self) -> str:
        return f'{self.name}. IN TXT "{self.value}"'


def parse_until(text: str, now: datetime, catalogue: Catalogue | None = None) -> int:
    """``--until``: ``YYYY-MM-DD`` (midnight UTC), an ISO 8601 time, or a Unix time; future."""
    cat = catalogue or Catalogue()
    text = text.strip()
    if re.fullmatch(r"[0-9]{1,12}", text):
        stamp = int(text)
    else:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(cat.get("persist.until.bad", value=text)) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        stamp = int(moment.timestamp())
    if stamp <= now.timestamp():
        raise UsageError(cat.get("persist.until.past", value=text))
    return stamp


def records_for(
    domains: tuple[str, ...],
    issuer: str,
    account_url: str,
    *,
    wildcard: bool,
    until: int | None,
) -> list[PublishRecord]:
    """One record per owner name, in the order the names were given."""
    wanted: dict[str, bool] = {}
    for domain in domains:
        try:
            owner = persist_owner(Identifier.dns(domain))
        except SolverError as exc:
            raise UsageError(str(exc)) from None
        wanted[owner] = wanted.get(owner, False) or wildcard or domain.startswith("*.")
    return [
        PublishRecord(owner, PersistRecord(issuer, account_url, covers, until).to_text())
        for owner, covers in wanted.items()
    ]


def persist_record(options: PersistRecordOptions, console: Console) -> int:
    c = options.common
    if not options.domains:
        raise UsageError(console.message("persist.no_domains"))
    events = common.CliEvents(console, make_prompter(c.non_interactive), options.account)
    env = common.environment(c, events)
    until = parse_until(options.until, env.now(), console.catalogue) if options.until else None
    settings = LineageSettings(
        server=c.server,
        ca_bundle=str(c.ca_bundle) if c.ca_bundle else None,
        account=options.account.account,
    )

    async def run() -> tuple[str, str]:
        sessions = CaSessions(env, common.registration(options.account))
        try:
            session = await sessions.session(settings)
            directory = await session.client.directory()
            issuers = directory.meta.caa_identities
            if not issuers:
                raise CertsmithError(console.message("persist.no_issuer", server=c.server))
            account = await sessions.registered(session, settings)
            return issuers[0], account.url
        finally:
            await sessions.aclose()

    with env.stores.guard():
        issuer, account_url = asyncio.run(run())
    records = records_for(
        options.domains, issuer, account_url, wildcard=options.wildcard, until=until
    )
    if options.json:
        console.data(json.dumps([{"name": r.name, "value": r.value} for r in records]))
        return 0
    console.say(console.message("persist.publish", account=account_url))
    console.say("\n".join(f"  {record.zone_line()}" for record in records))
    console.say(console.message("persist.after"))
    return 0
