"""One order for one lineage, and the new version stored: the engine's inner step.

    directory -> profile -> pre-flight -> account (registered now if new) -> key + CSR
    -> order with `replaces` (issuance.py) -> save the version (unless a dry run) -> cache

The caller (engine.py) holds the lineage lock and runs the hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from certsmith import crypto
from certsmith.acme import Directory
from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import Solver
from certsmith.errors import PreflightFailed, UsageError
from certsmith.issuance import IssuanceRequest, obtain_certificate
from certsmith.renewal import keep_issued
from certsmith.renewal.ca import CaSessions
from certsmith.renewal.due import DueChecker
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.install import RunInstallers
from certsmith.renewal.probe import probe_http01
from certsmith.renewal.servers import ServerPool
from certsmith.renewal.settings import LineageSettings
from certsmith.renewal.solvers import (
    DNS_CHALLENGES,
    SolverContext,
    check_before_order,
    solvers_for,
)
from certsmith.storage.interface import LineageStorage
from certsmith.storage.lineage_model import Lineage
from certsmith.storage.pending import PendingVersion
from certsmith.storage.renewal_conf import RenewalConf
from certsmith.wording import Said

if TYPE_CHECKING:  # dnspython is imported only by runs with the pre-flight
    from dns.asyncresolver import Resolver

    from certsmith.preflight import CheckResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Order:
    """One certificate to obtain for lineage ``name``."""

    name: str
    identifiers: tuple[Identifier, ...]
    settings: LineageSettings
    dry_run: bool = False
    previous: Lineage | None = None  # set when renewing: `replaces` and --reuse-key use it


@dataclass
class Issued:
    lineage: Lineage | None  # None after a dry run
    replaced: str | None
    profile: str | None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Services:
    """What an order uses from the engine's run."""

    env: RunEnvironment
    ca: CaSessions
    due: DueChecker
    servers: ServerPool
    installers: RunInstallers


def methods_for(settings: LineageSettings) -> tuple[str, ...]:
    """The challenge types to try, in order of preference."""
    if settings.preferred_challenges:
        return settings.preferred_challenges
    if settings.authenticator == "dns-persist":
        return ("dns-persist-01",)
    if settings.authenticator.startswith("dns-"):
        return ("dns-01",)
    if settings.authenticator == "manual":
        return ("http-01", "dns-01")
    return ("http-01",)


def choose_profile(
    directory: Directory, settings: LineageSettings, identifiers: Sequence[Identifier]
) -> tuple[str | None, str | None]:
    """The profile to order with, and a note for the user when certsmith chose it."""
    offered = directory.meta.profiles
    if settings.required_profile:
        if offered and settings.required_profile not in offered:
            values: dict[str, object] = {
                "profile": repr(settings.required_profile),
                "offered": ", ".join(sorted(offered)),
            }
            raise UsageError(
                f"The CA has no profile {values['profile']}; it offers {values['offered']}.",
                wording=("usage.profile_not_offered", values),
            )
        return settings.required_profile, None
    if settings.preferred_profile:
        if not offered or settings.preferred_profile in offered:
            return settings.preferred_profile, None
        profile = repr(settings.preferred_profile)
        return None, Said(
            f"The CA has no profile {profile}; using its default.",
            "note.profile_default",
            profile=profile,
        )
    if any(i.type == "ip" for i in identifiers) and "shortlived" in offered:
        # Let's Encrypt issues IP address certificates only under its short-lived profile.
        return "shortlived", Said(
            "IP addresses need the CA's 'shortlived' profile; using it.", "note.profile_shortlived"
        )
    return None, None


async def issue(
    services: Services, order: Order, preflight: bool, check_points_here: bool
) -> Issued:
    """Obtain the certificate ``order`` describes and, unless a dry run, store and deploy it."""
    settings, env = order.settings, services.env
    check_before_order(settings, order.identifiers, methods_for(settings))
    session = await services.ca.session(settings)
    client = session.client
    directory = await client.directory()
    profile, note = choose_profile(directory, settings, order.identifiers)
    if preflight:  # before registering, so a doomed order does not even leave an account
        await run_preflight(services, order, directory, check_points_here)
    account = await services.ca.registered(session, settings)
    key_pem = _new_key_pem(order)
    csr_key = crypto.load_private_key(key_pem or _previous_key(order))

    def csr_for(identifiers: Sequence[Identifier]) -> bytes:
        return crypto.make_csr(csr_key, identifiers)

    replaces = None
    if order.previous is not None and directory.renewal_info is not None:
        replaces = client.cert_id(order.previous.certificate())
    request = IssuanceRequest(
        identifiers=order.identifiers,
        csr_der=csr_for(order.identifiers),
        profile=profile,
        replaces=replaces,
        preferred_chain=settings.preferred_chain,
        preferred_challenges=methods_for(settings),
        allow_subset=settings.allow_subset_of_names,
        csr_for=csr_for,
    )
    context = SolverContext(
        show_instructions=env.events.show_manual_instructions,
        servers=services.servers,
        web_server=services.installers.web_server_solver,
        manual_self_check=preflight and env.manual_self_check,
        on_self_check_failure=env.events.self_check_failed,
    )
    async with solvers_for(settings, context) as solvers:
        if preflight and _probe_applies(settings, solvers):
            results = await probe_http01(solvers["http-01"], order.identifiers, settings)
            env.events.probe_warnings([r for r in results if not r.ok])
        result = await obtain_certificate(
            client, request, solvers, issuance_timeout=env.issuance_timeout
        )
    issued = Issued(None, result.replaced, profile)
    if note:
        issued.notes.append(note)
    if result.dropped:
        issued.notes.append(_dropped_note(result.dropped))
    issued.notes.extend(result.notes)
    if order.dry_run:
        return issued
    lineages = env.stores.lineages
    issued.lineage = keep_issued.save_issued(
        env.stores,
        order.name,
        PendingVersion(
            key_pem,
            result.cert_pem.encode(),
            result.chain_pem.encode(),
            result.fullchain_pem.encode(),
            settings.server,
            account.id,
        ),
        renewal_conf(lineages, order, account.id),
    )
    try:
        services.due.remember(order.name)
    except OSError as exc:  # saved and deployed; only the renew cache is behind
        log.warning("%s: cannot update the renew cache: %s", order.name, exc)
    return issued


