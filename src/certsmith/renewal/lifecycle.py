"""Obtain a certificate for a lineage and store it: the path shared by `certonly` and `renew`.

    account -> directory -> profile -> pre-flight -> key + CSR -> order (with `replaces`)
    -> store a new version (unless --dry-run) -> renewal state cache

The caller holds the lineage lock.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from certsmith import crypto
from certsmith.acme import AcmeClient, Directory
from certsmith.acme.identifier import Identifier
from certsmith.acme.jws import AccountKey
from certsmith.challenges.base import Solver
from certsmith.errors import UsageError
from certsmith.issuance import IssuanceRequest, obtain_certificate
from certsmith.preflight.checks import CheckResult
from certsmith.renewal.account import (
    Registration,
    as_account_key,
    ensure_account,
    find_stored_account,
)
from certsmith.renewal.probe import probe_http01
from certsmith.renewal.settings import LineageSettings
from certsmith.renewal.solvers import SolverContext, check_before_order, solvers_for
from certsmith.storage import Lineage, LineageStore, RenewalConf
from certsmith.storage.renewal_state import RenewalState, RenewalStateStore, file_identity

log = logging.getLogger(__name__)

# Shows the results of the http-01 reachability probe (warnings only; see renewal/probe.py).
ProbeReport = Callable[[list[CheckResult]], None]

# Runs the pre-flight checks for (identifiers, challenge types, CA's CAA identities, the
# lineage's --dns-resolver or None); raises PreflightFailed to stop before any order is created.
Preflight = Callable[
    [Sequence[Identifier], Sequence[str], Sequence[str], str | None], Awaitable[None]
]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class RunEnvironment:
    """Where a run keeps its files and how it reaches the CA."""

    config_dir: Path
    transport: httpx.AsyncBaseTransport | None = None
    now: Callable[[], datetime.datetime] = _utc_now
    user_agent: str | None = None

    def client(
        self, settings: LineageSettings, key: AccountKey, account_url: str | None
    ) -> AcmeClient:
        return AcmeClient(
            settings.server,
            key,
            account_url=account_url,
            ca_bundle=settings.ca_bundle,
            transport=self.transport,
            user_agent=self.user_agent,
        )


@dataclass(frozen=True)
class CertificateJob:
    """One certificate to obtain for lineage ``name``."""

    name: str
    identifiers: tuple[Identifier, ...]
    settings: LineageSettings
    dry_run: bool = False
    previous: Lineage | None = None  # set when renewing: `replaces` and --reuse-key use it
    renew_before_expiry: str | None = None


@dataclass
class JobOutcome:
    name: str
    fullchain_pem: str
    lineage: Lineage | None
    replaced: str | None
    profile: str | None
    notes: list[str] = field(default_factory=list)


def choose_profile(
    directory: Directory, settings: LineageSettings, identifiers: Sequence[Identifier]
) -> tuple[str | None, str | None]:
    """The profile to order with, and a note for the user when certsmith chose it."""
    offered = directory.meta.profiles
    if settings.required_profile:
        if offered and settings.required_profile not in offered:
            raise UsageError(
                f"The CA has no profile {settings.required_profile!r}; it offers "
                f"{', '.join(sorted(offered))}."
            )
        return settings.required_profile, None
    if settings.preferred_profile:
        if not offered or settings.preferred_profile in offered:
            return settings.preferred_profile, None
        return None, f"The CA has no profile {settings.preferred_profile!r}; using its default."
    if any(i.type == "ip" for i in identifiers) and "shortlived" in offered:
        # Let's Encrypt issues IP address certificates only under its short-lived profile.
        return "shortlived", "IP addresses need the CA's 'shortlived' profile; using it."
    return None, None


def _renewal_conf(store: LineageStore, job: CertificateJob, account_id: str) -> RenewalConf:
    params = job.settings.with_overrides(account=account_id).to_renewalparams()
    if job.previous is not None:
        conf = job.previous.conf
        conf.set_renewalparams(params)
        return conf
    conf = store.new_conf(job.name, params)
    if job.renew_before_expiry:
        conf.root.set("renew_before_expiry", job.renew_before_expiry)
    return conf


def _new_key_pem(job: CertificateJob) -> bytes | None:
    """None means: keep the deployed key (--reuse-key on a renewal)."""
    if job.previous is not None and job.settings.reuse_key:
        return None
    s = job.settings
    key = crypto.generate_private_key(s.key_type, s.rsa_key_size, s.elliptic_curve)
    return crypto.private_key_pem(key)


async def run_job(
    env: RunEnvironment,
    job: CertificateJob,
    registration: Registration,
    solver_context: SolverContext,
    preflight: Preflight | None = None,
    probe_report: ProbeReport | None = None,
) -> JobOutcome:
    """Obtain the certificate ``job`` describes and, unless a dry run, deploy it."""
    settings = job.settings
    check_before_order(settings, job.identifiers, _methods(settings))

    def factory(key: AccountKey, url: str | None) -> AcmeClient:
        return env.client(settings, key, url)

    checked = False
    if preflight is not None and not has_stored_account(env.config_dir, settings):
        # Check before registering, so a doomed order does not even leave an account behind.
        directory = await read_directory(env, settings)
        await _run_preflight(preflight, job, settings, directory)
        checked = True
    account = await ensure_account(
        factory, env.config_dir, settings.server, registration, settings.account
    )
    key_pem = _new_key_pem(job)
    if key_pem is None and job.previous is not None:
        key_pem_for_csr = job.previous.private_key_pem()
    else:
        assert key_pem is not None
        key_pem_for_csr = key_pem
    csr_key = crypto.load_private_key(key_pem_for_csr)

    def csr_for(identifiers: Sequence[Identifier]) -> bytes:
        return crypto.make_csr(csr_key, identifiers)

    csr = csr_for(job.identifiers)
    async with factory(account.key, account.url) as client:
        directory = await client.directory()
        profile, note = choose_profile(directory, settings, job.identifiers)
        if preflight is not None and not checked:
            await _run_preflight(preflight, job, settings, directory)
        replaces = None
        if job.previous is not None and directory.renewal_info is not None:
            replaces = client.cert_id(job.previous.certificate())
        request = IssuanceRequest(
            identifiers=job.identifiers,
            csr_der=csr,
            profile=profile,
            replaces=replaces,
            preferred_chain=settings.preferred_chain,
            preferred_challenges=_methods(settings),
            allow_subset=settings.allow_subset_of_names,
            csr_for=csr_for,
        )
        async with solvers_for(settings, solver_context) as solvers:
            if probe_report is not None and _probe_applies(settings, solvers):
                probe_report(await probe_http01(solvers["http-01"], job.identifiers, settings))
            result = await obtain_certificate(client, request, solvers)
    outcome = JobOutcome(job.name, result.fullchain_pem, None, result.replaced, profile)
    if note:
        outcome.notes.append(note)
    if result.dropped:
        outcome.notes.append(_dropped_note(result.dropped))
    if job.dry_run:
        return outcome
    store = LineageStore(env.config_dir)
    outcome.lineage = store.save_version(
        job.name,
        key_pem,
        result.cert_pem.encode(),
        result.chain_pem.encode(),
        result.fullchain_pem.encode(),
        _renewal_conf(store, job, account.id),
    )
    remember_certificate(env.config_dir, outcome.lineage, None)
    return outcome


def _dropped_note(dropped: Sequence[Identifier]) -> str:
    names = ", ".join(i.value for i in dropped)
    them = "it" if len(dropped) == 1 else "them"
    return (
        f"The CA could not validate {names}; the certificate was issued without {them} "
        "(--allow-subset-of-names)."
    )


def _probe_applies(settings: LineageSettings, solvers: Mapping[str, Solver]) -> bool:
    # The manual authenticator checks its own URL after the user (or hook) published it.
    first = _methods(settings)[0] if _methods(settings) else "http-01"
    return first == "http-01" and "http-01" in solvers and settings.authenticator != "manual"


async def _run_preflight(
    preflight: Preflight, job: CertificateJob, settings: LineageSettings, directory: Directory
) -> None:
    methods = _methods(settings)
    if any(i.is_wildcard for i in job.identifiers) and "dns-01" in methods:
        # A wildcard can only be proven with dns-01: check the names for that method.
        methods = ("dns-01", *(m for m in methods if m != "dns-01"))
    await preflight(job.identifiers, methods, directory.meta.caa_identities, settings.dns_resolver)


async def read_directory(env: RunEnvironment, settings: LineageSettings) -> Directory:
    """The CA's directory, read without an account (a throwaway key that never signs)."""
    key = as_account_key(crypto.generate_private_key("ecdsa"))
    async with env.client(settings, key, None) as client:
        return await client.directory()


