"""Certificate lineages in certbot's layout under ``config_dir``.

    renewal/<name>.conf                          configobj, see renewal_conf.py
    archive/<name>/{cert,chain,fullchain,privkey}N.pem, certsmith-state.json
    live/<name>/{cert,chain,fullchain,privkey}.pem -> ../../archive/<name>/<kind>N.pem
    live/<name>/README

Saving version N+1 is crash safe: the four archive files are written (temp, fsync, rename, dir
fsync) before anything points at them; then an intent record names N+1 (archive.py); then the
four live links are switched as a set (links.py: a new live/<name> exchanged with the old one),
or, where the system cannot exchange directories, one at a time, so live/cert.pem always
exists. A run stopped anywhere is healed by the next ``load``: links are made to match the
record, a version with missing files or a key that does not match its certificate is never
deployed. Lineages certbot wrote have no record; their deployed version is read from the links.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from certsmith.errors import LineageCorrupt, StorageError, UsageError
from certsmith.storage import archive as arc
from certsmith.storage.archive import ALL_FOUR, DeployState
from certsmith.storage.confine import check_archive_dir, check_live_path
from certsmith.storage.files import (
    atomic_write,
    create_private_file,
    ensure_dir,
)
from certsmith.storage.lineage_model import Lineage, check_lineage_name
from certsmith.storage.links import (
    LiveSwitcher,
    link_version,
    remove_temp_live_dirs,
    take_certbot_previous_links,
)
from certsmith.storage.locks import LineageLock, acquire
from certsmith.storage.readme import live_readme
from certsmith.storage.removal import begin_deletion, interrupted_deletions, remove_lineage_files
from certsmith.storage.renewal_conf import RenewalConf, Value
from certsmith.storage.renewal_state import file_revision, lineage_names, update_interrupted
from certsmith.wording import said
from certsmith.wording_parts import os_reason

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

# The renewal-file format version certsmith writes (certbot's "version" key).
CONF_FORMAT_VERSION = "5.8.0"
MAX_NAME_SUFFIX = 9999


class LineageStore:
    """The lineages under one config_dir (certbot's /etc/letsencrypt layout); the file backend
    of ``interface.LineageStorage``."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = Path(config_dir)
        self.renewal_dir = self.config_dir / "renewal"
        self.archive_root = self.config_dir / "archive"
        self.live_root = self.config_dir / "live"
        self.lock_dir = self.config_dir / ".certsmith-locks"
        self._switcher = LiveSwitcher()

    # --- reading ----------------------------------------------------------------------------

    def conf_path(self, name: str) -> Path:
        return self.renewal_dir / f"{name}.conf"

    def names(self) -> list[str]:
        """Names of all lineages (one per ``renewal/*.conf``), sorted."""
        return lineage_names(self.config_dir)

    def exists(self, name: str) -> bool:
        check_lineage_name(name)
        return self.conf_path(name).exists()

    def live_paths(self, name: str) -> dict[str, Path]:
        """The live files of ``name`` as its conf names them (the default layout without one)."""
        try:
            conf = self.read_conf(name)
        except LineageCorrupt:
            return {kind: self.live_root / name / f"{kind}.pem" for kind in ALL_FOUR}
        return {kind: Path(conf.path(kind)) for kind in ALL_FOUR}

    def revision(
        self, name: str, conf: RenewalConf | None = None, *, locator: str | None = None
    ) -> str | None:
        """Changes whenever live/<name>/cert.pem points at another file (one stat); None when
        the lineage or its certificate is missing. ``locator``: that link's path."""
        if locator is not None:
            return file_revision(locator)
        if conf is None:
            try:
                conf = self.read_conf(name)
            except LineageCorrupt:
                return None
        return file_revision(Path(conf.path("cert")))

    def revision_locator(self, name: str, conf: RenewalConf) -> str:
        return conf.path("cert")

    def conf_revision(self, name: str) -> str | None:
        """inode, mtime and size of renewal/<name>.conf (one stat); see ``_announce_save``."""
        return file_revision(f"{self.renewal_dir}/{name}.conf")  # no Path: called per lineage

    def update_interrupted(self, name: str, conf: RenewalConf) -> bool:
        return update_interrupted(self.config_dir, conf)

    def read_conf(self, name: str) -> RenewalConf:
        """The parsed renewal conf. Raises LineageCorrupt if missing or unparsable."""
        check_lineage_name(name)
        try:
            text = self.conf_path(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LineageCorrupt(said("storage.no_certificate", name=repr(name))) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LineageCorrupt(
                said("storage.cannot_read", path=self.conf_path(name), reason=exc)
            ) from None
        return RenewalConf.parse(text)

    def _paths(self, name: str, conf: RenewalConf) -> tuple[Path, dict[str, Path]]:
        """The conf's archive dir and live paths; LineageCorrupt when any lies outside
        config_dir (see confine.py), so nothing is ever written or linked there."""
        archive_dir = Path(conf.get("archive_dir") or self.archive_root / name)
        check_archive_dir(archive_dir, self.archive_root, name)
        live = {kind: Path(conf.path(kind)) for kind in ALL_FOUR}
        for path in live.values():
            check_live_path(path, self.live_root, name)
        return archive_dir, live

    def read_live_cert(self, name: str, conf: RenewalConf | None = None) -> bytes:
        """The PEM that live/<name>/cert.pem points at now, without healing (read-only checks).
        Raises LineageCorrupt when it cannot be read."""
        conf = conf or self.read_conf(name)
        # Only the file read is checked (a conf pointing at a FIFO elsewhere must not hang us);
        # the other paths matter only to code that writes, which checks them all.
        path = check_live_path(Path(conf.path("cert")), self.live_root, name)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise LineageCorrupt(
                said("storage.cannot_read", path=path, reason=os_reason(exc))
            ) from None

    def load(self, name: str) -> Lineage:
        """Read lineage ``name``, healing an interrupted update first (see :meth:`heal`).

        Raises LineageCorrupt when no deployable version exists.
        """
        conf = self.read_conf(name)
        archive_dir, live = self._paths(name, conf)
        version = self._heal(name, archive_dir, live)
        from certsmith import crypto

        cert_pem = arc.archive_file(archive_dir, "cert", version).read_bytes()
        cert = crypto.load_certificates(cert_pem)[0]
        key_path = arc.archive_file(archive_dir, "privkey", version)
        return Lineage(
            name=name,
            conf_path=self.conf_path(name),
            conf=conf,
            archive_dir=archive_dir,
            live_paths=live,
            deployed_version=version,
            versions=tuple(arc.common_versions(archive_dir)),
            cert_pem=cert_pem,
            identifiers=tuple(crypto.certificate_identifiers(cert)),
            read_key=key_path.read_bytes,
        )

    def heal(self, name: str) -> int:
        """Make the live links point at one complete, matching version and return it; also
        remove temporary files of interrupted writes. Call while holding ``lock(name)``."""
        conf = self.read_conf(name)
        archive_dir, live = self._paths(name, conf)
        for directory in (archive_dir, live["cert"].parent):
            for path in arc.remove_temp_files(directory):
                logger.info("Removed %s, left by an interrupted run.", path)
        for path in remove_temp_live_dirs(live["cert"].parent):
            logger.info("Removed %s, left by an interrupted switch of live/.", path)
        for path in self.renewal_dir.glob(f".{name}.conf.*.tmp"):  # an interrupted conf write
            path.unlink(missing_ok=True)
            logger.info("Removed %s, left by an interrupted run.", path)
        return self._heal(name, archive_dir, live)

    def _heal(self, name: str, archive_dir: Path, live: dict[str, Path]) -> int:
        linked = {kind: link_version(live[kind], kind, archive_dir) for kind in ALL_FOUR}
        state = arc.read_state(archive_dir)
        candidates: list[int] = []
        if state is not None and state.state == "switching":
            candidates += [state.deployed] + ([state.previous] if state.previous else [])
        else:
            candidates += take_certbot_previous_links(live, archive_dir)
            known = {v for v in linked.values() if v is not None}
            candidates += sorted(known, reverse=True)
        candidates += arc.common_versions(archive_dir)
        chosen = None
        for version in dict.fromkeys(candidates):
            check = arc.check_version(archive_dir, version)
            if check.ok:
                chosen = version
                break
            logger.warning("Lineage %s: not deploying %s.", name, check.reason)
        if chosen is None:
            raise LineageCorrupt(said("storage.no_complete_version", name=repr(name)))
        changed = self._switcher.point_links(live, archive_dir, chosen, linked)
        if state is not None and (state.state != "deployed" or changed):
            arc.write_state(archive_dir, DeployState(chosen, state.previous, "deployed"))
        if changed:
            logger.warning("Lineage %s: live links repaired to version %d.", name, chosen)
        (archive_dir / arc.BUSY_MARKER).unlink(missing_ok=True)
        return chosen

    # --- naming -----------------------------------------------------------------------------

    def _taken(self, name: str) -> bool:
        return any(
            os.path.lexists(p)
            for p in (self.conf_path(name), self.archive_root / name, self.live_root / name)
        )

    def available_name(self, preferred: str) -> str:
        """``preferred`` if unused, else ``preferred-0001``, ``-0002``... (certbot's scheme).

        A name counts as used when its renewal conf, archive or live directory exists.
        """
        check_lineage_name(preferred)
        if not self._taken(preferred):
            return preferred
        for count in range(1, MAX_NAME_SUFFIX + 1):
            candidate = f"{preferred}-{count:04d}"
            if not self._taken(candidate):
                return candidate
        raise StorageError(said("storage.no_free_name", name=repr(preferred)))

    # --- writing ----------------------------------------------------------------------------

    def lock(self, name: str, *, blocking: bool = True, timeout: float = 60.0) -> LineageLock:
        """Lock lineage ``name`` (see locks.py for the caller's duties). Raises LockHeld."""
        check_lineage_name(name)
        ensure_dir(self.config_dir)
        ensure_dir(self.lock_dir)
        return acquire(
            self.lock_dir / f"{name}.lock",
            said("lock.what.certificate", name=repr(name)),
            blocking=blocking,
            timeout=timeout,
        )

    def new_conf(
        self, name: str, renewalparams: Mapping[str, Value | dict[str, str]]
    ) -> RenewalConf:
        """A renewal conf for ``name`` in the default layout (paths filled in)."""
        live_dir = self.live_root / name
        return RenewalConf.new(
            str(self.archive_root / name),
            {kind: str(live_dir / f"{kind}.pem") for kind in ALL_FOUR},
            renewalparams,
            CONF_FORMAT_VERSION,
        )

    def save_version(
        self,
        name: str,
        key_pem: bytes | None,
        cert_pem: bytes,
        chain_pem: bytes,
        fullchain_pem: bytes | None = None,
        conf: RenewalConf | None = None,
    ) -> Lineage:
        """Store a new version of lineage ``name`` (created if its conf does not exist) and
        deploy it. Call while holding ``lock(name)``.

        ``key_pem`` None reuses the deployed key. ``fullchain_pem`` defaults to cert + chain.
        ``conf`` replaces the renewal conf (its path keys are set by the store); None keeps the
        existing one or, for a new lineage, writes one with empty renewalparams. Raises
        StorageError when the key does not match the certificate; on OSError nothing visible
        changes except unreferenced archive files.
        """
        check_lineage_name(name)
        existing = self.conf_path(name).exists()
        if existing:
            old = self.load(name)
            archive_dir, live, previous = old.archive_dir, old.live_paths, old.deployed_version
            if key_pem is None:
                key_pem = old.private_key_pem()
        else:
            archive_dir = self.archive_root / name
            live = {kind: self.live_root / name / f"{kind}.pem" for kind in ALL_FOUR}
            previous = None
            if key_pem is None:
                raise UsageError(said("storage.new_needs_key", name=repr(name)))
        fullchain_pem = fullchain_pem if fullchain_pem is not None else cert_pem + chain_pem
        arc.check_pair(key_pem, cert_pem, fullchain_pem)
        if not existing:
            if name in self.interrupted_deletions():  # its old files must not outlive it
                self.delete(name)
            for directory in (self.renewal_dir, self.archive_root, self.live_root):
                ensure_dir(directory, 0o700)
            # certbot makes the per-lineage directories with the default mode.
            ensure_dir(archive_dir, 0o755)
            ensure_dir(live["cert"].parent, 0o755)
        if previous is not None:  # so a crash while writing is noticed and cleaned up
            (archive_dir / arc.BUSY_MARKER).touch()
            self._announce_save(name)
            arc.write_state(archive_dir, DeployState(previous, previous, "writing"))
        version = arc.next_free_version(archive_dir)
        old_key = arc.archive_file(archive_dir, "privkey", previous) if previous else None
        create_private_file(arc.archive_file(archive_dir, "privkey", version), key_pem, old_key)
        for kind, data in (("cert", cert_pem), ("chain", chain_pem), ("fullchain", fullchain_pem)):
            atomic_write(arc.archive_file(archive_dir, kind, version), data, 0o644)
        if existing and conf is not None:
            # Before the switch: a full disk here must leave the previous version served, not
            # serve the new one while the save reports failure and its deploy hook never runs
            # (tests/integration/test_full_disk_tmpfs.py, "room-for-all-but-the-conf").
            self._write_conf(name, conf, archive_dir, live)
        arc.write_state(archive_dir, DeployState(version, previous, "switching"))
        self._switcher.point_links(live, archive_dir, version, {})
        if not existing:
            self._write_readmes(live["cert"].parent)
            self._write_conf(name, conf or self.new_conf(name, {}), archive_dir, live)
        # Only now: a crash in any step above leaves "switching", which the next run finishes.
        arc.write_state(archive_dir, DeployState(version, previous, "deployed"))
        (archive_dir / arc.BUSY_MARKER).unlink(missing_ok=True)
        return self.load(name)

    def _announce_save(self, name: str) -> None:
        """Move the conf's mtime forward (after the busy marker exists), so its revision
        changes: `renew`'s quick check skips the busy-marker stat of unchanged lineages, and a
        save that stops before the cert link is swapped (live/ still whole, leftovers in
        archive/) is then looked at in full and healed. A swap changes ``revision`` anyway:
        ``point_links`` swaps cert.pem first."""
        path = self.conf_path(name)
        try:
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, max(time.time_ns(), st.st_mtime_ns + 1)))
        except OSError as exc:  # the conf is rewritten or healed later; the save goes on
            logger.warning("Could not mark %s as being saved: %s", path, exc)

    def write_conf(self, name: str, conf: RenewalConf) -> None:
        """Replace renewal/<name>.conf with ``conf`` as it is (atomically, keeping the file's
        mode), for changes that make no new version. The caller holds the lineage lock."""
        check_lineage_name(name)
        path = self.conf_path(name)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        atomic_write(path, conf.serialize().encode("utf-8"), mode)

    def _write_conf(
        self, name: str, conf: RenewalConf, archive_dir: Path, live: dict[str, Path]
    ) -> None:
        conf.root.set("archive_dir", str(archive_dir))
        for kind in ALL_FOUR:
            conf.root.set(kind, str(live[kind]))
        if conf.root.get("version") is None:
            conf.root.set("version", CONF_FORMAT_VERSION)
        path = self.conf_path(name)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        atomic_write(path, conf.serialize().encode("utf-8"), mode)

    def _write_readmes(self, live_dir: Path) -> None:
        base = self.live_root / "README"
        if not base.exists():
            atomic_write(base, live_readme("[cert name]/").encode(), 0o644)
        atomic_write(live_dir / "README", live_readme().encode(), 0o644)

    def delete(self, name: str) -> None:
        """Remove lineage ``name``: its conf first (so it stops being listed), then the live
        links, README and directory, then the archive. Call while holding ``lock(name)``.

        Only the lineage's own folders (``live/<name>``, ``archive/<name>``) are touched, and
        only when they are real folders there: a conf naming other places (another lineage,
        somewhere outside config_dir) gets a warning, never a deletion.
        """
        check_lineage_name(name)
        record = begin_deletion(self.conf_path(name), name)  # no longer listed from here on
        try:
            conf = RenewalConf.parse(record.read_text(encoding="utf-8"))
            conf_archive, conf_live = self._paths(name, conf)
            named = {conf_archive, *(p.parent for p in conf_live.values())}
        except (LineageCorrupt, OSError, UnicodeDecodeError) as exc:
            named = set()
            logger.warning("Deleting %s: %s", name, exc)
        remove_lineage_files(name, record, self.archive_root, self.live_root, named)

    def interrupted_deletions(self) -> list[str]:
        """Lineages a killed ``delete`` left half-removed; ``delete`` finishes them."""
        return [n for n in interrupted_deletions(self.renewal_dir) if not self.exists(n)]
