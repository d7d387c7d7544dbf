"""`renew`: check every lineage, renew what is due, in parallel, one lock per lineage.

For each lineage: take its lock without waiting (another process renewing it means skip), read
the cached facts of the deployed certificate (parse it only when the cache is stale), ask the CA's
ARI when its Retry-After has passed, decide, and renew with `replaces`. Hooks run as certbot runs
them: pre once before the first renewal, deploy per renewed lineage, post once at the end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from certsmith.errors import CertsmithError, LockHeld
from certsmith.renewal.account import Registration
from certsmith.renewal.check import Verdict
from certsmith.renewal.engine import Engine, LineageRequest, LineageResult, Outcome
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.helper_process import HelperCheck
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.settings import SettingOverrides

log = logging.getLogger(__name__)

# Lineages checked at once. Few: with more, httpx's pool bookkeeping costs more than the
# round trips it overlaps (measured over 1,000 lineages, CPU-bound: 2 beats 3, 4, 8 and 32;
# 1 waits on the network).
CHECK_CONCURRENCY = 2

__all__ = ["LineageResult", "Outcome", "RenewPlan", "Renewer"]


@dataclass(frozen=True)
class RenewPlan:
    """What this `renew` run should do beyond each lineage's stored settings."""

    overrides: SettingOverrides = field(default_factory=SettingOverrides)
    force: bool = False
    dry_run: bool = False
    parallel: int = 1
    preflight: bool = False  # the CLI turns it on unless --no-preflight
    # certbot's random delay before the first renewal of a run (0: none); precedes every hook.
    first_renewal_delay: float = 0.0


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
        self.engine = Engine(
            env,
            hooks,
            registration,
            first_renewal_delay=plan.first_renewal_delay,
            sleep=sleep,
            settings_overrides=plan.overrides,
        )
        self._known: dict[str, Verdict] = {}
        self.reload_errors: list[CertsmithError] = []

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
            # One reload per web server this run deployed into; a failure is the run's failure.
            self.reload_errors = await self.engine.reload_servers()
            await self.engine.aclose()
            await self.hooks.finish_async()

    async def check(self, names: Sequence[str]) -> list[Verdict]:
        """Phase one alone: due or not, for each of ``names`` (a few at a time)."""
        checks = asyncio.Semaphore(CHECK_CONCURRENCY)
        return list(await asyncio.gather(*(self._guarded(checks, self._check, n) for n in names)))

    def cache_entries(self, names: Sequence[str]) -> dict[str, Any]:
        """The cache entries this run made for ``names`` (a helper process sends them back)."""
        return self.env.stores.states.entries(names)

    async def close_clients(self) -> None:
        await self.engine.ca.aclose()

    async def _check_all(self, names: Sequence[str], helper: HelperCheck | None) -> list[Verdict]:
        delegated = set(helper.names) if helper else set()
        found = {v.name: v for v in await self.check([n for n in names if n not in delegated])}
        if helper is not None:
            answer = await helper.result()
            if answer is None:
                found.update({v.name: v for v in await self.check(helper.names)})
            else:
                found.update({v.name: v for v in answer[0]})
                self.env.stores.states.merge(answer[1])
        return [found[n] for n in names]

    @staticmethod
    async def _guarded(limit: asyncio.Semaphore, func: Any, arg: Any) -> Any:
        async with limit:
            return await func(arg)

    async def _check(self, name: str) -> Verdict:
        """Due or not, from the cache when it can tell, else from the certificate and the CA."""
        if self.plan.force:
            return Verdict(name, True, "renewal forced")
        if self.plan.dry_run:
            # As certbot: a dry run simulates the renewal of every lineage, due or not.
            return Verdict(name, True, "simulating renewal for a dry run")
        return await self.engine.due.verdict(name, self._known.pop(name, None))

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
        try:
            return [i.value for i in self.env.stores.lineages.load(name).identifiers]
        except CertsmithError:
            return [name]