def has_stored_account(config_dir: Path, settings: LineageSettings) -> bool:
    return find_stored_account(config_dir, settings.server, settings.account) is not None


def _methods(settings: LineageSettings) -> tuple[str, ...]:
    if settings.pref_challs:
        return settings.pref_challs
    if settings.authenticator.startswith("dns-"):
        return ("dns-01",)
    if settings.authenticator == "manual":
        return ("http-01", "dns-01")
    return ("http-01",)


def certificate_facts(
    cert: x509.Certificate, identity: list[int], ari: Mapping[str, Any] | None = None
) -> RenewalState:
    """What `renew` needs to know of a deployed certificate, for the cache."""
    return RenewalState(
        cert_identity=identity,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
        cert_id=_cert_id_or_none(cert),
        ari=dict(ari) if ari else None,
    )


def remember_certificate(
    config_dir: Path, lineage: Lineage, ari: Mapping[str, Any] | None
) -> RenewalState | None:
    """Cache the deployed certificate's facts so the next `renew` need not parse it."""
    identity = file_identity(lineage.live_paths["cert"])
    if identity is None:
        return None
    state = certificate_facts(lineage.certificate(), identity, ari)
    states = RenewalStateStore(config_dir)
    states.save(lineage.name, state)
    states.flush()
    return state


def _cert_id_or_none(cert: x509.Certificate) -> str | None:
    try:
        return AcmeClient.cert_id(cert)
    except Exception:  # a certificate without an AKI has no ARI identifier
        return None


def settings_from_conf(conf: RenewalConf) -> LineageSettings:
    section = conf.renewalparams
    params: dict[str, Any] = dict(section.values)
    if "webroot_map" in section.sections:
        params["webroot_map"] = dict(section.sections["webroot_map"].values)
    return LineageSettings.from_renewalparams(params)
