"""http-01 through the running Apache, without a restart (``--apache`` as authenticator).

``present`` writes each key authorization to ``<work_dir>/http_challenges/apache-<random>/
responses/<token>`` (0644, folders 0755, so Apache's workers can read it). ``settle`` adds one
line, ``IncludeOptional <that folder>/*.conf``, as the first line of every plain-HTTP
``<VirtualHost>`` that serves a name (all of them on the HTTP port when none names it: httpd
then answers with the first), runs ``apachectl -t`` (restoring the files and failing when it
does not pass), reloads gracefully and waits, bounded, until Apache serves every response.

The included ``challenge.conf`` maps ``/.well-known/acme-challenge/<token>`` to the file with a
``RewriteRule ... [END]`` (first in the vhost, so the site's own rewrites, such as a redirect to
https, do not run), or with an ``Alias`` when mod_rewrite is not loaded. Tokens must pass
``is_safe_token``. ``cleanup`` of the last task removes the lines (the files are not
checkpointed: only lines certsmith inserted are taken out again), reloads and deletes the
folder; it never raises. Should certsmith die in between, the leftover ``IncludeOptional`` of a
folder that no longer exists is ignored by httpd.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import httpx

from certsmith.challenges.base import ChallengeTask, is_safe_token
from certsmith.errors import CertsmithError, SolverError
from certsmith.hostport import is_ip_literal
from certsmith.installers.apache.edits import Splices, body_indent, directive_line, line_ending
from certsmith.installers.apache.layout import ApacheOptions, Ctl
from certsmith.installers.apache.parser import ApacheConfig, ConfFile
from certsmith.installers.apache.vhosts import VirtualHost, best_matches, find_vhosts
from certsmith.installers.checkpoints import atomic_replace
from certsmith.wording import said

__all__ = ["ApacheHttp01Solver"]

_VhostKey = tuple[Path, tuple[str, ...], str | None]


class ApacheServer(Protocol):
    """What the solver needs of the installer (``ApacheInstaller`` is one): its options, its
    apachectl, a fresh parse, and the lock that serialises edits of the configuration."""

    @property
    def options(self) -> ApacheOptions: ...

    @property
    def ctl(self) -> Ctl: ...

    @property
    def lock(self) -> threading.Lock: ...

    def parse(self) -> ApacheConfig: ...


logger = logging.getLogger(__name__)

SERVE_TIMEOUT = 10.0
POLL_INTERVAL = 0.1

_CHALLENGE_CONF = """\
# certsmith: answers ACME http-01 challenges; removed when they are done.
<IfModule mod_rewrite.c>
    RewriteEngine on
    RewriteRule ^/\\.well-known/acme-challenge/([A-Za-z0-9_-]+)$ "{responses}/$1" [END]
</IfModule>
<IfModule !mod_rewrite.c>
    Alias /.well-known/acme-challenge "{responses}"
</IfModule>
<Directory "{responses}">
    <IfModule mod_authz_core.c>
        Require all granted
    </IfModule>
    ForceType text/plain
