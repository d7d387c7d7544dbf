"""TCP listeners shared by the standalone http-01 and the tls-alpn-01 servers.

A ``Listener`` binds one or more addresses on one port (``""`` means every IPv4 and IPv6
address, like certbot's ``--http-01-address``), caps the number of connections served at once,
and on ``close`` ends every connection it still holds, so nothing outlives the solver.

Against a slow-loris (many connections that never finish their request) the caps work together:
one remote address holds at most ``max_per_peer`` connections (more are closed at once), and
when all ``max_connections`` are taken a new connection is served by dropping the oldest one of
the address holding the most, so the CA's short request still gets through — also when many
addresses each hold a few and a loaded machine is slow to answer the CA — while the oldest,
slowest clients are let go. Each
handler bounds its own time (the http-01 server's header timeout). Refusals are logged once per
listener and counted at ``close``, so a flood cannot flood the log.
``ListeningSolver`` is the solver lifecycle built on it that both servers share.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import ClassVar, Self

from certsmith.challenges.base import ChallengeTask, is_safe_token
from certsmith.errors import PortInUse, SolverError
from certsmith.wording import said
from certsmith.wording_parts import joined, os_reason

logger = logging.getLogger(__name__)

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

# errno values that mean "this address family or address does not exist on this host".
_UNAVAILABLE = {errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT}
_PORT_RETRIES = 5
# Connections one remote address may hold at once: a validation needs one (a CA retry two).
MAX_CONNECTIONS_PER_PEER = 8


def listen_addresses(address: str | Sequence[str]) -> tuple[list[str], bool]:
    """Expand ``address`` into the list to bind and whether it was the "all addresses" default.

    ``""`` (or an empty sequence) -> ``["0.0.0.0", "::"]``. Other values must be IP literals
    (brackets around IPv6 allowed); anything else raises ``SolverError``.
    """
    items = [address] if isinstance(address, str) else list(address)
    if not items or items == [""]:
        return ["0.0.0.0", "::"], True  # noqa: S104 - binding every address is the documented default
    result = []
    for item in items:
        text = item.strip().removeprefix("[").removesuffix("]")
        try:
            result.append(str(ipaddress.ip_address(text)))
        except ValueError:
            raise SolverError(said("challenge.listen.not_ip", address=repr(item))) from None
    return result, False


class Listener:
    """Serves ``handler`` on ``address``:``port`` with at most ``max_connections`` at once.

    With port 0 the first address picks a free port and the others bind the same one.
    IPv6 addresses that do not exist on this host are skipped with a warning as long as
    another address could be bound; every other bind failure raises ``SolverError``.
    """

    def __init__(
        self,
        handler: ConnectionHandler,
        *,
        address: str | Sequence[str],
        port: int,
        max_connections: int,
        name: str,
        read_limit: int = 65536,
        max_per_peer: int = MAX_CONNECTIONS_PER_PEER,
    ) -> None:
        self._handler = handler
        self._addresses, self._default = listen_addresses(address)
        self._requested_port = port
        self._max_connections = max_connections
        self._name = name
        self._read_limit = read_limit
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # Open connections, oldest first, each with its remote address.
        self._writers: dict[asyncio.StreamWriter, str] = {}
        self._max_per_peer = max_per_peer
        self._refused = 0
        self._dropped = 0

    @property
    def running(self) -> bool:
        return bool(self._servers)

    @property
    def open_connections(self) -> int:
        """How many connections are being served now (never more than ``max_connections``)."""
        return len(self._writers)

    @property
    def sockets(self) -> list[tuple[str, int]]:
        """The (address, port) pairs actually bound."""
        bound = []
        for server in self._servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                bound.append((host, port))
        return bound

    @property
    def port(self) -> int:
        """The bound port (the requested one, or the one the OS picked for port 0)."""
        pairs = self.sockets
        return pairs[0][1] if pairs else self._requested_port

    async def start(self) -> None:
        """Bind every address; idempotent. Raises ``SolverError`` when nothing can be bound."""
        if self._servers:
            return
        for attempt in range(_PORT_RETRIES):
            try:
                await self._bind_all()
                return
            except _PortTaken:
                await self._close_servers()
                if attempt == _PORT_RETRIES - 1:
                    why = said("challenge.listen.no_free_port", server=self._name)
                    raise SolverError(why) from None

    async def _bind_all(self) -> None:
        port = self._requested_port
        errors: list[str] = []
        for host in self._addresses:
            try:
                server = await asyncio.start_server(
                    self._on_connection, host=host, port=port, limit=self._read_limit
                )
            except OSError as exc:
                is_v6 = ":" in host
                if self._servers and self._requested_port == 0 and exc.errno == errno.EADDRINUSE:
                    raise _PortTaken from exc
                if is_v6 and exc.errno in _UNAVAILABLE:
                    logger.warning("%s: IPv6 address %s unavailable (%s)", self._name, host, exc)
                    errors.append(
                        said(
                            "challenge.listen.address_failed",
                            host=host,
                            port=port,
                            reason=os_reason(exc),
                        )
                    )
                    continue
                await self._close_servers()
                message = said(
                    "challenge.listen.cannot",
                    server=self._name,
                    host=host,
                    port=port,
                    reason=os_reason(exc),
                )
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    raise PortInUse(message, port=port, address=host) from exc
                raise SolverError(message) from exc
            self._servers.append(server)
            if port == 0:
                port = server.sockets[0].getsockname()[1]
        if not self._servers:
            why = said("challenge.listen.nowhere", server=self._name, reasons=joined(errors))
            raise SolverError(why)
        logger.info("%s listening on %s", self._name, self._describe())

    def _describe(self) -> str:
        return ", ".join(
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in self.sockets
        )

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = str((writer.get_extra_info("peername") or ("?",))[0])
        if sum(1 for held in self._writers.values() if held == peer) >= self._max_per_peer:
            self._refused += 1
            if self._refused == 1:
                logger.warning("%s: %s holds too many connections, refusing more", self._name, peer)
            writer.close()
            return
        if len(self._writers) >= self._max_connections:
            self._dropped += 1
            if self._dropped == 1:
                logger.warning(
                    "%s: connection limit reached, dropping the busiest address's oldest",
                    self._name,
                )
            victim = self._oldest_of_busiest_peer()
            del self._writers[victim]
            victim.transport.abort()  # its pending read ends, so its handler returns
        task = asyncio.current_task()
        assert task is not None  # always inside the server's task
        self._tasks.add(task)
        self._writers[writer] = peer
        try:
            await self._handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only ``close`` cancels these tasks; ending quietly keeps asyncio's stream
            # callback (which calls ``task.exception()``) from logging an error.
            pass
        except Exception:
            logger.exception("%s: unexpected error while serving a connection", self._name)
        finally:
            self._writers.pop(writer, None)
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _oldest_of_busiest_peer(self) -> asyncio.StreamWriter:
        """The connection to drop at the limit: the oldest of the address holding the most, so
        many slow clients from many addresses cannot push out the CA's one connection."""
        held = Counter(self._writers.values())
        busiest = max(held.values())
        return next(w for w, peer in self._writers.items() if held[peer] == busiest)

    async def _close_servers(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def close(self) -> None:
        """Stop listening and end every open connection; idempotent."""
        if self._servers:
            logger.info("%s stopped listening on %s", self._name, self._describe())
        if self._refused or self._dropped:
            logger.warning(
                "%s: refused %d connections (too many from one address), dropped %d (limit)",
                self._name,
                self._refused,
                self._dropped,
            )
            self._refused = self._dropped = 0
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # pending reads end, so the handlers return
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=1.0)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck, timeout=1.0)
        await self._close_servers()


