"""A second process for the check phase of a large `renew`.

Checking a lineage whose index entry is stale (parse its conf and certificate) is CPU-bound, so
with many lineages to check and more than one core, half of them are checked in a forked helper
process while this one checks the rest. The helper only reads: it sends back its verdicts and
cache entries, and this process alone writes the cache, takes locks, heals half-updated lineages
(the helper hands those back unchecked), renews and runs hooks. If the helper fails or is late,
this process checks its share itself.

Then this process chooses which lineages ask their CA's renewal information (the whole run's
choice) and may hand half of them back (``ask``): the helper asks those under its share of the
per-CA bound on renewalInfo GETs while this process asks the rest under the other share, so the
bound holds for the run as a whole. The helper ends after that answer (``asked``), or when this
process closes the pipe (``end``); if it fails there, it is ended (killed when late) before
this process asks its half, so no GET of the two processes overlaps beyond the bound.

Answers cross the pipe ``CHUNK`` lineages a message: a fleet's share whole (50,000 cache entries
at 100,000 lineages) was one pickle of ~40 MB, held as bytes beside what it decodes to, in both
processes at once. The helper checks its share a chunk at a time and keeps no verdict it sent.

The fork happens before any event loop, thread or connection exists in this process.

The helper needs only a ``LineageChecker`` (the renewal runner's ``Renewer`` is one); naming that
protocol here, instead of the runner, keeps the runner -> helper_process import one-way.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from certsmith.renewal.ari_schedule import AriRound
from certsmith.renewal.check import Verdict

log = logging.getLogger(__name__)

SPLIT_AT = 200  # lineages needing the CA before a helper process pays for itself
HELPER_TIMEOUT = 600.0  # seconds; then this process checks the helper's share itself
CHUNK = 2048  # lineages per message through the pipe (about 2 MB with their cache entries)
# One verdict through the pipe: name, due, reason, heal, ask_ca.
VerdictRow = tuple[str, bool | None, str, bool, tuple[float, float] | None]


class LineageChecker(Protocol):
    """What the helper process runs: check lineages, then hand back their cache entries."""

    async def check(self, names: Sequence[str]) -> list[Verdict]:
        """The verdict for each of ``names`` from the cache or the certificate (no CA asked)."""
        ...

    async def close_clients(self) -> None:
        """Close the connections ``check`` opened (the helper's event loop ends after this)."""
        ...

    def cache_entries(self, names: Sequence[str]) -> dict[str, Any]:
        """What ``check`` learnt about ``names``, for the parent process to write to the cache."""
        ...

    def read_only(self) -> None:
        """From now on write nothing to the lineages (no heal): the helper holds no lock."""
        ...

    async def ask(self, names: Sequence[str], deadline: float, ari_concurrency: int) -> AriRound:
        """Ask the CA's renewal information for ``names`` (chosen by the parent), at most
        ``ari_concurrency`` GETs in flight per CA, none started after ``deadline`` seconds."""
        ...


@dataclass
class HelperCheck:
    """A running helper and the lineages it checks."""

    process: BaseProcess
    conn: Connection
    names: list[str]

    @property
    def ended(self) -> bool:
        return self.conn.closed

    async def result(self) -> tuple[list[Verdict], dict[str, Any]] | None:
        """The helper's verdicts and cache entries, or None when it failed or timed out (it is
        ended then). After a result the helper waits for ``ask`` or ``end``."""
        raw = await self._receive_all(HELPER_TIMEOUT)
        if raw is None:
            await self.end()
            log.warning("the helper process sent no result; checking its lineages here")
            return None
        verdicts, entries, _counts = raw
        return verdicts, entries

    async def ask(self, names: list[str], deadline: float, ari_concurrency: int) -> bool:
        """Hand the helper ``names`` to ask the CA about (see ``LineageChecker.ask``); False
        when it is gone (then ended)."""
        try:
            self.conn.send((names, deadline, ari_concurrency))
            return True
        except (OSError, ValueError):
            await self.end()
            return False

    async def asked(self, timeout: float) -> tuple[AriRound, dict[str, Any]] | None:
        """The helper's answers to ``ask`` and their cache entries, or None when it failed or
        was late. The helper has ended either way: none of its GETs is in flight after this."""
        try:
            raw = await self._receive_all(timeout)
        finally:
            await self.end()
        if raw is None:
            log.warning("the helper process sent no renewalInfo answers; asking them here")
            return None
        verdicts, entries, (asked, deferred) = raw
        return AriRound({v.name: v for v in verdicts}, asked, deferred), entries

    async def end(self) -> None:
        """Close the pipe (a waiting helper exits on it) and reap the helper; kill it if late."""
        if self.conn.closed:
            return
        self.conn.close()
        await asyncio.to_thread(self.process.join, 5)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join, 5)

    async def _receive_all(
        self, timeout: float, monotonic: Callable[[], float] = time.monotonic
    ) -> tuple[list[Verdict], dict[str, Any], tuple[int, int]] | None:
        """One answer of the helper: its parts (``_send``) until its end, within ``timeout``
        seconds in all; None when the helper failed or was late."""
        until = monotonic() + timeout
        verdicts: list[Verdict] = []
        entries: dict[str, Any] = {}
        while True:
            raw = await self._receive(max(0.0, until - monotonic()))
            if raw is None:
                return None
            if raw[0] == "end":
                return verdicts, entries, (raw[1], raw[2])
            verdicts.extend(_verdict(row) for row in raw[1])
            entries.update(raw[2])

    async def _receive(self, timeout: float) -> Any:
        try:
            ready = await asyncio.to_thread(self.conn.poll, timeout)
            return self.conn.recv() if ready else None
        except (EOFError, OSError):
            return None


