"""Removing one lineage's files, touching only its own folders.

A deletion starts by renaming ``renewal/NAME.conf`` to ``renewal/.NAME.conf.deleting`` (one
atomic rename: the lineage stops being listed, by certsmith and certbot alike) and ends by
removing that record, after live/ and archive/. A run killed in between leaves the record;
the next ``delete`` or ``renew`` finishes the removal (``interrupted_deletions``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Set
from pathlib import Path

from certsmith.storage.archive import ALL_FOUR
from certsmith.storage.confine import is_child_dir
from certsmith.storage.files import fsync_dir

logger = logging.getLogger(__name__)

_RECORD_SUFFIX = ".conf.deleting"


def begin_deletion(conf_path: Path, name: str) -> Path:
    """Rename lineage ``name``'s conf to its deletion record (if the conf is there: a
    deletion already begun has only the record) and return the record's path."""
    record = conf_path.with_name(f".{name}{_RECORD_SUFFIX}")
    if conf_path.exists():
        conf_path.replace(record)
        fsync_dir(record.parent)
    return record


def interrupted_deletions(renewal_dir: Path) -> list[str]:
    """Names whose deletion record is left in ``renewal_dir`` (a killed ``delete``)."""
    try:
        found = os.listdir(renewal_dir)  # noqa: PTH208 (one call, no Path per lineage)
    except OSError:
        return []
    return sorted(
        n[1 : -len(_RECORD_SUFFIX)]
        for n in found
        if n.startswith(".") and n.endswith(_RECORD_SUFFIX) and len(n) > len(_RECORD_SUFFIX) + 1
    )


def remove_lineage_files(
    name: str, record: Path, archive_root: Path, live_root: Path, named: Set[Path]
) -> None:
    """Remove ``live/<name>``'s links, README and folder, then ``archive/<name>``, then the
    deletion ``record`` (``begin_deletion``), so a run killed midway is finished by the next.
    ``named`` are the folders the conf names: any that is not the lineage's own gets a
    warning, never a deletion."""
    archive_dir = archive_root / name
    live_dir = live_root / name
    for other in sorted(str(p) for p in set(named) - {archive_dir, live_dir}):
        logger.warning("Lineage %s: leaving %s in place, it is not its own folder.", name, other)
    for link in (live_dir, archive_dir):
        if link.is_symlink():  # remove the link, never what it points at
            logger.warning("Lineage %s: %s is a symlink; removing only the link.", name, link)
            link.unlink()
    if is_child_dir(live_dir, live_root):
        for file in [*(f"{kind}.pem" for kind in ALL_FOUR), "README"]:
            with contextlib.suppress(FileNotFoundError):
                (live_dir / file).unlink()
        with contextlib.suppress(OSError):
            live_dir.rmdir()
    if is_child_dir(archive_dir, archive_root):
        shutil.rmtree(archive_dir, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        record.unlink()
        fsync_dir(record.parent)