class ListeningSolver:
    """The lifecycle of a solver that answers challenges with its own ``Listener``.

    The server starts on the first ``present`` (or ``start``) and stops on ``close`` or at the end
    of ``async with``. A subclass sets ``challenge_type`` and ``server_label`` (how messages name
    it), and implements ``_serve`` (one connection) and ``_forget_all`` (drop every response).
    """

    challenge_type: ClassVar[str]
    server_label: ClassVar[str]

    def __init__(
        self,
        *,
        address: str | Sequence[str],
        port: int,
        max_connections: int,
        read_limit: int = 65536,
    ) -> None:
        self._listener = Listener(
            self._serve,
            address=address,
            port=port,
            max_connections=max_connections,
            name=said("challenge.server_name", kind=self.challenge_type),
            read_limit=read_limit,
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    @property
    def port(self) -> int:
        """The port the server listens on (useful with port 0)."""
        return self._listener.port

    @property
    def open_connections(self) -> int:
        """How many connections the server holds now."""
        return self._listener.open_connections

    async def start(self) -> None:
        """Start listening; idempotent. Raises ``SolverError`` if no address can be bound."""
        await self._listener.start()

    async def close(self) -> None:
        """Stop listening, drop open connections and forget every response; idempotent."""
        self._forget_all()
        await self._listener.close()

    def _forget_all(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _check_task(self, task: ChallengeTask) -> None:
        """Refuse another challenge type, a token that is not base64url, and wildcards."""
        kind = self.challenge_type
        if task.challenge_type != kind:
            solver, other = self.server_label, task.challenge_type
            raise SolverError(said("challenge.cannot_answer", solver=solver, kind=other))
        if not is_safe_token(task.token):
            token = repr(task.token[:40])
            raise SolverError(said("challenge.unsafe_token", kind=kind, token=token))
        if task.identifier.is_wildcard:
            name = str(task.identifier)
            raise SolverError(said("challenge.no_wildcard", kind=kind, name=name))

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        """Nothing to wait for once the server is listening; raises if it is not."""
        if tasks and not self._listener.running:
            raise SolverError(said("challenge.server_not_running", kind=self.challenge_type))


class _PortTaken(Exception):
    """The port picked for the first address is taken on another address; pick again."""


def has_ipv6_loopback() -> bool:
    """Whether ``::1`` can be bound here (for callers and tests that need IPv6)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True
