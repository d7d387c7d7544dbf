"""The Apache installer: point virtual hosts at a lineage's live files, test, roll back, reload.

``deploy`` for each name: a TLS ``<VirtualHost>`` that serves it gets ``SSLCertificateFile``
(fullchain) and ``SSLCertificateKeyFile`` (privkey), and loses ``SSLCertificateChainFile`` (the
full chain makes it redundant). A name with only a plain-HTTP vhost gets a copy of it as
``<stem><apache_le_vhost_ext>`` (``example.conf`` -> ``example-le-ssl.conf``) on the HTTPS port,
inside ``<IfModule mod_ssl.c>``, with ``SSLEngine on``, the certificate lines and an ``Include``
of certsmith's ``options-ssl-apache.conf``; it is enabled as ``a2ensite`` would (or included from
the main file when sites are not handled), and mod_ssl as ``a2enmod`` would.

Every call that edits is one checkpoint (``installers.checkpoints``): originals are saved before
the first write, ``apachectl -t`` must pass, and on any failure every file is put back byte for
byte before ``InstallError`` is raised. ``reload`` is ``apachectl -k graceful``; when Apache
refuses it, the edits since the last reload are undone and the old configuration reloaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from importlib import resources
from pathlib import Path

from certsmith.challenges.base import Solver
from certsmith.errors import CertsmithError
from certsmith.installers import checkpoint_store
from certsmith.installers.apache import edits, ssl_vhost
from certsmith.installers.apache.layout import ApacheOptions, Ctl, enable_module, enable_site
from certsmith.installers.apache.parser import ApacheConfig, parse_config
from certsmith.installers.apache.vhosts import VirtualHost, best_matches, find_vhosts
from certsmith.installers.checkpoints import (
    Checkpoint,
    Checkpoints,
    atomic_replace,
    diff,
    reload_or_undo,
)
from certsmith.renewal.install import InstallError
from certsmith.wording import said

__all__ = ["OPTIONS_FILE", "ApacheInstaller", "make"]

logger = logging.getLogger(__name__)

OPTIONS_FILE = "options-ssl-apache.conf"
_Edit = Callable[[Checkpoint], None]
HSTS = ("Strict-Transport-Security", '"max-age=31536000"')
UIR = ("Content-Security-Policy", "upgrade-insecure-requests")
_MODULE_IDS = {"ssl": "ssl_module", "rewrite": "rewrite_module", "headers": "headers_module"}


class ApacheInstaller:
    """One Apache configuration (``options``), edited by one caller at a time."""

    name = "apache"

    def __init__(self, options: ApacheOptions, checkpoints: Checkpoints, ctl: Ctl) -> None:
        self.options = options
        self.checkpoints = checkpoints
        self.ctl = ctl
        self.lock = threading.Lock()
        self.unreloaded: list[Checkpoint] = []  # committed edits not yet live

    def parse(self) -> ApacheConfig:
        return parse_config(self.options.server_root, str(self.options.main_file))

    # -- the Installer protocol ---------------------------------------------------------------

    def http01_solver(self) -> Solver:
        from certsmith.installers.apache.solver import ApacheHttp01Solver

        return ApacheHttp01Solver(self)

    def deploy(self, lineage: str, domains: Sequence[str], live: Mapping[str, Path]) -> None:
        note = f"install {lineage} for {', '.join(domains)}"
        self._checkpointed(note, partial(self._deploy, domains=domains, live=live))

    def enhance(self, domains: Sequence[str], enhancements: Sequence[str]) -> None:
        _known(enhancements)
        for enhancement in enhancements:
            self._checkpointed(*self._enhancement(enhancement, domains))

    def preview(
        self,
        lineage: str,
        domains: Sequence[str],
        live: Mapping[str, Path] | None,
        enhancements: Sequence[str] = (),
    ) -> str:
        """The unified diff of what ``deploy`` (when ``live`` is given) and then ``enhance``
        would write. The same edits are made under a checkpoint that is restored byte for byte
        before this returns (apachectl is not run, Apache not reloaded), so the diff is exactly
        what a real run writes, and no checkpoint is left."""
        _known(enhancements)
        with self.lock:
            checkpoint = self.checkpoints.begin(self.name, f"preview of {lineage}")
            try:
                if live is not None:
                    self._deploy(checkpoint, domains, live)
                for enhancement in enhancements:
                    self._enhancement(enhancement, domains)[1](checkpoint)
                return diff(checkpoint)
            except OSError as exc:
                raise InstallError(said("install.left_as_was", error=str(exc))) from exc
            finally:
                checkpoint.restore()

    def _enhancement(self, enhancement: str, domains: Sequence[str]) -> tuple[str, _Edit]:
        names = ", ".join(domains)
        if enhancement == "redirect":
            return f"redirect to https for {names}", partial(self._redirect, domains=domains)
        header = HSTS if enhancement == "hsts" else UIR
        return f"{enhancement} for {names}", partial(self._header, domains=domains, header=header)

    def reload(self) -> None:
        """``apachectl -k graceful``; when Apache refuses it, the edits since the last reload
        are undone and the previous configuration reloaded (InstallError says so)."""
        with self.lock:
            edits, self.unreloaded = self.unreloaded, []
            reload_or_undo(self.name, self.ctl.graceful, edits)

    # -- one checkpointed edit ----------------------------------------------------------------

    def _checkpointed(self, note: str, edit: _Edit) -> None:
        with self.lock:
            checkpoint = self.checkpoints.begin(self.name, note)
            try:
                edit(checkpoint)
                problem = self.ctl.configtest() if checkpoint.info.files else None
                if problem is not None:
                    raise InstallError(said("apache.configtest_failed", note=note, problem=problem))
            except BaseException as exc:
                checkpoint.restore()
                if isinstance(exc, CertsmithError | OSError) and not isinstance(exc, InstallError):
                    raise InstallError(said("install.left_as_was", error=str(exc))) from exc
                raise
            if checkpoint.info.files:
                checkpoint.commit()
                self.unreloaded.append(checkpoint)
                logger.info("apache: %s (checkpoint %d)", note, checkpoint.number)
            else:
                checkpoint.restore()  # nothing changed: no empty checkpoint for rollback

    def _write(self, checkpoint: Checkpoint, results: Mapping[Path, bytes]) -> None:
        for path, data in results.items():
            checkpoint.save_original(path)
            atomic_replace(path, data)

    def _apply(self, checkpoint: Checkpoint, splices: edits.Splices) -> None:
        if splices:
            self._write(checkpoint, splices.results())

    def _modules(self, checkpoint: Checkpoint, config: ApacheConfig, *names: str) -> ApacheConfig:
        """Make sure ``names`` are loaded (a2enmod when allowed); the re-read configuration."""
        missing = [n for n in names if _MODULE_IDS[n] not in config.loaded_modules()]
        if not missing:
            return config
        if not self.options.handle_modules:
            raise InstallError(said("apache.modules_off", modules=", ".join(missing)))
        for name in missing:
            enable_module(self.options.server_root, name, checkpoint.save_original)
        config = self.parse()
        still = [n for n in missing if _MODULE_IDS[n] not in config.loaded_modules()]
        if still:
            raise InstallError(said("apache.modules_still", modules=", ".join(still)))
        return config

    # -- deploy -------------------------------------------------------------------------------

    def _deploy(
        self, checkpoint: Checkpoint, domains: Sequence[str], live: Mapping[str, Path]
    ) -> None:
        config = self._modules(checkpoint, self.parse(), "ssl")
        for name in domains:
            vhosts = find_vhosts(config)
            secure = best_matches(vhosts, name, None, ssl=True)
            if secure:
                splices = edits.Splices()
                for vhost in secure:
                    ssl_vhost.point_at(splices, vhost, config, live)
                self._apply(checkpoint, splices)
            else:
                plain = best_matches(vhosts, name, self.options.http_port, ssl=False)
                if not plain:
                    raise InstallError(
                        said("apache.no_vhost_deploy", port=self.options.http_port, name=name)
                    )
                for vhost in plain:
                    self._add_ssl_vhost(checkpoint, config, vhost, live)
                    config = self.parse()
            config = self.parse()

    def _options_file(self, checkpoint: Checkpoint, live: Mapping[str, Path]) -> Path:
        base = self.options.config_dir or Path(live["fullchain"]).absolute().parents[2]
        path = base / OPTIONS_FILE
        if not path.exists():
            checkpoint.save_original(path)
            data = resources.files(__package__).joinpath("data", OPTIONS_FILE).read_bytes()
            atomic_replace(path, data, mode=0o644)
        return path

    def _add_ssl_vhost(
        self,
        checkpoint: Checkpoint,
        config: ApacheConfig,
        vhost: VirtualHost,
        live: Mapping[str, Path],
    ) -> None:
        target = self._ssl_vhost_path(vhost)
        options_file = self._options_file(checkpoint, live)
        listen = not _listens(config, self.options.https_port)
        text = ssl_vhost.render(vhost, self.options.https_port, live, options_file, listen)
        checkpoint.save_original(target)
        old = target.read_bytes() if target.exists() else b""
        atomic_replace(target, old + text.encode("utf-8", "surrogateescape"))
        logger.info(
            "apache: added a TLS copy of %s:%d to %s", vhost.path, vhost.node.start + 1, target
        )
        if target.parent.name == "sites-available" and self.options.handle_sites:
            enable_site(self.options.server_root, target, checkpoint.save_original)
        if Path(target).absolute() not in self.parse().files:
            self._include_from_main(checkpoint, target)

    def _ssl_vhost_path(self, vhost: VirtualHost) -> Path:
        source = vhost.path.resolve()
        available = self.options.server_root / "sites-available"
        if self.options.vhost_root is not None:
            folder = self.options.vhost_root
        elif (
            source.parent
            in (available.resolve(), (self.options.server_root / "sites-enabled").resolve())
            and available.is_dir()
        ):
            folder = available
        else:
            folder = source.parent
        stem = source.name.removesuffix(".conf")
        return folder / f"{stem}{self.options.le_vhost_ext}"

    def _include_from_main(self, checkpoint: Checkpoint, target: Path) -> None:
        config = self.parse()
        main = config.files[config.main.absolute()]
        newline = edits.line_ending(main)
        splices = edits.Splices()
        splices.insert(
            main, len(main.lines), [edits.directive_line("", "Include", [str(target)], newline)]
        )
        self._apply(checkpoint, splices)

    # -- enhancements -------------------------------------------------------------------------

    def _redirect(self, checkpoint: Checkpoint, domains: Sequence[str]) -> None:
        config = self._modules(checkpoint, self.parse(), "rewrite")
        targets: dict[tuple[Path, int], tuple[VirtualHost, list[str]]] = {}
        for name in domains:
            for vhost in best_matches(find_vhosts(config), name, self.options.http_port, ssl=False):
                targets.setdefault((vhost.path, vhost.node.start), (vhost, []))[1].append(name)
        if not targets:
            raise InstallError(
                said(
                    "apache.no_vhost_redirect",
                    port=self.options.http_port,
                    names=", ".join(domains),
                )
            )
        splices = edits.Splices()
        for vhost, names in targets.values():
            if not ssl_vhost.redirects(vhost, config):
                ssl_vhost.add_redirect(splices, vhost, names, self.options.https_port)
        self._apply(checkpoint, splices)

    def _header(
        self, checkpoint: Checkpoint, domains: Sequence[str], header: tuple[str, str]
    ) -> None:
        config = self._modules(checkpoint, self.parse(), "headers")
        seen: set[tuple[Path, int]] = set()
        splices = edits.Splices()
        for name in domains:
            for vhost in best_matches(find_vhosts(config), name, None, ssl=True):
                if (vhost.path, vhost.node.start) in seen or _has_header(vhost, config, header[0]):
                    continue
                seen.add((vhost.path, vhost.node.start))
                indent = edits.body_indent(vhost.node)
                newline = edits.line_ending(vhost.node.file)
                line = f"{indent}Header always set {header[0]} {header[1]}{newline}"
                splices.before_close(vhost.node, [line])
        self._apply(checkpoint, splices)


def _known(enhancements: Sequence[str]) -> None:
    unknown = [e for e in enhancements if e not in ("redirect", "hsts", "uir")]
    if unknown:
        raise InstallError(said("apache.unknown_enhancement", enhancement=repr(unknown[0])))


def _listens(config: ApacheConfig, port: int) -> bool:
    for node in config.root.find("Listen"):
        if node.args and node.args[0].rsplit(":", 1)[-1] == str(port):
            return True
    return False


def _has_header(vhost: VirtualHost, config: ApacheConfig, header: str) -> bool:
    return any(
        n.key == "header" and any(a.lower() == header.lower() for a in n.args)
        for n in vhost.active_nodes(config)
    )


def make(options: Mapping[str, str]) -> ApacheInstaller:
    parsed = ApacheOptions.from_mapping(options)
    return ApacheInstaller(parsed, checkpoint_store(options), Ctl(parsed.ctl))
