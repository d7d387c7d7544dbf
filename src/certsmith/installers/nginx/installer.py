"""The nginx installer: deploy a lineage's certificate, enhance, reload; and the authenticator.

Every change is one checkpoint (``<config_dir>/.certsmith-checkpoints``): the original bytes are
saved, the new texts written atomically, ``nginx -t`` run; when the test fails every file is put
back byte for byte and InstallError says what nginx complained about. ``reload()`` is the only
moment the running server changes (the engine calls it once at the end of a run); when nginx
refuses it, the run's changes are undone and the previous configuration reloaded.

Options (all strings, certbot's names; see certsmith.installers): nginx_server_root,
nginx_ctl, nginx_sleep_seconds, http01_port, https_port, config_dir.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from certsmith.challenges.base import Solver
from certsmith.errors import UsageError
from certsmith.installers import checkpoint_store
from certsmith.installers.checkpoints import (
    Checkpoint,
    Checkpoints,
    atomic_replace,
    diff,
    reload_or_undo,
)
from certsmith.installers.nginx import control
from certsmith.installers.nginx.http01 import NginxHttp01, PendingChallenges
from certsmith.installers.nginx.parse import NginxConfig, load_config
from certsmith.installers.nginx.plan import Plan, plan_deploy, plan_enhancement
from certsmith.renewal.install import InstallError
from certsmith.wording import said

__all__ = ["TLS_SETTINGS_NAME", "NginxInstaller", "NginxOptions"]

log = logging.getLogger(__name__)

TLS_SETTINGS_NAME = "certsmith-options-ssl-nginx.conf"


def _number(options: Mapping[str, str], key: str, default: str) -> float:
    raw = options.get(key) or default
    try:
        return float(raw)
    except ValueError:
        raise UsageError(said("install.option_not_number", option=key, value=repr(raw))) from None


@dataclass(frozen=True)
class NginxOptions:
    server_root: Path
    ctl: str
    sleep_seconds: float
    http_port: int
    https_port: int
    config_dir: Path

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> NginxOptions:
        return cls(
            server_root=Path(options.get("nginx_server_root") or "/etc/nginx"),
            ctl=options.get("nginx_ctl") or "nginx",
            sleep_seconds=_number(options, "nginx_sleep_seconds", "1"),
            http_port=int(_number(options, "http01_port", "80")),
            https_port=int(_number(options, "https_port", "443")),
            config_dir=Path(options.get("config_dir") or "/etc/letsencrypt"),
        )

    @property
    def main(self) -> Path:
        return self.server_root / "nginx.conf"

    @property
    def tls_settings(self) -> Path:
        return self.config_dir / TLS_SETTINGS_NAME


class NginxInstaller:
    """One nginx configuration (``nginx_server_root``). Thread-safe: the engine deploys from
    worker threads; edits of this configuration are serialised by one lock."""

    name = "nginx"

    def __init__(
        self,
        options: NginxOptions,
        checkpoints: Checkpoints,
        run: control.Runner = control.run_command,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self.checkpoints = checkpoints
        self._run = run
        self._sleep = sleep
        self.lock = threading.RLock()
        self.pending = PendingChallenges()  # the authenticator's, shared by its solvers
        self.unreloaded: list[Checkpoint] = []  # committed deploys/enhancements not yet live
        self.server_root = options.server_root
        self.http_port = options.http_port
        self.sleep_seconds = options.sleep_seconds

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> NginxInstaller:
        return cls(NginxOptions.from_options(options), checkpoint_store(options))

    # -- the engine's Installer protocol ----------------------------------------------------

    def http01_solver(self) -> Solver:
        return NginxHttp01(self)

    def deploy(self, lineage: str, domains: Sequence[str], live: Mapping[str, Path]) -> None:
        with self.lock:
            plan = self._plan_deploy(domains, live)
            self.apply(plan, f"deploy {lineage} for {', '.join(domains)}", self._created())
            log.info("nginx now names %s's certificate for %s", lineage, ", ".join(domains))

    def enhance(self, domains: Sequence[str], enhancements: Sequence[str]) -> None:
        with self.lock:
            for enhancement in enhancements:
                plan = self._plan_enhancement(domains, enhancement)
                self.apply(plan, f"{enhancement} for {', '.join(domains)}")

    def reload(self) -> None:
        """Make the deploys and enhancements live; when nginx refuses the reload, they are
        undone and the previous configuration reloaded (InstallError says so)."""
        with self.lock:
            edits, self.unreloaded = self.unreloaded, []
            reload_or_undo(self.name, self.reload_config, edits)

    def reload_config(self) -> None:
        """``nginx -s reload`` and the pause after it (the authenticator's reload too)."""
        with self.lock:
            control.reload(self._run, self.options.ctl, self.options.main)
            self._sleep(self.options.sleep_seconds)

    # -- for the CLI's --dry-run ------------------------------------------------------------

    def preview(
        self,
        lineage: str,
        domains: Sequence[str],
        live: Mapping[str, Path] | None,
        enhancements: Sequence[str] = (),
    ) -> str:
        """The unified diff of what ``deploy`` (when ``live`` is given) and then ``enhance``
        would write. The same plans are written under a checkpoint that is restored byte for
        byte before this returns (``nginx -t`` is not run, nginx not reloaded), so the diff is
        exactly what a real run writes (an enhancement sees the deploy's block), and no
        checkpoint is left."""
        with self.lock:
            checkpoint = self.checkpoints.begin(self.name, f"preview of {lineage}")
            try:
                if live is not None:
                    self.write_plan(checkpoint, self._plan_deploy(domains, live), self._created())
                for enhancement in enhancements:
                    self.write_plan(checkpoint, self._plan_enhancement(domains, enhancement))
                return diff(checkpoint)
            finally:
                checkpoint.restore()

    # -- shared by deploy, enhance and the authenticator ------------------------------------

    def begin(self, note: str) -> Checkpoint:
        return self.checkpoints.begin(self.name, note)

    def load(self) -> NginxConfig:
        return load_config(self.options.main)

    def test(self, doing: str) -> None:
        control.check(self._run, self.options.ctl, self.options.main, doing)

    def write(self, checkpoint: Checkpoint, path: Path, data: bytes) -> None:
        checkpoint.save_original(path)
        atomic_replace(path, data)

    def apply(self, plan: Plan, note: str, created: Sequence[Path] = ()) -> None:
        """Write ``plan`` (and certsmith's TLS settings file if listed) as one checkpoint, test
        it, restore everything when the test fails."""
        texts = plan.texts()
        if not texts:
            log.info("nginx: nothing to change for %s", note)
            return
        checkpoint = self.checkpoints.begin(self.name, note)
        try:
            self.write_plan(checkpoint, plan, created)
            self.test(note)
        except BaseException:
            checkpoint.restore()
            raise
        checkpoint.commit()
        self.unreloaded.append(checkpoint)

    def write_plan(self, checkpoint: Checkpoint, plan: Plan, created: Sequence[Path] = ()) -> None:
        texts = plan.texts()
        for path in created:
            if plan_needs(texts, path):
                path.parent.mkdir(parents=True, exist_ok=True)
                self.write(checkpoint, path, _tls_settings())
        for path, text in texts.items():
            self.write(checkpoint, path, text.encode())

    def _created(self) -> list[Path]:
        return [] if self.options.tls_settings.exists() else [self.options.tls_settings]

    def _plan_enhancement(self, domains: Sequence[str], enhancement: str) -> Plan:
        return plan_enhancement(
            self.load(), domains, enhancement, self.options.https_port, self.options.http_port
        )

    def _plan_deploy(self, domains: Sequence[str], live: Mapping[str, Path]) -> Plan:
        try:
            cert, key = Path(live["fullchain"]), Path(live["privkey"])
        except KeyError as exc:
            raise InstallError(said("nginx.no_live_file", name=exc.args[0])) from None
        return plan_deploy(
            self.load(),
            domains,
            cert,
            key,
            self.options.tls_settings,
            self.options.https_port,
            self.options.http_port,
        )


def plan_needs(texts: Mapping[Path, str], path: Path) -> bool:
    return any(f"include {path};" in text for text in texts.values())


def _tls_settings() -> bytes:
    return (resources.files(__package__) / "options-ssl-nginx.conf").read_bytes()
