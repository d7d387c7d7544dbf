"""Challenge servers shared by the lineages of one run.

Lineages renewed at the same time over ``--standalone`` all need the same address and port (80
for http-01, 443 for tls-alpn-01): they answer through one listener per address and port,
started by the first lineage that needs it and stopped when the last one is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from certsmith.challenges.http01_standalone import StandaloneHttp01Server
from certsmith.challenges.tls_alpn import TlsAlpn01Server

Server = StandaloneHttp01Server | TlsAlpn01Server


@dataclass
class _Entry:
    server: Server
    users: int = 0


@dataclass
class ServerPool:
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
                await server.start()
                entry = self._entries[key] = _Entry(server)
            entry.users += 1
        try:
            yield entry.server
        finally:
            async with self._lock:
                entry.users -= 1
                if entry.users == 0:
                    del self._entries[key]
                    await entry.server.close()