def _row(verdict: Verdict) -> VerdictRow:
    return (verdict.name, verdict.due, verdict.reason, verdict.heal, verdict.ask_ca)


def _verdict(row: VerdictRow) -> Verdict:
    name, due, why, heal, ask = row
    return Verdict(name, due, why, heal=heal, ask_ca=ask)


def _send(conn: Connection, checker: LineageChecker, verdicts: Sequence[Verdict]) -> None:
    """``verdicts`` and their cache entries, ``CHUNK`` a message (see the module doc)."""
    for start in range(0, len(verdicts), CHUNK):
        part = verdicts[start : start + CHUNK]
        entries = checker.cache_entries([v.name for v in part])
        conn.send(("part", [_row(v) for v in part], entries))


def start_helper(checker: LineageChecker, names: Sequence[str]) -> HelperCheck | None:
    """Fork a helper for every other name of ``names`` when that is worth it, else None."""
    if len(names) < SPLIT_AT or (os.cpu_count() or 1) < 2:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    share = list(names[1::2])
    context = multiprocessing.get_context("fork")
    mine, theirs = context.Pipe(duplex=True)
    process = context.Process(target=_helper_main, args=(checker, share, theirs, mine), daemon=True)
    process.start()
    theirs.close()
    return HelperCheck(process, mine, share)


def _helper_main(
    checker: LineageChecker, names: list[str], conn: Connection, parents_end: Connection
) -> None:
    # The parent's end, inherited by the fork, closed here: the parent closing it is then EOF.
    parents_end.close()
    buffered = [
        handler
        for handler in logging.getLogger("certsmith").handlers
        if isinstance(handler, logging.handlers.MemoryHandler)
    ]
    for handler in buffered:
        handler.buffer.clear()  # the parent's records, which the parent writes itself

    async def work() -> None:
        try:
            for start in range(0, len(names), CHUNK):
                _send(conn, checker, await checker.check(names[start : start + CHUNK]))
            conn.send(("end", 0, 0))
            task = await asyncio.to_thread(_next_task, conn)
            if task is not None:
                asked, deadline, bound = task
                found = await checker.ask(asked, deadline, bound)
                _send(conn, checker, list(found.verdicts.values()))
                conn.send(("end", found.asked, found.deferred))
        finally:
            await checker.close_clients()

    try:
        checker.read_only()
        asyncio.run(work())
    finally:
        conn.close()
        for handler in buffered:  # the process ends without logging's exit hook
            handler.flush()


def _next_task(conn: Connection) -> Any:
    """The parent's ``ask`` (names, deadline, bound), or None: nothing to ask, or it is gone."""
    try:
        return conn.recv() if conn.poll(HELPER_TIMEOUT) else None
    except (EOFError, OSError):
        return None
