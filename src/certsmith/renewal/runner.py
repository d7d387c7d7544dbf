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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from certsmith.acme import AcmeClient
from certsmith.errors import CertsmithError, LockHeld
from certsmith.renewal.account import Registration, as_account_key, find_stored_account
from certsmith.renewal.ari_cache import AriCacheRecord, should_fetch_ari
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.lifecycle import (
    CertificateJob,
    Preflight,
    RunEnvironment,
    remember_certificate,
    run_job,
    settings_from_conf,
)
from certsmith.renewal.policy import certificate_rng, decide, parse_renew_before_expiry
from certsmith.renewal.settings import LineageSettings
from certsmith.renewal.solvers import SolverContext
from certsmith.storage import LineageStore
from certsmith.storage.renewal_state import RenewalState, RenewalStateStore

log = logging.getLogger(__name__)


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


async def _ari_record(
    clients: _AriClients, settings: LineageSettings, state: RenewalState, store: LineageStore,
    name: str, now: datetime.datetime,
) -> AriCacheRecord | None:  # fmt: skip
    record = AriCacheRecord.from_json(state.ari) if state.ari else None
    if state.cert_id is None:
        return record
    if not should_fetch_ari(record, now, cert_id=state.cert_id, not_after=state.not_after):
        return record
    client = await clients.get(settings)
    if client is None:
        return record
    try:
        info = await client.renewal_info(store.load(name).certificate())
    except CertsmithError as exc:
        log.info("%s: renewalInfo failed (%s); using the lifetime rule", name, exc)
        if record is not None and record.cert_id == state.cert_id:
            return record.with_failure(now)
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
    """One `renew` run over some lineages."""

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

    async def run(self, names: Sequence[str]) -> list[LineageResult]:
        limit = asyncio.Semaphore(max(1, self.plan.parallel))

        async def one(name: str) -> LineageResult:
            async with limit:
                return await self.renew_one(name)

        try:
            return list(await asyncio.gather(*(one(n) for n in names)))
        finally:
            await self._ari.aclose()
            await asyncio.to_thread(self.hooks.finish)

    async def renew_one(self, name: str) -> LineageResult:
        try:
            lock = self.store.lock(name, blocking=False)
        except LockHeld as exc:
            return LineageResult(name, Outcome.LOCKED, str(exc))
        with lock:
            # Re-check under the lock: another process may have renewed it meanwhile.
            try:
                return await self._check_and_renew(name)
            except CertsmithError as exc:
                log.warning("%s: %s", name, exc)
                return LineageResult(name, Outcome.FAILED, str(exc), exc)

    def _state(self, name: str, cert_path: Path) -> RenewalState:
        state = self.states.load(name, cert_path)
        if state is None:
            state = remember_certificate(self.env.config_dir, self.store.load(name), None)
            if state is None:
                raise CertsmithError(f"{name}: the deployed certificate cannot be read")
        return state

    async def _check_and_renew(self, name: str) -> LineageResult:
        conf = self.store.read_conf(name)
        settings = settings_from_conf(conf).with_overrides(**self.plan.overrides)
        state = self._state(name, Path(conf.path("cert")))
        now = self.env.now()
        record = await _ari_record(self._ari, settings, state, self.store, name, now)
        if record is not None and record.to_json() != state.ari:
            self.states.save(name, state.with_ari(record.to_json()))
        before = conf.get("renew_before_expiry")
        decision = decide(
            state.not_before,
            state.not_after,
            now,
            ari_window=record.window if record else None,
            ari_retry_after=record.next_fetch if record else None,
            renew_before_expiry=parse_renew_before_expiry(before) if before else None,
            force=self.plan.force,
            rng=certificate_rng(state.serial),
        )
        if not decision.due:
            return LineageResult(name, Outcome.NOT_DUE, decision.reason)
        return await self._renew(name, settings, decision.reason)

    async def _delay_first_renewal(self) -> None:
        # Only the first lineage found due waits; the others wait on the lock, then go on.
        async with self._delay_lock:
            if self._delay_pending:
                self._delay_pending = False
                delay = self.plan.first_renewal_delay
                log.info("Non-interactive renewal: random delay of %.0f seconds", delay)
                await self._sleep(delay)

    async def _renew(self, name: str, settings: LineageSettings, reason: str) -> LineageResult:
        lineage = self.store.load(name)
        domains = [i.value for i in lineage.identifiers]
        await self._delay_first_renewal()
        await asyncio.to_thread(
            self.hooks.before_renewal, pre_hook=settings.pre_hook, post_hook=settings.post_hook
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
                self.env, job, self.registration, self.solver_context, self.plan.preflight
            )
        except CertsmithError:
            self.hooks.record_failure(domains)
            raise
        await asyncio.to_thread(
            self.hooks.deploy,
            lineage_dir=lineage.live_dir,
            domains=domains,
            deploy_hook=settings.renew_hook,
        )
        return LineageResult(
            name, Outcome.RENEWED, reason, notes=outcome.notes, replaced=outcome.replaced
        )
