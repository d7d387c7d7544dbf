"""The engine's side of web-server installers (nginx, apache): what it asks of one, and when.

Installers live in ``certsmith.installers`` (above the engine); the CLI hands the engine a
factory through the run environment, so the engine never imports them.

When the engine calls an installer:

- ``http01_solver()``   when the lineage's authenticator is the web server (``--nginx``):
                        answers http-01 through the running server (its own present/cleanup).
- ``deploy()``          after a new version is saved (never in a dry run): point the server's
                        TLS settings for ``domains`` at the lineage's live files. The installer
                        tests the configuration and restores it byte for byte when the test
                        fails; it raises InstallError, and the certificate stays saved.
- ``enhance()``         after ``deploy`` when the request asks for --redirect/--hsts/...
- ``preview()``         never by the engine: ``install``/``enhance``/``run`` with --dry-run show
                        the diff a deploy and its enhancements would write.
- ``reload()``          once per run, at its end, for every installer that deployed something
                        (a renewal of 40 lineages reloads nginx once, not 40 times).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from certsmith.challenges.base import ChallengeTask, Solver
from certsmith.errors import CertsmithError
from certsmith.renewal.settings import LineageSettings
from certsmith.wording import said

#: certbot's name for "obtain, install nowhere" (``-i null``).
NULL_INSTALLER = "null"


class InstallError(CertsmithError):
    """A web server's configuration could not be changed, tested or reloaded; it was restored."""


class Installer(Protocol):
    @property
    def name(self) -> str: ...

    def http01_solver(self) -> Solver:
        """A solver that answers http-01 through the running server (the authenticator)."""

    def deploy(self, lineage: str, domains: Sequence[str], live: Mapping[str, Path]) -> None:
        """Install the certificate for ``domains`` (checkpointed; restored on failure)."""

    def enhance(self, domains: Sequence[str], enhancements: Sequence[str]) -> None:
        """Apply certbot's enhancements (``redirect``, ``hsts``, ``uir``) for ``domains``."""

    def reload(self) -> None:
        """Make the running server use what ``deploy`` wrote (graceful reload)."""

    def preview(
        self,
        lineage: str,
        domains: Sequence[str],
        live: Mapping[str, Path] | None,
        enhancements: Sequence[str] = (),
    ) -> str:
        """The unified diff ``deploy`` (when ``live`` is given) then ``enhance`` would write
        (``--dry-run``); afterwards every file is as it was and no checkpoint is left."""


class InstallerFactory(Protocol):
    def __call__(self, name: str, options: Mapping[str, str]) -> Installer:
        """The installer ``name`` (``nginx``, ``apache``) with its renewal-conf options
        (``nginx_server_root``, ``apache_ctl``, ...); UsageError for an unknown name."""


class RunInstallers:
    """The installers of one run: each made once, reloaded once at the end if it deployed.

    One server's configuration is changed by one step at a time: a challenge window (from the
    first ``present`` to the last ``cleanup`` of an order) and a ``deploy`` never overlap, so a
    challenge cleanup that restores its checkpoint cannot undo another lineage's deploy when
    renewals run in parallel."""

    def __init__(self, factory: InstallerFactory | None, config_dir: Path) -> None:
        self._factory, self._config_dir = factory, config_dir
        self._made: dict[str, Installer] = {}
        self._editing: dict[str, asyncio.Lock] = {}
        self._to_reload: list[str] = []

    def _get(self, name: str, settings: LineageSettings) -> Installer:
        if self._factory is None:
            raise InstallError(said("engine.installer_unavailable", name=name))
        if name not in self._made:
            options = {k: str(v) for k, v in settings.extra.items()}
            options.setdefault("config_dir", str(self._config_dir))  # where checkpoints live
            if settings.http01_port:
                options.setdefault("http01_port", str(settings.http01_port))
            self._made[name] = self._factory(name, options)
            self._editing[name] = asyncio.Lock()
        return self._made[name]

    def web_server_solver(self, settings: LineageSettings) -> Solver:
        """The authenticator side of ``--nginx``/``--apache``."""
        name = settings.authenticator
        inner = self._get(name, settings).http01_solver()
        return _OneEditAtATime(inner, self._editing[name])

    async def deploy(
        self,
        settings: LineageSettings,
        lineage: str,
        domains: Sequence[str],
        live: Mapping[str, Path],
        enhancements: Sequence[str] = (),
    ) -> bool:
        """Install into the lineage's installer, if it names one; True when it did."""
        name = settings.installer
        if not name or name == NULL_INSTALLER:
            return False
        installer = self._get(name, settings)
        async with self._editing[name]:
            await asyncio.to_thread(installer.deploy, lineage, domains, live)
            if enhancements:
                await asyncio.to_thread(installer.enhance, domains, enhancements)
        if name not in self._to_reload:
            self._to_reload.append(name)
        return True

    async def preview(
        self,
        settings: LineageSettings,
        lineage: str,
        domains: Sequence[str],
        live: Mapping[str, Path],
        enhancements: Sequence[str] = (),
    ) -> str | None:
        """The diff ``deploy`` would write (None when the lineage names no installer)."""
        name = settings.installer
        if not name or name == NULL_INSTALLER:
            return None
        installer = self._get(name, settings)
        async with self._editing[name]:
            return await asyncio.to_thread(installer.preview, lineage, domains, live, enhancements)

    async def reload_all(self) -> list[CertsmithError]:
        """Reload every server something was deployed into; the errors, not raised, so one
        server's failure does not hide another's."""
        errors: list[CertsmithError] = []
        for name in self._to_reload:
            try:
                await asyncio.to_thread(self._made[name].reload)
            except CertsmithError as exc:
                errors.append(exc)
        self._to_reload.clear()
        return errors


class _OneEditAtATime:
    """A web server's http-01 solver that holds the server's edit lock from its first
    ``present`` to its last ``cleanup`` (see RunInstallers)."""

    def __init__(self, inner: Solver, editing: asyncio.Lock) -> None:
        self._inner, self._editing = inner, editing
        self._presented = 0

    @property
    def challenge_type(self) -> str:
        return self._inner.challenge_type

    async def present(self, task: ChallengeTask) -> None:
        if self._presented == 0:
            await self._editing.acquire()
        try:
            await self._inner.present(task)
        except BaseException:
            if self._presented == 0:
                self._editing.release()
            raise
        self._presented += 1

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        await self._inner.settle(tasks)

    async def cleanup(self, task: ChallengeTask) -> None:
        try:
            await self._inner.cleanup(task)
        finally:
            if self._presented > 0:  # only presented tasks hold the lock
                self._presented -= 1
                if self._presented == 0:
                    self._editing.release()
