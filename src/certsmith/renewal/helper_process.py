"""A second process for the check phase of a large `renew`.

Checking a lineage whose index entry is stale (parse its conf and certificate) is CPU-bound, so
with many lineages to check and more than one core, half of them are checked in a forked helper
process while this one checks the rest. The helper only reads and never asks a CA (this process
asks, after the check, so the per-CA bound on renewalInfo GETs holds for the whole run): it
sends back its verdicts and cache entries, and this process alone writes the cache, takes locks,
heals half-updated lineages (the helper hands those back unchecked), renews and runs hooks.
If the helper fails or is late, this process checks its share itself.

The fork happens before any event loop, thread or connection exists in this process.

The helper needs only a ``LineageChecker`` (the renewal runner's ``Renewer`` is one); naming that
protocol here, instead of the runner, keeps the runner -> helper_process import one-way.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from certsmith.renewal.check import Verdict

log = logging.getLogger(__name__)

SPLIT_AT = 200  # lineages needing the CA before a helper process pays for itself
HELPER_TIMEOUT = 600.0  # seconds; then this process checks the helper's share itself


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


@dataclass
class HelperCheck:
    """A running helper and the lineages it checks."""

    process: BaseProcess
    conn: Connection
    names: list[str]

    async def result(self) -> tuple[list[Verdict], dict[str, Any]] | None:
        """The helper's verdicts and cache entries, or None when it failed or timed out."""
        try:
            ready = await asyncio.to_thread(self.conn.poll, HELPER_TIMEOUT)
            raw = self.conn.recv() if ready else None
        except (EOFError, OSError):
            raw = None
        finally:
            self.conn.close()
            await asyncio.to_thread(self.process.join, 5)
            if self.process.is_alive():
                self.process.kill()
        if raw is None:
            log.warning("the helper process sent no result; checking its lineages here")
            return None
        verdicts, entries = raw
        return [
            Verdict(n, due, why, heal=heal, ask_ca=ask) for n, due, why, heal, ask in verdicts
        ], entries


def start_helper(checker: LineageChecker, names: Sequence[str]) -> HelperCheck | None:
    """Fork a helper for every other name of ``names`` when that is worth it, else None."""
    if len(names) < SPLIT_AT or (os.cpu_count() or 1) < 2:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    share = list(names[1::2])
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_helper_main, args=(checker, share, send), daemon=True)
    process.start()
    send.close()
    return HelperCheck(process, receive, share)


def _helper_main(checker: LineageChecker, names: list[str], conn: Connection) -> None:
    async def check() -> list[Verdict]:
        try:
            return await checker.check(names)
        finally:
            await checker.close_clients()

    try:
        checker.read_only()
        verdicts = asyncio.run(check())
        entries = checker.cache_entries(names)
        conn.send(([(v.name, v.due, v.reason, v.heal, v.ask_ca) for v in verdicts], entries))
    finally:
        conn.close()
