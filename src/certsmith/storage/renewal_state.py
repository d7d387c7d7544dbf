"""A cache that lets ``renew`` skip lineages that are not due without parsing their
certificates or asking the CA: per lineage, the deployed certificate's dates and ARI certificate
id, keyed by the lineage's revision (see ``LineageStorage.revision``), and the last ARI answer
with its Retry-After. The file backend of ``interface.RenewalStateCache``.

One file, ``<config_dir>/.certsmith-state/cache.json``, read once and written once per run
(creating a thousand small files costs more than the whole check). Writers merge their changes
into what is on disk, so concurrent runs lose nothing but, at worst, one entry's freshness;
certbot ignores the file, and losing it only costs one slow run.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from certsmith.storage.files import ensure_dir
from certsmith.storage.renewal_conf import RenewalConf


def file_revision(path: Path) -> str | None:
    """The file backend's revision of a lineage: inode, mtime and size of what its live cert
    link points at (a new version is a new file). None when it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


@dataclass(frozen=True)
class RenewalState:
    revision: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: int
    cert_id: str | None
    ari: dict[str, Any] | None = None
    revoked: bool = False  # revoked through certsmith: due at once, shown as revoked

    def with_ari(self, ari: dict[str, Any] | None) -> RenewalState:
        return replace(self, ari=ari)

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "serial": format(self.serial, "x"),
            "cert_id": self.cert_id,
            "ari": self.ari,
            "revoked": self.revoked,
        }

    @classmethod
    def from_json(cls, data: Any) -> RenewalState | None:
        try:
            return cls(
                revision=str(data["revision"]),
                not_before=datetime.datetime.fromisoformat(data["not_before"]),
                not_after=datetime.datetime.fromisoformat(data["not_after"]),
                serial=int(data["serial"], 16),
                cert_id=data.get("cert_id"),
                ari=data.get("ari") if isinstance(data.get("ari"), dict) else None,
                revoked=data.get("revoked") is True,
            )
        except (KeyError, TypeError, ValueError):
            return None


class RenewalStateStore:
    """The cache of one config dir. ``save``/``delete`` change memory; ``flush`` writes."""

    def __init__(self, config_dir: Path) -> None:
        self.root = Path(config_dir) / ".certsmith-state"
        self.path = self.root / "cache.json"
        self._entries: dict[str, Any] | None = None
        self._changed: set[str] = set()

    def _read_disk(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def _all(self) -> dict[str, Any]:
        if self._entries is None:
            self._entries = self._read_disk()
        return self._entries

    def load(self, name: str, revision: str | None) -> RenewalState | None:
        """The cached state, or None when missing, unreadable or for another revision."""
        state = RenewalState.from_json(self._all().get(name))
        if state is None or revision is None or state.revision != revision:
            return None
        return state

    def save(self, name: str, state: RenewalState) -> None:
        self._all()[name] = state.to_json()
        self._changed.add(name)

    def entries(self, names: Sequence[str]) -> dict[str, Any]:
        """The raw entries of ``names`` this store changed (to hand to another process)."""
        return {n: self._all()[n] for n in names if n in self._changed and n in self._all()}

    def merge(self, entries: dict[str, Any]) -> None:
        """Take entries another process made (see ``entries``); ``flush`` writes them."""
        self._all().update(entries)
        self._changed.update(entries)

    def delete(self, name: str) -> None:
        self._all().pop(name, None)
        self._changed.add(name)
        self.flush()

    def flush(self) -> None:
        """Merge this store's changes into the file on disk (rename; a cache needs no fsync)."""
        if not self._changed:
            return
        merged = self._read_disk()
        for name in self._changed:
            if name in self._all():
                merged[name] = self._all()[name]
            else:
                merged.pop(name, None)
        ensure_dir(self.root, 0o700)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(merged, handle)
        temp.replace(self.path)
        self._changed.clear()
        self._remove_orphans()

    def _remove_orphans(self) -> None:
        """Temporary files of runs that died before their rename (named by their pid)."""
        for path in self.root.glob(f".{self.path.name}.*.tmp"):
            pid = path.name.split(".")[-2]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                path.unlink(missing_ok=True)


def lineage_names(config_dir: Path) -> list[str]:
    """Names of all lineages (one per ``renewal/*.conf``), sorted."""
    renewal_dir = Path(config_dir) / "renewal"
    if not renewal_dir.is_dir():
        return []
    return sorted(p.name[: -len(".conf")] for p in renewal_dir.glob("*.conf"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def update_interrupted(config_dir: Path, conf: RenewalConf) -> bool:
    """Whether a run stopped while writing a new version or switching the live links (the
    intent record says "writing" or "switching"): live/ may hold a mixed pair, and temporary
    files may lie around, until the lineage is healed."""
    from certsmith.storage.archive import BUSY_MARKER, read_state

    archive_dir = Path(conf.get("archive_dir") or "")
    # A cheap textual confinement (this runs for every lineage on every `renew`); what writes
    # to the lineage resolves symlinks too (confine.py).
    if archive_dir.parent != Path(config_dir) / "archive" or archive_dir.name in ("", ".", ".."):
        return False
    if not (archive_dir / BUSY_MARKER).exists():
        return False
    state = read_state(archive_dir)
    return state is None or state.state in ("writing", "switching")