def _previous_key(order: Order) -> bytes:
    assert order.previous is not None  # _new_key_pem returns None only when renewing
    return order.previous.private_key_pem()


def _new_key_pem(order: Order) -> bytes | None:
    """None means: keep the deployed key (--reuse-key on a renewal, unless --new-key)."""
    if order.previous is not None and order.settings.reuse_key and not order.settings.new_key:
        return None
    s = order.settings
    key = crypto.generate_private_key(s.key_type, s.rsa_key_size, s.elliptic_curve)
    return crypto.private_key_pem(key)


def renewal_conf(lineages: LineageStorage, order: Order, account_id: str) -> RenewalConf:
    """The conf ``order`` saves with its certificate (also used for a kept one, engine.py)."""
    params = order.settings.replace(account=account_id).to_renewalparams()
    if order.previous is None:
        return lineages.new_conf(order.name, params)
    conf = order.previous.conf
    conf.set_renewalparams(params)
    return conf


def _dropped_note(dropped: Sequence[Identifier]) -> str:
    names = ", ".join(i.value for i in dropped)
    them = "it" if len(dropped) == 1 else "them"
    return Said(
        f"The CA could not validate {names}; the certificate was issued without {them} "
        "(--allow-subset-of-names).",
        "note.names_dropped.one" if len(dropped) == 1 else "note.names_dropped",
        names=names,
    )


def _probe_applies(settings: LineageSettings, solvers: Mapping[str, Solver]) -> bool:
    # The manual authenticator checks its own URL after the user (or hook) published it.
    methods = methods_for(settings)
    first = methods[0] if methods else "http-01"
    return first == "http-01" and "http-01" in solvers and settings.authenticator != "manual"


async def run_preflight(
    services: Services, order: Order, directory: Directory, check_points_here: bool
) -> None:
    """The checks before ordering; PreflightFailed (with the results) when one blocks."""
    from certsmith.dnsutil import make_resolver
    from certsmith.preflight import run_preflight as run_checks

    methods = methods_for(order.settings)
    if any(i.is_wildcard for i in order.identifiers) and "dns-01" in methods:
        # A wildcard can only be proven with dns-01: check the names for that method.
        methods = ("dns-01", *(m for m in methods if m != "dns-01"))
    method = methods[0] if methods else "http-01"
    resolver = make_resolver(order.settings.dns_resolver)
    results = await run_checks(
        order.identifiers,
        # dns-account-01 and dns-persist-01 look in the same zone as dns-01 (its SOA/NS check).
        "dns-01" if method in DNS_CHALLENGES else method,
        list(directory.meta.caa_identities),
        resolver=resolver,
        standalone=check_points_here and order.settings.authenticator == "standalone",
    )
    if method == "dns-persist-01":
        # The record's own lookup replaces the zone check: nothing will be written to the zone,
        # and a name the CA can resolve the record of is all that counts.
        results = [r for r in results if r.name != "dns01_zone"]
        results += await _persist_checks(services, order, directory, resolver)
    services.env.events.preflight_warnings([r for r in results if not r.ok and not r.blocking])
    blocking = [r for r in results if r.blocking]
    if blocking:
        lines = [r.message + (f" {r.next_step}" if r.next_step else "") for r in blocking]
        raise PreflightFailed("\n".join(lines), skippable=all(r.skippable for r in blocking))


async def _persist_checks(
    services: Services, order: Order, directory: Directory, resolver: Resolver
) -> list[CheckResult]:
    """dns-persist-01: the standing records name this CA and the account in use (if any yet)."""
    from certsmith.preflight.persist import check_persist_records

    session = await services.ca.session(order.settings)
    account = session.account.url if session.account is not None else None
    return await check_persist_records(
        order.identifiers,
        directory.meta.caa_identities,
        account,
        resolver=resolver,
        now=services.env.now(),
    )