</Directory>
"""


class ApacheHttp01Solver:
    challenge_type = "http-01"

    def __init__(
        self,
        installer: ApacheServer,
        *,
        serve_timeout: float = SERVE_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._installer = installer
        self._serve_timeout = serve_timeout
        self._sleep = sleep
        self._clock = clock
        self._folder: Path | None = None
        self._tasks: dict[str, ChallengeTask] = {}
        self._included: set[_VhostKey] = set()
        self._inserted: dict[Path, list[str]] = {}  # file -> the lines added to it
        self._check_at: dict[str, str] = {}  # name -> the address to fetch it from

    async def present(self, task: ChallengeTask) -> None:
        if task.challenge_type != self.challenge_type:
            raise SolverError(
                said(
                    "challenge.cannot_answer",
                    solver=said("apache.solver_name"),
                    kind=task.challenge_type,
                )
            )
        if not is_safe_token(task.token):
            raise SolverError(
                said("challenge.unsafe_token", kind="http-01", token=repr(task.token[:40]))
            )
        if task.identifier.is_wildcard:
            raise SolverError(
                said("challenge.no_wildcard", kind="http-01", name=str(task.identifier))
            )
        await asyncio.to_thread(self._write_response, task)

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        await asyncio.to_thread(self._activate, tasks)

    async def cleanup(self, task: ChallengeTask) -> None:
        await asyncio.to_thread(self._remove, task)

    # -- files --------------------------------------------------------------------------------

    def _responses(self) -> Path:
        if self._folder is None:
            base = self._installer.options.work_dir / "http_challenges"
            for folder in (self._installer.options.work_dir, base):
                if not folder.exists():
                    folder.mkdir(mode=0o755, parents=True)
                    folder.chmod(0o755)  # mkdir's mode went through the umask
                elif not folder.stat().st_mode & 0o001:
                    # Apache's workers (www-data) must pass through to read the responses.
                    logger.warning(
                        "apache: %s is not searchable by others: Apache's "
                        "workers may not read the http-01 responses",
                        folder,
                    )
            folder = base / f"apache-{secrets.token_hex(8)}"
            (folder / "responses").mkdir(mode=0o755, parents=True)
            for made in (folder, folder / "responses"):
                made.chmod(0o755)
            conf = _CHALLENGE_CONF.format(responses=folder / "responses")
            atomic_replace(folder / "challenge.conf", conf.encode(), mode=0o644)
            self._folder = folder
        return self._folder / "responses"

    def _write_response(self, task: ChallengeTask) -> None:
        try:
            path = self._responses() / task.token
            atomic_replace(path, task.key_authorization.encode(), mode=0o644)
        except OSError as exc:
            raise SolverError(
                said("apache.http01_cannot_write", name=str(task.identifier), error=str(exc))
            ) from exc
        self._tasks[task.token] = task

    # -- configuration ------------------------------------------------------------------------

    def _targets(self, names: list[str]) -> list[VirtualHost]:
        installer = self._installer
        port = installer.options.http_port
        config = installer.parse()
        vhosts = find_vhosts(config)
        found: dict[_VhostKey, VirtualHost] = {}
        for name in names:
            matches = best_matches(vhosts, name, port, ssl=False) or [
                v for v in vhosts if v.on_port(port) and not v.ssl
            ]
            if not matches:
                raise SolverError(said("apache.http01_no_vhost", port=port, name=name))
            self._check_at[name] = _local_address(config, matches[0], port)
            for vhost in matches:
                found[_key(vhost)] = vhost
        return [v for key, v in found.items() if key not in self._included]

    def _activate(self, tasks: list[ChallengeTask]) -> None:
        installer = self._installer
        with installer.lock:
            try:
                new = self._targets([t.identifier.value for t in tasks])
            except CertsmithError as exc:
                raise SolverError(str(exc)) from exc
            if new:
                self._include(new)
        for task in tasks:
            self._wait_served(task)

    def _include(self, vhosts: list[VirtualHost]) -> None:
        assert self._folder is not None
        originals: dict[Path, bytes] = {}
        splices = Splices()
        for vhost in vhosts:
            node = vhost.node
            pattern = str(self._folder / "*.conf")
            line = directive_line(
                body_indent(node), "IncludeOptional", [pattern], line_ending(node.file)
            )
            splices.after_open(node, [line])
            self._inserted.setdefault(node.file.path, []).append(line)
            originals[node.file.path] = node.file.data()
        for path, data in splices.results().items():
            atomic_replace(path, data)
        ctl = self._installer.ctl
        problem = ctl.configtest()
        if problem is not None:
            for path, data in originals.items():
                atomic_replace(path, data)
                self._inserted.pop(path, None)
            raise SolverError(said("apache.http01_rejected", problem=problem))
        self._included.update(_key(v) for v in vhosts)
        try:
            ctl.graceful()
        except CertsmithError as exc:
            raise SolverError(str(exc)) from exc
        logger.info("apache: serving http-01 responses from %s", self._folder)

    def _wait_served(self, task: ChallengeTask) -> None:
        """Bounded: until Apache answers the key authorization on the HTTP port (a graceful
        reload returns before the new workers run); a warning, not an error, if it never does
        (the CA's view may differ from this machine's)."""
        port = self._installer.options.http_port
        host = self._check_at.get(task.identifier.value, "127.0.0.1")
        url = f"http://{host}:{port}/.well-known/acme-challenge/{task.token}"
        deadline = self._clock() + self._serve_timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    answer = client.get(url, headers={"Host": task.identifier.value})
                    if answer.text.strip() == task.key_authorization:
                        return
                if self._clock() >= deadline:
                    logger.warning(
                        "apache: %s not served locally within %.0fs", url, self._serve_timeout
                    )
                    return
                self._sleep(POLL_INTERVAL)

    def _remove(self, task: ChallengeTask) -> None:
        self._tasks.pop(task.token, None)
        if self._folder is not None:
            with contextlib.suppress(OSError):
                (self._folder / "responses" / task.token).unlink()
        if self._tasks:
            return
        try:
            self._restore()
        except (CertsmithError, OSError) as exc:
            logger.warning("apache: could not remove the http-01 configuration: %s", exc)

    def _restore(self) -> None:
        with self._installer.lock:
            changed = bool(self._inserted)
            for path, lines in list(self._inserted.items()):
                conf = ConfFile.read(path)
                for line in lines:
                    if line in conf.lines:
                        conf.lines.remove(line)
                atomic_replace(path, conf.data())
                del self._inserted[path]
            self._included.clear()
            folder, self._folder = self._folder, None
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            if changed:
                self._installer.ctl.graceful()


def _key(vhost: VirtualHost) -> _VhostKey:
    return vhost.path, tuple(vhost.node.args), vhost.server_name


def _local_address(config: ApacheConfig, vhost: VirtualHost, port: int) -> str:
    """Where this machine reaches ``vhost``: its own IP, else the IP of a ``Listen`` on
    ``port``, else 127.0.0.1."""
    for address in vhost.addresses:
        if is_ip_literal(address.host) and address.on_port(port):
            return address.host
    for node in config.root.find("Listen"):
        host, _, listened = node.args[0].rpartition(":") if node.args else ("", "", "")
        if listened == str(port) and is_ip_literal(host):
            return host
    return "127.0.0.1"
