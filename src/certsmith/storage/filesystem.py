"""The file backend: certbot's ``/etc/letsencrypt`` layout under one config dir."""

from __future__ import annotations

from pathlib import Path

from certsmith.storage.accounts import AccountStore
from certsmith.storage.history import HistoryFile
from certsmith.storage.interface import Stores
from certsmith.storage.lineage import LineageStore
from certsmith.storage.locks import excluding_certbot
from certsmith.storage.pending import PendingStore
from certsmith.storage.renewal_state import RenewalStateStore


def file_stores(config_dir: Path) -> Stores:
    """The stores of ``config_dir``; their guard keeps certbot out while certsmith writes."""
    return Stores(
        lineages=LineageStore(config_dir),
        accounts=AccountStore(config_dir),
        states=RenewalStateStore(config_dir),
        exclusive=lambda: excluding_certbot(config_dir),
        pending=PendingStore(config_dir),
        history=HistoryFile(config_dir),
    )


def written_folders(config_dir: Path) -> tuple[Path, ...]:
    """The folders the file backend writes under ``config_dir`` (checked before a run, so a
    file in their place or a read-only mount is reported before the CA is asked)."""
    return (config_dir, *(config_dir / name for name in ("live", "archive", "renewal", "accounts")))
