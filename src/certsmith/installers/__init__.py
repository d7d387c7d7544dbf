"""Web-server installers: find the site, edit its configuration, test, reload, roll back.

The three entries the CLI calls (``--nginx``/``--apache``/``-i``, ``install``, ``enhance``,
``rollback``, ``config_changes``)::

    make_installer(name, options) -> Installer
        The engine's installer factory (``RunEnvironment(installers=...)``): ``"nginx"`` or
        ``"apache"`` with the lineage's renewal-conf options, all strings. Prefer
        ``installer_factory(config_dir)``, which adds the run's ``config_dir`` to the options.
    rollback(name, options, checkpoints=1) -> list[str]
        certbot's ``rollback --checkpoints N``: restore the configuration as it was ``N``
        installations/enhancements ago, byte for byte, then reload the server. Returns the
        descriptions of what was undone (newest first).
    config_changes(options) -> list[str]
        certbot's ``config_changes``: one description per checkpoint, oldest first.

Options (certbot's spellings; every value a string):

    config_dir          where checkpoints live: ``<config_dir>/.certsmith-checkpoints/``
                        (default /etc/letsencrypt; certbot keeps its own in work_dir/backups)
    nginx_server_root   default /etc/nginx (its nginx.conf is the main file)
    nginx_ctl           default ``nginx``
    nginx_sleep_seconds default 1: the pause after a reload before the CA may look
    http01_port         default 80: the port whose server blocks serve http:// (and http-01)
    https_port          default 443: the port of the TLS server blocks certsmith adds

Every edit is a checkpoint (``checkpoints.Checkpoints``); a failed test or reload restores it.
Unknown names raise ``UsageError``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

from certsmith.errors import UsageError
from certsmith.installers.checkpoints import Checkpoints
from certsmith.renewal.install import Installer, InstallerFactory
from certsmith.wording import said

__all__ = [
    "CHECKPOINT_FOLDER",
    "DEFAULT_CONFIG_DIR",
    "checkpoint_store",
    "config_changes",
    "installer_factory",
    "make_installer",
    "rollback",
]

DEFAULT_CONFIG_DIR = "/etc/letsencrypt"
CHECKPOINT_FOLDER = ".certsmith-checkpoints"
_SERVERS = {"nginx": "certsmith.installers.nginx", "apache": "certsmith.installers.apache"}


def checkpoint_store(options: Mapping[str, str]) -> Checkpoints:
    """The checkpoints of the configuration directory named by ``options["config_dir"]``."""
    return Checkpoints(Path(options.get("config_dir") or DEFAULT_CONFIG_DIR) / CHECKPOINT_FOLDER)


def make_installer(name: str, options: Mapping[str, str]) -> Installer:
    """The installer ``name`` ("nginx" or "apache") configured by ``options`` (see above).

    Each server's module (``certsmith.installers.<name>``) provides ``make(options)``; it is
    imported only when asked for, so ``renew`` without installers imports neither."""
    module_name = _SERVERS.get(name)
    if module_name is None:
        raise UsageError(said("install.unknown", name=repr(name)))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(said("install.not_installed", name=name, error=str(exc))) from exc
    installer: Installer = module.make(options)
    return installer


def installer_factory(config_dir: Path) -> InstallerFactory:
    """A factory for ``RunEnvironment.installers`` whose installers keep their checkpoints
    under ``config_dir`` (the run's ``--config-dir``), whatever an old renewal conf says."""

    def make(name: str, options: Mapping[str, str]) -> Installer:
        return make_installer(name, {**options, "config_dir": str(config_dir)})

    return make


def rollback(name: str, options: Mapping[str, str], checkpoints: int = 1) -> list[str]:
    """Undo the newest ``checkpoints`` edits of server ``name`` and reload it (certbot's
    ``rollback --checkpoints N``). Returns what was undone, newest first; nothing to undo
    returns an empty list and reloads nothing."""
    if checkpoints < 1:
        raise UsageError(said("install.checkpoints_positive"))
    installer = make_installer(name, options)
    restored = checkpoint_store(options).restore_last(checkpoints, server=name)
    if restored:
        installer.reload()
    return [info.describe() for info in restored]


def config_changes(options: Mapping[str, str]) -> list[str]:
    """Every checkpoint under the configuration directory, oldest first, one description each
    (what server, when, why, which files changed or were created)."""
    return [info.describe() for info in checkpoint_store(options).list()]
