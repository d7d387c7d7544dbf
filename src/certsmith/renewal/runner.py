"""`renew`: check every lineage, renew what is due, in parallel, one lock per lineage.

For each lineage: take its lock without waiting (another process renewing it means skip), read
the cached facts of the deployed certificate (parse it only when the cache is stale), ask the CA's
ARI when its Retry-After has passed, decide, and renew with `replaces`. Hooks run as certbot runs
them: pre once before the first renewal, deploy per renewed lineage, post once at the end.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509

from certsmith import crypto
from certsmith.acme import AcmeClient
from certsmith.errors import CertsmithError, LockHeld
from certsmith.renewal.account import Registration, as_account_key, find_stored_account
from certsmith.renewal.ari_cache import AriCacheRecord, should_fetch_ari
from certsmith.renewal.check import Verdict, ari_record, decide_for, quick_verdict
from certsmith.renewal.helper_process import HelperCheck
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.lifecycle import (
    CertificateJob,
    Preflight,
    ProbeReport,
    RunEnvironment,
    certificate_facts,
    run_job,
    settings_from_conf,
)
from certsmith.renewal.settings import LETSENCRYPT, LETSENCRYPT_STAGING, LineageSettings
from certsmith.renewal.solvers import SolverContext
from certsmith.storage import LineageStore, RenewalConf
from certsmith.storage.renewal_state import RenewalState, RenewalStateStore, file_identity

log = logging.getLogger(__name__)

# Lineages checked at once. Few: with more, httpx's pool bookkeeping costs more than the
# round trips it overlaps (measured over 1,000 lineages, CPU-bound: 2 beats 3, 4, 8 and 32;
# 1 waits on the network).
CHECK_CONCURRENCY = 2


class Outcome(StrEnum):
    RENEWED = "renewed"
    NOT_DUE = "not due"
    FAILED = "failed"
    LOCKED = "skipped (locked)"


@dataclass
class LineageResult:
    name: str
    outcome: Outcome
    reason: str = ""
    error: CertsmithError | None = None
    notes: list[str] = field(default_factory=list)
    replaced: str | None = None  # ARI id of the certificate the CA accepted as replaced


@dataclass(frozen=True)
class RenewPlan:
    """What this `renew` run should do beyond each lineage's stored settings."""

    overrides: dict[str, Any] = field(default_factory=dict)  # LineageSettings fields from flags
    force: bool = False
    dry_run: bool = False
    parallel: int = 1
    preflight: Preflight | None = None
    probe_report: ProbeReport | None = None
    # certbot's random delay before the first renewal of a run (0: none); precedes every hook.
    first_renewal_delay: float = 0.0


class _AriClients:
    """One ACME client per CA for renewalInfo GETs, shared by every lineage of the run."""

    def __init__(self, env: RunEnvironment) -> None:
        self._env = env
        self._clients: dict[str, AcmeClient] = {}
        self._lock = asyncio.Lock()

    async def get(self, settings: LineageSettings) -> AcmeClient | None:
        async with self._lock:
            if settings.server not in self._clients:
                stored = find_stored_account(self._env.config_dir, settings.server)
                if stored is None:
                    return None
                client = self._env.client(settings, as_account_key(stored.key), stored.uri)
                self._clients[settings.server] = client
            return self._clients[settings.server]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


async def _fetch_ari(
    client: AcmeClient, cert: x509.Certificate, state: RenewalState, name: str,
    now: datetime.datetime,
) -> AriCacheRecord | None:  # fmt: skip
    """Ask the CA's renewalInfo; a failure keeps the last answer and waits before asking again."""
    assert state.cert_id is not None
    previous = ari_record(state)
    try:
        info = await client.renewal_info(cert)
    except CertsmithError as exc:
        log.info("%s: renewalInfo failed (%s); using the lifetime rule", name, exc)
        if previous is not None and previous.cert_id == state.cert_id:
            return previous.with_failure(now)
        return AriCacheRecord.failed(state.cert_id, now)
    if info is None:
        return None
    retry = datetime.timedelta(seconds=info.retry_after) if info.retry_after else None
    return AriCacheRecord.from_response(
        state.cert_id,
        now,
        (info.window_start, info.window_end),
        explanation_url=info.explanation_url,
        retry_after=retry,
    )


