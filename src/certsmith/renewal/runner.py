"""`renew`: check every lineage, renew what is due, in parallel, one lock per lineage.

Three phases. Check: each lineage from the index (two stats when unchanged), else from its
conf and certificate, without the network. Ask: the CA's ARI for the most urgent lineages whose
Retry-After has passed, at most ``plan.ari_fetch_limit`` per run (ari_schedule.py); with a
helper process, it asks half of them under half the per-CA bound (helper_process.py). Renew: the
due ones, ``plan.parallel`` at a time, each under its lock without waiting (another process
renewing it means skip), with `replaces`. Hooks run as certbot runs
them: pre once before the first renewal, deploy per renewed lineage, post once at the end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from certsmith.errors import CertsmithError, LockHeld
from certsmith.renewal.account import Registration
from certsmith.renewal.ari_schedule import (
    DEFAULT_DEADLINE,
    DEFAULT_FETCH_LIMIT,
    GRACE,
    AriRound,
    ask_chosen,
    choose,
)
from certsmith.renewal.check import Verdict
from certsmith.renewal.due import settings_from_conf
from certsmith.renewal.engine import Engine, LineageRequest, LineageResult, Outcome
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.helper_process import HelperCheck
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.manual_policy import needs_a_person
from certsmith.renewal.settings import SettingOverrides

log = logging.getLogger(__name__)

# The check phase is CPU work without network (the ARI phase after it asks the CA); it yields
# to the event loop every this many lineages.
CHECK_BATCH = 512
HELPER_SLACK = 30.0  # seconds past the ARI deadline and grace to wait for the helper's answers

__all__ = ["LineageResult", "Outcome", "RenewPlan", "Renewer"]


@dataclass(frozen=True)
class RenewPlan:
    """What this `renew` run should do beyond each lineage's stored settings."""

    overrides: SettingOverrides = field(default_factory=SettingOverrides)
    force: bool = False
    dry_run: bool = False
    parallel: int = 1
    preflight: bool = False  # the CLI turns it on unless --no-preflight
    break_my_certs: bool = False  # --break-my-certs: staging may replace production (certbot)
    # certbot's random delay before the first renewal of a run (0: none); precedes every hook.
    first_renewal_delay: float = 0.0
    ari_fetch_limit: int = DEFAULT_FETCH_LIMIT  # renewalInfo GETs per run (ari_schedule.py)
    ari_deadline: float = DEFAULT_DEADLINE  # seconds; later fetches wait for the next run


