"""Which lineages ask their CA's renewal information (RFC 9773) this run, and asking them.

A fleet of 100,000 lineages must not send 100,000 GETs in one cron run, nor ask lineages whose
last answer is still fresh (those never get here: their ``Verdict.ask_ca`` is unset until the
answer's Retry-After has passed). Of those whose time has come, at most ``limit`` are asked, most
urgent first (``check.ari_urgency``: closest to being due, then the longest-waiting); the rest
keep the verdict of their last answer or the lifetime rule and are carried to the next run.
The fetches run on a fixed number of workers (the per-CA bound is ``DueChecker``'s semaphore),
and stop being started at ``deadline`` seconds: a slow CA makes a run late by at most the
deadline plus one request's timeout, never by the fleet's size.

Sizing the default limit: a lineage's window (Let's Encrypt: about 2 days) should be seen
several times. With a twice-daily timer, ``limit`` = fleet / 4 asks every lineage at least once
per 2 days once answers are due every run (Let's Encrypt's Retry-After is 6 hours); 25,000
covers 100,000 lineages that way, and smaller fleets are asked in full every run. Larger
fleets should pass ``--ari-fetch-limit`` = fleet / 4.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from certsmith.renewal.check import Verdict, ari_urgency

log = logging.getLogger(__name__)

DEFAULT_FETCH_LIMIT = 25_000
DEFAULT_DEADLINE = 300.0  # seconds of the run spent starting renewalInfo GETs
WORKERS = 16  # fetches in flight at most, over every CA (each CA: DueChecker's bound)
GRACE = 60.0  # seconds after the deadline for fetches already started (then cancelled)


@dataclass(frozen=True)
class AriRound:
    """What one run's ARI phase did: the new verdicts, and how many it left for later."""

    verdicts: dict[str, Verdict]
    asked: int
    deferred: int


def choose(verdicts: Iterable[Verdict], limit: int, now: float) -> tuple[list[str], int]:
    """The ``limit`` most urgent lineages waiting for an ARI fetch, most urgent first, and how
    many others wait. Memory: ``limit`` entries, whatever the fleet's size."""
    waiting = 0

    def candidates() -> Iterable[tuple[tuple[float, float], str]]:
        nonlocal waiting
        for v in verdicts:
            if v.ask_ca is not None and v.due is not None:
                waiting += 1
                yield ari_urgency(v.ask_ca, now), v.name

    chosen = heapq.nsmallest(max(0, limit), candidates())
    return [name for _key, name in chosen], waiting - len(chosen)


async def ask_chosen(
    names: list[str],
    ask: Callable[[str], Awaitable[Verdict]],
    *,
    deadline: float = DEFAULT_DEADLINE,
    workers: int = WORKERS,
    monotonic: Callable[[], float] = time.monotonic,
) -> AriRound:
    """Ask ``names`` in order on ``workers`` tasks; none is started after ``deadline`` s."""
    stop_at = monotonic() + deadline
    pending = iter(names)
    found: dict[str, Verdict] = {}

    async def worker() -> None:
        for name in pending:  # shared iterator: each name is taken by one worker
            if monotonic() >= stop_at:
                return
            found[name] = await ask(name)

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, min(workers, len(names))))]
    done, late = await asyncio.wait(tasks, timeout=deadline + GRACE)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    for task in done:
        task.result()  # a bug in ``ask`` is not swallowed
    deferred = len(names) - len(found)
    if deferred:
        log.warning("%d renewalInfo requests deferred to the next run (deadline)", deferred)
    return AriRound(found, len(found), deferred)