class Renewer:
    """One `renew` run over some lineages: check them all (many at once: mostly small reads and
    ARI GETs), then renew the due ones ``plan.parallel`` at a time, each under its lock."""

    def __init__(
        self,
        env: RunEnvironment,
        plan: RenewPlan,
        hooks: HookRunner,
        registration: Registration,
        solver_context: SolverContext,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.env, self.plan, self.hooks = env, plan, hooks
        self._sleep = sleep
        self._delay_lock = asyncio.Lock()
        self._delay_pending = plan.first_renewal_delay > 0
        self.registration, self.solver_context = registration, solver_context
        self.store = LineageStore(env.config_dir)
        self.states = RenewalStateStore(env.config_dir)
        self._ari = _AriClients(env)
        self._known: dict[str, Verdict] = {}

    async def run(
        self,
        names: Sequence[str],
        known: Mapping[str, Verdict] | None = None,
        helper: HelperCheck | None = None,
    ) -> list[LineageResult]:
        """Check and renew ``names``. ``known`` holds quick verdicts the caller already made;
        ``helper`` is a process already checking some of the names (see helper_process)."""
        self._known = dict(known or {})
        try:
            verdicts = await self._check_all(names, helper)
            limit = asyncio.Semaphore(max(1, self.plan.parallel))
            results = await asyncio.gather(
                *(self._guarded(limit, self._renew_if_due, v) for v in verdicts)
            )
            return list(results)
        finally:
            self.states.flush()
            await self.close_clients()
            await self.hooks.finish_async()

    async def check(self, names: Sequence[str]) -> list[Verdict]:
        """Phase one alone: due or not, for each of ``names`` (a few at a time)."""
        checks = asyncio.Semaphore(CHECK_CONCURRENCY)
        return list(await asyncio.gather(*(self._guarded(checks, self._check, n) for n in names)))

    async def _check_all(self, names: Sequence[str], helper: HelperCheck | None) -> list[Verdict]:
        delegated = set(helper.names) if helper else set()
        found = {v.name: v for v in await self.check([n for n in names if n not in delegated])}
        if helper is not None:
            answer = await helper.result()
            if answer is None:
                found.update({v.name: v for v in await self.check(helper.names)})
            else:
                found.update({v.name: v for v in answer[0]})
                self.states.merge(answer[1])
        return [found[n] for n in names]

    async def close_clients(self) -> None:
        await self._ari.aclose()

    @staticmethod
    async def _guarded(limit: asyncio.Semaphore, func: Any, arg: Any) -> Any:
        async with limit:
            return await func(arg)

    async def _check(self, name: str) -> Verdict:
        """Due or not, from the cache when it can tell, else from the certificate and the CA."""
        now = self.env.now()
        if self.plan.force:
            return Verdict(name, True, "renewal forced")
        if self.plan.dry_run:
            # As certbot: a dry run simulates the renewal of every lineage, due or not.
            return Verdict(name, True, "simulating renewal for a dry run")
        verdict = self._known.pop(name, None) or quick_verdict(
            self.states, self.env.config_dir, name, now
        )
        if verdict.due is not None:
            return verdict
        try:
            if verdict.heal:
                self._heal(name)
            return await self._check_with_engine(name, now, None if verdict.heal else verdict.conf)
        except CertsmithError as exc:
            return Verdict(name, None, str(exc))

    def _heal(self, name: str) -> None:
        """Finish an interrupted switch of live/ (under the lineage's lock; skipped while
        another process holds it, since that process is the one switching)."""
        try:
            with self.store.lock(name, blocking=False):
                version = self.store.heal(name)
        except LockHeld:
            return
        log.warning("%s: finished an interrupted update; live/ is at version %d", name, version)

    async def _check_with_engine(
        self, name: str, now: datetime.datetime, conf: RenewalConf | None = None
    ) -> Verdict:
        conf = conf or self.store.read_conf(name)
        identity = file_identity(Path(conf.path("cert")))
        cert = crypto.load_certificates(self.store.read_live_cert(name, conf))[0]
        if identity is None:
            raise CertsmithError(f"{name}: the deployed certificate cannot be read")
        cached = self.states.load(name, Path(conf.path("cert")))
        state = certificate_facts(cert, identity, cached.ari if cached else None)
        if cached is not None and cached.revoked:
            state = replace(state, revoked=True)
        record = ari_record(state)
        if state.cert_id and should_fetch_ari(
            record, now, cert_id=state.cert_id, not_after=state.not_after
        ):
            settings = settings_from_conf(conf).with_overrides(**self.plan.overrides)
            client = await self._ari.get(settings)
            if client is not None:
                record = await _fetch_ari(client, cert, state, name, now)
        state = state.with_ari(record.to_json() if record else None)
        self.states.save(name, state)
        decision = decide_for(conf, state, record, now)
        return Verdict(name, decision.due, decision.reason)

    async def _renew_if_due(self, verdict: Verdict) -> LineageResult:
        name = verdict.name
        if verdict.due is None:
            # Its names are unknown when its certificate cannot be read: the lineage name stands in.
            self.hooks.record_failure([name])
            return LineageResult(
                name, Outcome.FAILED, verdict.reason, CertsmithError(verdict.reason)
            )
        if not verdict.due:
            return LineageResult(name, Outcome.NOT_DUE, verdict.reason)
        try:
            lock = self.store.lock(name, blocking=False)
        except LockHeld as exc:
            return LineageResult(name, Outcome.LOCKED, str(exc))
        with lock:
            try:
                # Another process may have renewed it between the check and the lock.
                if not (self.plan.force or self.plan.dry_run):
                    now = self.env.now()
                    again = quick_verdict(self.states, self.env.config_dir, name, now)
                    if again.due is None:  # the certificate changed since the check
                        again = await self._check_with_engine(name, now)
                    if not again.due:
                        return LineageResult(name, Outcome.NOT_DUE, again.reason)
                conf = self.store.read_conf(name)
                settings = settings_from_conf(conf).with_overrides(**self.plan.overrides)
                if not (settings.autorenew or self.plan.force or self.plan.dry_run):
                    # certbot's --no-autorenew (`autorenew = False` in the renewal conf).
                    return LineageResult(name, Outcome.NOT_DUE, "autorenew is off for it")
                if self.plan.dry_run and settings.server == LETSENCRYPT:
                    # As certbot: a dry run asks Let's Encrypt's staging CA, never production.
                    settings = settings.with_overrides(server=LETSENCRYPT_STAGING)
                return await self._renew(name, settings, verdict.reason)
            except CertsmithError as exc:
                log.warning("%s: %s", name, exc)
                return LineageResult(name, Outcome.FAILED, str(exc), exc)

    async def _delay_first_renewal(self) -> None:
        # Only the first lineage found due waits; the others wait on the lock, then go on.
        async with self._delay_lock:
            if self._delay_pending:
                self._delay_pending = False
                delay = self.plan.first_renewal_delay
                log.info("Non-interactive renewal: random delay of %.0f seconds", delay)
                for handler in logging.getLogger("certsmith").handlers:
                    handler.flush()  # a buffered log must show why the run is waiting
                await self._sleep(delay)

    async def _renew(self, name: str, settings: LineageSettings, reason: str) -> LineageResult:
        self.store.heal(name)  # also clears temp files a killed run left (we hold the lock)
        lineage = self.store.load(name)
        domains = [i.value for i in lineage.identifiers]
        if settings.webroot_default:  # `renew -w PATH`: that folder for every name, saved
            webroot = {d: settings.webroot_default for d in domains}
            settings = settings.with_overrides(webroot_map=webroot, webroot_default="")
        await self._delay_first_renewal()
        await self.hooks.before_renewal_async(
            pre_hook=settings.pre_hook, post_hook=settings.post_hook
        )
        job = CertificateJob(
            name=name,
            identifiers=lineage.identifiers,
            settings=settings,
            dry_run=self.plan.dry_run,
            previous=lineage,
        )
        log.info("%s: renewing (%s)", name, reason)
        try:
            outcome = await run_job(
                self.env,
                job,
                self.registration,
                self.solver_context,
                self.plan.preflight,
                self.plan.probe_report,
            )
        except CertsmithError:
            self.hooks.record_failure(domains)
            raise
        await self.hooks.deploy_async(
            lineage_dir=lineage.live_dir,
            domains=domains,
            deploy_hook=settings.renew_hook,
        )
        return LineageResult(
            name, Outcome.RENEWED, reason, notes=outcome.notes, replaced=outcome.replaced
        )
