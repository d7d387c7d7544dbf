"""Challenge servers shared by the lineages of one run.

Lineages renewed at the same time over ``--standalone`` all need the same address and port (80
for http-01, 443 for tls-alpn-01): they answer through one listener per address and port,
started by the first lineage that needs it and stopped when the last one is done.

Across processes of one config dir (a timer's run and a person's), a listener is started only
under that (address, port)'s lock file (``storage.locks.try_standalone_lock``): a second run
waits for the port, at most ``port_wait`` seconds (saying so once in the log), then leaves the
lineage to the run holding it with LockHeld, which `renew` reports as skipped, not failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from certsmith.challenges.http01_standalone import StandaloneHttp01Server
from certsmith.challenges.tls_alpn import TlsAlpn01Server
from certsmith.errors import LockHeld
from certsmith.storage.locks import LineageLock, try_standalone_lock
from certsmith.wording import said

log = logging.getLogger(__name__)
PORT_WAIT = 60.0  # seconds a run waits for a port another certsmith run's listener holds
_POLL = 0.25

Server = StandaloneHttp01Server | TlsAlpn01Server


@dataclass
class _Entry:
    server: Server
    lock: LineageLock | None = None
    users: int = 0


@dataclass
class ServerPool:
    lock_dir: Path | None = None  # the config dir; None: no lock across processes
    port_wait: float = PORT_WAIT
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    _entries: dict[tuple[str, str, int], _Entry] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @contextlib.asynccontextmanager
    async def use(self, challenge_type: str, address: str, port: int) -> AsyncIterator[Server]:
        """The running server for (type, address, port), shared while anyone uses it."""
        key = (challenge_type, address, port)
        async with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                server: Server
                if challenge_type == "tls-alpn-01":
                    server = TlsAlpn01Server(address=address, port=port)
                else:
                    server = StandaloneHttp01Server(address=address, port=port)
                lock = await self._port_lock(address, port)
                try:
                    await server.start()
                except BaseException:
                    if lock is not None:
                        lock.release()
                    raise
                entry = self._entries[key] = _Entry(server, lock)
            entry.users += 1
        try:
            yield entry.server
        finally:
            async with self._lock:
                entry.users -= 1
                if entry.users == 0:
                    del self._entries[key]
                    try:
                        await entry.server.close()
                    finally:
                        if entry.lock is not None:
                            entry.lock.release()

    async def _port_lock(self, address: str, port: int) -> LineageLock | None:
        """This process's claim on (address, port) among the runs of the config dir."""
        if self.lock_dir is None:
            return None
        deadline = self.clock() + self.port_wait
        warned = False
        while True:
            try:
                return try_standalone_lock(self.lock_dir, address, port)
            except LockHeld:
                if self.clock() >= deadline:
                    seconds = f"{self.port_wait:.0f}"
                    why = said("engine.port_kept", port=port, seconds=seconds)
                    raise LockHeld(why) from None
                if not warned:
                    warned = True
                    log.warning(
                        "Another certsmith run is answering challenges on port %d; waiting up "
                        "to %.0f seconds for it",
                        port,
                        self.port_wait,
                    )
            await self.sleep(min(_POLL, max(0.0, deadline - self.clock())))