class Renewer:
    """One `renew` run over some lineages: check them all (many at once: mostly small reads and
    ARI GETs), then renew the due ones ``plan.parallel`` at a time through the engine."""

    def __init__(
        self,
        env: RunEnvironment,
        plan: RenewPlan,
        hooks: HookRunner,
        registration: Registration | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.env, self.plan, self.hooks = env, plan, hooks
        self._sleep = sleep
        self.engine = Engine(
            env,
            hooks,
            registration,
            settings_overrides=plan.overrides,
        )
        self._known: dict[str, Verdict] = {}
        self.reload_errors: list[CertsmithError] = []
        self._read_only = False
        self.ari_asked = 0  # renewalInfo GETs this run
        self.ari_deferred = 0  # lineages whose GET was due but left for the next run

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
            verdicts = self._with_kept(await self._ask_cas(verdicts, helper))
            limit = asyncio.Semaphore(max(1, self.plan.parallel))
            # Coroutines only for the lineages to renew; the others are answered at once.
            due = [v for v in verdicts if v.due is not False]
            if any(v.due and self._renewable_unattended(v.name) for v in due):
                await self._delay_first_renewal()
            done = await asyncio.gather(*(self._guarded(limit, self._renew_if_due, v) for v in due))
            by_name = {r.name: r for r in done}
            return [
                by_name.get(v.name) or LineageResult(v.name, Outcome.NOT_DUE, v.reason)
                for v in verdicts
            ]
        finally:
            if helper is not None:
                await helper.end()
            # One reload per web server this run deployed into; a failure is the run's failure.
            self.reload_errors = await self.engine.reload_servers()
            await self.engine.aclose()
            await self.hooks.finish_async()

    async def _delay_first_renewal(self) -> None:
        """certbot's random wait of an unattended run, once, when something is due: before any
        lineage is locked (another run may renew it meanwhile; the engine re-checks under the
        lock) and before any hook."""
        delay = self.plan.first_renewal_delay
        if delay > 0:
            log.info("Non-interactive renewal: random delay of %.0f seconds", delay)
            for handler in logging.getLogger("certsmith").handlers:
                handler.flush()  # a buffered log must show why the run is waiting
            await self._sleep(delay)

    def _renewable_unattended(self, name: str) -> bool:
        """False for a lineage only a person can renew: the engine refuses it at once, and a
        run with nothing else to do must not wait certbot's random delay for that."""
        if self.env.events.can_ask():
            return True
        try:
            conf = self.env.stores.lineages.read_conf(name)
        except CertsmithError:
            return True
        return not needs_a_person(self.plan.overrides.apply(settings_from_conf(conf)))

    async def check(self, names: Sequence[str]) -> list[Verdict]:
        """Phase one alone, without asking any CA: due, not due, or may ask the CA (``ask_ca``),
        for each of ``names``. Holds no conf or certificate beyond the lineage at hand."""
        found: list[Verdict] = []
        for start in range(0, len(names), CHECK_BATCH):
            found.extend(self._check(n) for n in names[start : start + CHECK_BATCH])
            await asyncio.sleep(0)
        return found

    async def decide(self, names: Sequence[str]) -> list[Verdict]:
        """Phases one and two (check, ask the CA) without renewing anything."""
        return await self._ask_cas(await self.check(names))

    def cache_entries(self, names: Sequence[str]) -> dict[str, Any]:
        """The cache entries this run made for ``names`` (a helper process sends them back)."""
        return self.env.stores.states.entries(names)

    async def close_clients(self) -> None:
        await self.engine.ca.aclose()

    async def ask(self, names: Sequence[str], deadline: float, ari_concurrency: int) -> AriRound:
        """The helper process's half of phase two (see helper_process)."""
        self.engine.due.set_ari_concurrency(ari_concurrency)
        return await ask_chosen(list(names), self.engine.due.ask_ca, deadline=deadline)

    async def _check_all(self, names: Sequence[str], helper: HelperCheck | None) -> list[Verdict]:
        delegated = set(helper.names) if helper else set()
        found = {v.name: v for v in await self.check([n for n in names if n not in delegated])}
        if helper is not None:
            answer = await helper.result()
            if answer is None:
                found.update({v.name: v for v in await self.check(helper.names)})
            else:
                self.env.stores.states.merge(answer[1])
                # Lineages the helper found half-updated are healed here, under their lock.
                found.update({v.name: self._check(v.name) if v.heal else v for v in answer[0]})
        return [found.pop(n) for n in names]

    def read_only(self) -> None:
        """From now on heal nothing (a helper process holds no lock): a half-updated lineage's
        verdict is handed back with ``heal`` set, for this process to heal and check."""
        self._read_only = True

    async def _ask_cas(
        self, verdicts: list[Verdict], helper: HelperCheck | None = None
    ) -> list[Verdict]:
        """Phase two: the most urgent lineages whose ARI answer is due ask their CA."""
        now = self.env.now().timestamp()
        chosen, waiting = choose(verdicts, self.plan.ari_fetch_limit, now)
        due, deadline = self.engine.due, self.plan.ari_deadline
        if helper is not None and (len(chosen) < 2 or due.ari_concurrency < 2):
            await helper.end()  # nothing worth sharing: it need not wait
        if not chosen:
            self.ari_deferred = waiting
            return verdicts
        if helper is not None and not helper.ended:
            round_ = await self._ask_shared(chosen, helper)
        else:
            round_ = await ask_chosen(chosen, due.ask_ca, deadline=deadline)
        self.ari_asked, self.ari_deferred = round_.asked, waiting + round_.deferred
        if waiting:
            log.info("%d renewalInfo requests left for the next run (limit)", waiting)
        return [round_.verdicts.get(v.name, v) for v in verdicts]

    async def _ask_shared(
        self,
        chosen: list[str],
        helper: HelperCheck,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> AriRound:
        """Ask ``chosen`` in two processes: every other name (urgency order kept in both) by the
        helper under its share of the per-CA bound, the rest here under the remainder; the
        helper's cache entries are merged. If the helper fails, its half is asked here after it
        ended, in what is left of the deadline."""
        due, deadline = self.engine.due, self.plan.ari_deadline
        bound, started = due.ari_concurrency, monotonic()
        theirs, mine = chosen[1::2], chosen[::2]
        if not await helper.ask(theirs, deadline, bound // 2):
            return await ask_chosen(chosen, due.ask_ca, deadline=deadline)
        due.set_ari_concurrency(bound - bound // 2)
        try:
            own = await ask_chosen(mine, due.ask_ca, deadline=deadline)
            answer = await helper.asked(deadline + GRACE + HELPER_SLACK)
        finally:
            due.set_ari_concurrency(bound)
        if answer is None:
            left = max(0.0, deadline - (monotonic() - started))
            other = await ask_chosen(theirs, due.ask_ca, deadline=left)
        else:
            other, entries = answer
            self.env.stores.states.merge(entries)
        return AriRound(
            {**own.verdicts, **other.verdicts},
            own.asked + other.asked,
            own.deferred + other.deferred,
        )

    def _with_kept(self, verdicts: list[Verdict]) -> list[Verdict]:
        """A lineage with a certificate an earlier run could not save goes to the engine, which
        installs it without a new order (keep_issued.py)."""
        pending = self.env.stores.pending
        kept = set(pending.names()) if pending is not None else set()
        reason = "a certificate an earlier run obtained waits to be installed"
        return [Verdict(v.name, True, reason) if v.name in kept else v for v in verdicts]

    @staticmethod
    async def _guarded(limit: asyncio.Semaphore, func: Any, arg: Any) -> Any:
        async with limit:
            return await func(arg)

    def _check(self, name: str) -> Verdict:
        """Due or not from the cache when it can tell, else from the certificate."""
        if self.plan.force:
            return Verdict(name, True, "renewal forced")
        if self.plan.dry_run:
            # As certbot: a dry run simulates the renewal of every lineage, due or not.
            return Verdict(name, True, "simulating renewal for a dry run")
        verdict = self._known.pop(name, None) or self.engine.due.quick(name)
        if verdict.heal and self._read_only:
            return replace(verdict, conf=None)
        verdict = self.engine.due.look(name, verdict)
        return replace(verdict, conf=None) if verdict.conf is not None else verdict

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
        request = LineageRequest(
            name,
            overrides=self.plan.overrides,
            force=self.plan.force,
            dry_run=self.plan.dry_run,
            preflight=self.plan.preflight,
            respect_autorenew=True,
            reason=verdict.reason,
            break_my_certs=self.plan.break_my_certs,
        )
        try:
            return await self.engine.obtain_lineage(request)
        except LockHeld as exc:
            return LineageResult(name, Outcome.LOCKED, str(exc))
        except CertsmithError as exc:
            log.warning("%s: %s", name, exc)
            self.hooks.record_failure(self._domains(name))
            return LineageResult(name, Outcome.FAILED, str(exc), exc)

    def _domains(self, name: str) -> list[str]:
        # load() heals an interrupted save, which writes: on a full disk that fails again
        # (OSError), and must not turn this lineage's failure into the whole run's.
        try:
            return [i.value for i in self.env.stores.lineages.load(name).identifiers]
        except (CertsmithError, OSError):
            return [name]
