"""The archive directory of one lineage: numbered versions, their completeness, the state record.

``archive/<name>/{cert,chain,fullchain,privkey}N.pem`` hold version N (certbot's naming).
certsmith adds ``certsmith-state.json``, an intent record written atomically before the live
links are switched::

    {"deployed": N, "previous": M, "state": "writing" | "switching" | "deployed"}

"writing" means a run was writing a new version's files next to deployed version N (links
untouched; the next heal removes its temporary files). "switching" means a run was moving the
links to N and may have stopped half way: the next heal finishes the move. Once "deployed", the
links themselves are the truth again (certbot may have renewed the lineage since), so certbot's
files keep working without the record.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from certsmith.errors import StorageError
from certsmith.storage.files import atomic_write
from certsmith.wording import said

if TYPE_CHECKING:
    from cryptography import x509

# `cryptography` is imported only where certificates are parsed, so that `renew` can read the
# state record of every lineage without it.

ALL_FOUR = ("cert", "privkey", "chain", "fullchain")
STATE_FILE = "certsmith-state.json"
# Present while a run writes or switches this lineage: `renew` tests for it on every lineage
# with one stat (the intent record itself is the authority once it is found).
BUSY_MARKER = ".certsmith-busy"
_VERSION_RE = re.compile(r"^(cert|privkey|chain|fullchain)([0-9]+)\.pem$")


def archive_file(archive_dir: Path, kind: str, version: int) -> Path:
    """``archive_dir/<kind><version>.pem``."""
    return archive_dir / f"{kind}{version}.pem"


def version_of(path: str | Path, kind: str) -> int | None:
    """The N of a ``<kind>N.pem`` file name, else None."""
    match = _VERSION_RE.match(Path(path).name)
    if match is None or match.group(1) != kind:
        return None
    return int(match.group(2))


def versions_present(archive_dir: Path) -> dict[str, set[int]]:
    """For each kind, the version numbers that have a file (complete or not)."""
    found: dict[str, set[int]] = {kind: set() for kind in ALL_FOUR}
    try:
        entries = list(archive_dir.iterdir())
    except FileNotFoundError:
        return found
    for entry in entries:
        match = _VERSION_RE.match(entry.name)
        if match:
            found[match.group(1)].add(int(match.group(2)))
    return found


def next_free_version(archive_dir: Path) -> int:
    """One more than any version of any kind, so a partial version is never reused."""
    present = versions_present(archive_dir)
    return max((max(v) for v in present.values() if v), default=0) + 1


def common_versions(archive_dir: Path) -> list[int]:
    """Versions that have all four files, newest first."""
    present = versions_present(archive_dir)
    return sorted(set.intersection(*present.values()), reverse=True)


@dataclass(frozen=True)
class VersionCheck:
    ok: bool
    reason: str = ""
    cert: x509.Certificate | None = None


def check_version(archive_dir: Path, version: int) -> VersionCheck:
    """Whether version N may be deployed: all four files readable, the certificate and key
    parse and match, and the fullchain starts with the certificate."""
    try:
        data = {kind: archive_file(archive_dir, kind, version).read_bytes() for kind in ALL_FOUR}
    except OSError as exc:
        return VersionCheck(False, f"version {version} is missing a file ({exc.strerror})")
    from certsmith import crypto

    try:
        cert = crypto.load_certificates(data["cert"])[0]
        key = crypto.load_private_key(data["privkey"])
        full = crypto.load_certificates(data["fullchain"])
    except ValueError as exc:
        return VersionCheck(False, f"version {version} has unreadable PEM data ({exc})")
    if not crypto.key_matches_certificate(key, cert):
        return VersionCheck(False, f"version {version}: the private key does not match the cert")
    if full[0] != cert:
        return VersionCheck(False, f"version {version}: fullchain does not start with the cert")
    return VersionCheck(True, cert=cert)


StateName = Literal["writing", "switching", "deployed"]


@dataclass(frozen=True)
class DeployState:
    deployed: int
    previous: int | None
    state: StateName

    def to_json(self) -> dict[str, object]:
        return {"deployed": self.deployed, "previous": self.previous, "state": self.state}


def read_state(archive_dir: Path) -> DeployState | None:
    """The intent record, or None when absent or unreadable (then the links are the truth)."""
    try:
        raw = json.loads((archive_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(raw, dict):
        return None
    deployed, previous, state = raw.get("deployed"), raw.get("previous"), raw.get("state")
    if not isinstance(deployed, int) or state not in ("writing", "switching", "deployed"):
        return None
    return DeployState(deployed, previous if isinstance(previous, int) else None, state)


def write_state(archive_dir: Path, state: DeployState) -> None:
    """Atomically record ``state`` (temp, fsync, rename, dir fsync)."""
    text = json.dumps(state.to_json(), sort_keys=True) + "\n"
    atomic_write(archive_dir / STATE_FILE, text.encode(), 0o644)


def remove_temp_files(directory: Path) -> list[Path]:
    """Delete ``.*.tmp`` leftovers of interrupted writes; returns what was removed.

    Only call while holding the lineage lock: a running writer owns its temporary files.
    """
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in list(directory.iterdir()):
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
    return removed


def check_pair(key_pem: bytes, cert_pem: bytes, fullchain_pem: bytes) -> None:
    """Refuse a version whose key, certificate and fullchain do not belong together."""
    from certsmith import crypto

    try:
        key = crypto.load_private_key(key_pem)
        cert = crypto.load_certificates(cert_pem)[0]
        full = crypto.load_certificates(fullchain_pem)
    except ValueError as exc:
        raise StorageError(said("storage.pem_unreadable", reason=exc)) from None
    if not crypto.key_matches_certificate(key, cert):
        raise StorageError(said("storage.key_mismatch"))
    if full[0] != cert:
        raise StorageError(said("storage.fullchain_mismatch"))
