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
- ``reload()``          once per run, at its end, for every installer that deployed something
                        (a renewal of 40 lineages reloads nginx once, not 40 times).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from certsmith.challenges.base import Solver
from certsmith.errors import CertsmithError
from certsmith.renewal.settings import LineageSettings

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


class InstallerFactory(Protocol):
    def __call__(self, name: str, options: Mapping[str, str]) -> Installer:
        """The installer ``name`` (``nginx``, ``apache``) with its renewal-conf options
        (``nginx_server_root``, ``apache_ctl``, ...); UsageError for an unknown name."""


class RunInstallers:
    """The installers of one run: each made once, reloaded once at the end if it deployed."""

    def __init__(self, factory: InstallerFactory | None) -> None:
        self._factory = factory
        self._made: dict[str, Installer] = {}
        self._to_reload: list[str] = []

    def _get(self, name: str, options: Mapping[str, object]) -> Installer:
        if self._factory is None:
            raise InstallError(f"The {name} installer is not available in this run.")
        if name not in self._made:
            self._made[name] = self._factory(name, {k: str(v) for k, v in options.items()})
        return self._made[name]

    def web_server_solver(self, settings: LineageSettings) -> Solver:
        """The authenticator side of ``--nginx``/``--apache``."""
        return self._get(settings.authenticator, settings.extra).http01_solver()

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
        installer = self._get(name, settings.extra)
        await asyncio.to_thread(installer.deploy, lineage, domains, live)
        if enhancements:
            await asyncio.to_thread(installer.enhance, domains, enhancements)
        if name not in self._to_reload:
            self._to_reload.append(name)
        return True

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
