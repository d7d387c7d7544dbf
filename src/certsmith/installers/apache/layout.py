"""Where an Apache installation keeps things, and the two Debian helpers certsmith imitates.

Options (certbot's renewal-conf spellings, every value a string):

    apache_server_root      default /etc/apache2 (else /etc/httpd); its apache2.conf or
                            httpd.conf is the main file
    apache_vhost_root       where new TLS vhost files go (default: sites-available, else the
                            folder of the vhost copied)
    apache_ctl              default apache2ctl (else apachectl): ``-t`` tests, ``-k graceful``
                            reloads
    apache_le_vhost_ext     default -le-ssl.conf
    apache_handle_modules   default true when mods-available/ exists (Debian): a2enmod's symlinks
    apache_handle_sites     default true when sites-available/ exists (Debian): a2ensite's symlinks
    http01_port, https_port default 80 and 443
    config_dir              where options-ssl-apache.conf and the checkpoints live
    work_dir                http-01 responses go under <work_dir>/http_challenges
                            (default /var/lib/letsencrypt, outside a PrivateTmp /tmp)

``enable_module`` and ``enable_site`` do what ``a2enmod``/``a2ensite`` do: a relative symlink in
``mods-enabled``/``sites-enabled`` to the file in ``*-available`` (a module's ``.conf`` too, and
first the modules its ``.load`` file names in a ``# Depends:`` line).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from certsmith.errors import UsageError
from certsmith.renewal.install import InstallError
from certsmith.wording import said

__all__ = ["ApacheOptions", "Ctl", "enable_module", "enable_site"]

logger = logging.getLogger(__name__)

CTL_TIMEOUT = 60.0
MAX_DEPENDS = 16


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value in ("", "None"):
        return default
    return value.strip().lower() in {"true", "yes", "1", "on"}


def _port(options: Mapping[str, str], key: str, default: int) -> int:
    value = options.get(key)
    if value in (None, "", "None"):
        return default
    try:
        port = int(str(value))
    except ValueError:
        raise UsageError(said("install.option_not_port", option=key, value=repr(value))) from None
    if not 0 < port < 65536:
        raise UsageError(said("install.option_not_port", option=key, value=port))
    return port


@dataclass(frozen=True)
class ApacheOptions:
    server_root: Path
    main_file: Path
    vhost_root: Path | None
    ctl: str
    le_vhost_ext: str
    handle_modules: bool
    handle_sites: bool
    http_port: int
    https_port: int
    config_dir: Path | None
    work_dir: Path

    @classmethod
    def from_mapping(cls, options: Mapping[str, str]) -> ApacheOptions:
        root_value = options.get("apache_server_root") or ""
        if root_value in ("", "None"):
            root_value = "/etc/apache2" if Path("/etc/apache2").is_dir() else "/etc/httpd"
        root = Path(root_value)
        main = next(
            (
                root / n
                for n in ("apache2.conf", "httpd.conf", "conf/httpd.conf")
                if (root / n).is_file()
            ),
            root / "apache2.conf",
        )
        vhost_root = options.get("apache_vhost_root") or ""
        ctl = options.get("apache_ctl") or ""
        if ctl in ("", "None"):
            ctl = shutil.which("apache2ctl") or shutil.which("apachectl") or "apache2ctl"
        ext = options.get("apache_le_vhost_ext") or ""
        config_dir = options.get("config_dir") or ""
        return cls(
            server_root=root,
            main_file=main,
            vhost_root=Path(vhost_root) if vhost_root not in ("", "None") else None,
            ctl=ctl,
            le_vhost_ext=ext if ext not in ("", "None") else "-le-ssl.conf",
            handle_modules=_flag(
                options.get("apache_handle_modules"), (root / "mods-available").is_dir()
            ),
            handle_sites=_flag(
                options.get("apache_handle_sites"), (root / "sites-available").is_dir()
            ),
            http_port=_port(options, "http01_port", 80),
            https_port=_port(options, "https_port", 443),
            config_dir=Path(config_dir) if config_dir not in ("", "None") else None,
            work_dir=Path(options.get("work_dir") or "/var/lib/letsencrypt"),
        )


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Ctl:
    """``apachectl``: every call bounded by ``timeout``; ``run`` is injectable for tests."""

    command: str
    timeout: float = CTL_TIMEOUT
    run: Runner = subprocess.run

    def _call(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [self.command, *args]
        try:
            return self.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except FileNotFoundError:
            raise InstallError(said("apache.ctl_missing", command=self.command)) from None
        except subprocess.TimeoutExpired:
            raise InstallError(
                said(
                    "install.command_timeout", command=" ".join(argv), seconds=f"{self.timeout:.0f}"
                )
            ) from None

    def configtest(self) -> str | None:
        """None when ``apachectl -t`` accepts the configuration, else what it said."""
        done = self._call("-t")
        if done.returncode == 0:
            return None
        return (done.stderr or done.stdout).strip()[-2000:] or f"exit status {done.returncode}"

    def graceful(self) -> None:
        done = self._call("-k", "graceful")
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip()[-2000:]
            raise InstallError(said("apache.reload_failed", command=self.command, output=output))


def _relative_link(link: Path, target: Path, save: Callable[[Path], None]) -> bool:
    """Make ``link`` point at ``target`` (relatively, as a2ensite does); False if it exists."""
    if link.is_symlink() or link.exists():
        return False
    save(link)
    link.symlink_to(os.path.relpath(target, link.parent))
    return True


def enable_module(root: Path, module: str, save: Callable[[Path], None], depth: int = 0) -> bool:
    """a2enmod ``module``: True when something was enabled. UsageError-free: InstallError when
    the module is not available in ``mods-available``."""
    available = root / "mods-available"
    load = available / f"{module}.load"
    if not load.is_file():
        raise InstallError(said("apache.module_missing", module=module, available=available))
    if depth > MAX_DEPENDS:
        raise InstallError(said("apache.module_depends_loop", module=module))
    changed = False
    for line in load.read_text(errors="replace").splitlines():
        if line.lower().startswith("# depends:"):
            for dep in line.split(":", 1)[1].split():
                changed |= enable_module(root, dep, save, depth + 1)
    enabled = root / "mods-enabled"
    for suffix in (".load", ".conf"):
        source = available / f"{module}{suffix}"
        if source.is_file():
            changed |= _relative_link(enabled / source.name, source, save)
    if changed:
        logger.info("apache: enabled module %s (as a2enmod does)", module)
    return changed


def enable_site(root: Path, site: Path, save: Callable[[Path], None]) -> bool:
    """a2ensite: link ``sites-enabled/<name>`` to ``site`` (a file in sites-available)."""
    enabled = root / "sites-enabled"
    if not enabled.is_dir():
        return False
    changed = _relative_link(enabled / site.name, site, save)
    if changed:
        logger.info("apache: enabled site %s (as a2ensite does)", site.name)
    return changed
