"""Certificates the CA issued that could not be saved into their lineage (a full disk, an I/O
error): kept in ``<config_dir>/.certsmith-state/pending/<name>.json`` (0600, it holds the key)
so the next run installs them without a new order.

The record is written before the lineage is touched, while the disk still has room for its
few KB (about 3 KB with an ECDSA key: one 4 KB block) more often than not; it is removed once
the version is saved. Only the lineage's own run, holding its lock, reads or removes it.
"""

from __future__ import annotations

import contextlib
import errno
import json
from dataclasses import dataclass
from pathlib import Path

from certsmith.errors import DiskWriteFailed
from certsmith.storage.files import create_private_file, ensure_dir

__all__ = ["PendingStore", "PendingVersion", "describe_os_error"]

_CAUSES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission was denied",
    errno.EPERM: "the operation was not permitted",
    errno.EIO: "the disk reported an I/O error",
    errno.EROFS: "the file system is read-only",
}


def describe_os_error(exc: OSError) -> str:
    """The cause of ``exc`` in words ("the disk is full"), for messages to people."""
    if exc.errno in _CAUSES:
        return _CAUSES[exc.errno]
    return exc.strerror or str(exc)


def save_failed(name: str, exc: OSError, kept: Path | None) -> DiskWriteFailed:
    """The error to report when saving lineage ``name`` failed with ``exc``."""
    where = f" ({exc.filename})" if exc.filename else ""
    message = f"Could not save the new certificate of {name!r}: {describe_os_error(exc)}{where}."
    if kept is not None:
        message += (
            f" The certificate the CA issued is kept in {kept}; the next run installs it "
            "without a new order."
        )
    else:
        message += " The certificate the CA issued could not be kept; the next run orders again."
    return DiskWriteFailed(message, errno=exc.errno)


@dataclass(frozen=True)
class PendingVersion:
    """An issued version not yet in its lineage; ``key_pem`` None: the deployed key.
    ``server`` and ``account``: the CA and account id that ordered it (None in records of
    older versions): a first issuance reuses it only for the same ones."""

    key_pem: bytes | None
    cert_pem: bytes
    chain_pem: bytes
    fullchain_pem: bytes
    server: str | None = None
    account: str | None = None


class PendingStore:
    """The kept certificates of one config dir (file backend)."""

    def __init__(self, config_dir: Path) -> None:
        self.root = Path(config_dir) / ".certsmith-state" / "pending"

    def path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def names(self) -> list[str]:
        try:
            return sorted(p.stem for p in self.root.glob("*.json"))
        except OSError:
            return []

    def save(self, name: str, version: PendingVersion) -> Path:
        """Keep ``version`` for lineage ``name``; raises OSError when it cannot be written."""
        data = {
            "key": version.key_pem.decode() if version.key_pem is not None else None,
            "cert": version.cert_pem.decode(),
            "chain": version.chain_pem.decode(),
            "fullchain": version.fullchain_pem.decode(),
            "server": version.server,
            "account": version.account,
        }
        ensure_dir(self.root)
        create_private_file(self.path(name), json.dumps(data).encode())
        return self.path(name)

    def load(self, name: str) -> PendingVersion | None:
        """The kept version of ``name``; None when there is none or it cannot be read (it is
        then removed: the next order replaces it)."""
        try:
            raw = json.loads(self.path(name).read_text(encoding="utf-8"))
            key = raw["key"]
            return PendingVersion(
                key.encode() if isinstance(key, str) else None,
                str(raw["cert"]).encode(),
                str(raw["chain"]).encode(),
                str(raw["fullchain"]).encode(),
                _optional_str(raw.get("server")),
                _optional_str(raw.get("account")),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            self.discard(name)
            return None

    def discard(self, name: str) -> None:
        with contextlib.suppress(OSError):
            self.path(name).unlink()


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None
