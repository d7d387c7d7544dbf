"""http-01 through the running nginx (``--nginx`` as authenticator), without downtime.

``present`` only records the challenge; ``settle`` writes, tests and reloads once for the whole
order: a snippet file (``<server_root>/certsmith-acme-challenge.conf``) holds, for every pending
token, ``location = /.well-known/acme-challenge/<token> { return 200 "<key authorization>"; }``
after a ``rewrite ... break`` that keeps the block's own server-level ``return``/``rewrite`` (a
redirect to https, say) from answering first. The plain-HTTP server block nginx picks for each
name includes it at its top; a name no block serves gets a temporary server block (in
``<server_root>/certsmith-acme-challenge-servers.conf``, included from nginx.conf's http block)
listening on the addresses the existing blocks use on the http port.

All of it is one checkpoint; when the last pending challenge is cleaned up the checkpoint is
restored (files byte for byte, the snippets deleted) and nginx reloaded. Several lineages in
parallel share it through the installer.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from pathlib import Path
from typing import Protocol

from certsmith.challenges.base import ChallengeTask, is_safe_token
from certsmith.errors import CertsmithError, SolverError
from certsmith.installers.checkpoints import Checkpoint
from certsmith.installers.nginx.edits import insert_lines
from certsmith.installers.nginx.parse import NginxConfig, best_match
from certsmith.installers.nginx.plan import Plan
from certsmith.wording import said

__all__ = ["NginxHttp01", "PendingChallenges", "Site"]

log = logging.getLogger(__name__)

_KEY_AUTHORIZATION = re.compile(r"^[A-Za-z0-9_-]{1,256}\.[A-Za-z0-9_-]{1,128}$")
_EXEMPTION = r"rewrite ^(/\.well-known/acme-challenge/[A-Za-z0-9_-]+)$ $1 break;"


class PendingChallenges:
    """The challenges of every solver of one installer, and the checkpoint that holds them."""

    def __init__(self) -> None:
        self.tasks: dict[str, ChallengeTask] = {}
        self.checkpoint: Checkpoint | None = None


class Site(Protocol):
    """What the solver needs of the nginx installer (installer.py implements it)."""

    name: str
    lock: threading.RLock
    server_root: Path
    http_port: int
    sleep_seconds: float
    pending: PendingChallenges

    def begin(self, note: str) -> Checkpoint: ...

    def load(self) -> NginxConfig: ...

    def write(self, checkpoint: Checkpoint, path: Path, data: bytes) -> None: ...

    def test(self, doing: str) -> None: ...

    def reload_config(self) -> None: ...


class NginxHttp01:
    challenge_type = "http-01"

    def __init__(self, installer: Site) -> None:
        self.installer = installer
        self._pending = installer.pending

    @property
    def locations_file(self) -> Path:
        return self.installer.server_root / "certsmith-acme-challenge.conf"

    @property
    def servers_file(self) -> Path:
        return self.installer.server_root / "certsmith-acme-challenge-servers.conf"

    async def present(self, task: ChallengeTask) -> None:
        if not is_safe_token(task.token) or not _KEY_AUTHORIZATION.match(task.key_authorization):
            raise SolverError(said("nginx.unsafe_token", name=task.identifier.value))
        with self.installer.lock:
            self._pending.tasks[task.token] = task

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        await asyncio.to_thread(self._publish)
        await asyncio.sleep(self.installer.sleep_seconds)

    async def cleanup(self, task: ChallengeTask) -> None:
        try:
            await asyncio.to_thread(self._withdraw, task)
        except (CertsmithError, OSError) as exc:
            log.warning("nginx http-01 cleanup for %s: %s", task.identifier.value, exc)

    def _publish(self) -> None:
        installer = self.installer
        with installer.lock:
            if self._pending.checkpoint is None:
                self._pending.checkpoint = installer.begin("http-01 challenge (temporary)")
            checkpoint = self._pending.checkpoint
            try:
                self._write(checkpoint)
                installer.test("adding the http-01 challenge responses")
                installer.reload_config()
            except BaseException as exc:
                self._restore()
                raise SolverError(said("nginx.http01_failed", error=str(exc))) from exc

    def _write(self, checkpoint: Checkpoint) -> None:
        installer = self.installer
        installer.write(checkpoint, self.locations_file, self._locations().encode())
        config = installer.load()
        port = installer.http_port
        plain = [
            b for b in config.servers if b.listens_plain_on(port) and b.file != self.servers_file
        ]
        plan = Plan(config)
        unserved: list[str] = []
        include = f"include {self.locations_file}"
        for task in self._pending.tasks.values():
            name = task.identifier.value
            block = best_match(plain, name)
            if block is None:
                unserved.append(name)
            elif plan.first_time(block) and not any(
                d.name == "include" and d.args == (str(self.locations_file),)
                for d in block.directives
            ):
                text, node = plan.node(block)
                plan.add(block.file, insert_lines(text, node, [include], at_top=True))
        if unserved:
            addresses = sorted(
                {lst.address for b in plain for lst in b.listens if lst.port == port}
            )
            installer.write(
                checkpoint, self.servers_file, _servers(unserved, addresses or [""], port, include)
            )
            if self.servers_file not in config.files:
                text, node = plan.node(config.http)
                plan.add(config.main, insert_lines(text, node, [f"include {self.servers_file}"]))
        for path, text in plan.texts().items():
            installer.write(checkpoint, path, text.encode())

    def _locations(self) -> str:
        lines = ["# certsmith: http-01 responses, removed once the CA has looked", _EXEMPTION]
        for task in self._pending.tasks.values():
            lines.append(
                f"location = /.well-known/acme-challenge/{task.token} "
                f'{{ default_type text/plain; return 200 "{task.key_authorization}"; }}'
            )
        return "\n".join(lines) + "\n"

    def _withdraw(self, task: ChallengeTask) -> None:
        with self.installer.lock:
            self._pending.tasks.pop(task.token, None)
            if self._pending.tasks or self._pending.checkpoint is None:
                return
            self._restore()
            self.installer.reload_config()

    def _restore(self) -> None:
        checkpoint, self._pending.checkpoint = self._pending.checkpoint, None
        if checkpoint is not None:
            checkpoint.restore()


def _servers(names: list[str], addresses: list[str], port: int, include: str) -> bytes:
    listens = "".join(
        f"    listen {address + ':' if address else ''}{port};\n" for address in addresses
    )
    return (
        "# certsmith: temporary server block for http-01, removed once the CA has looked\n"
        f"server {{\n{listens}    server_name {' '.join(names)};\n    {include};\n}}\n"
    ).encode()
