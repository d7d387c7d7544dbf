"""nginx: the installer and authenticator (see installer.py); ``make(options)`` builds one."""

from __future__ import annotations

from collections.abc import Mapping

from certsmith.renewal.install import Installer


def make(options: Mapping[str, str]) -> Installer:
    from certsmith.installers.nginx.installer import NginxInstaller

    return NginxInstaller.from_options(options)
