"""Removing one lineage's files, touching only its own folders."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Set
from pathlib import Path

from certsmith.storage.archive import ALL_FOUR
from certsmith.storage.confine import is_child_dir

logger = logging.getLogger(__name__)


def remove_lineage_files(
    name: str, conf_path: Path, archive_root: Path, live_root: Path, named: Set[Path]
) -> None:
    """Remove ``conf_path`` first (so the lineage stops being listed), then ``live/<name>``'s
    links, README and folder, then ``archive/<name>``. ``named`` are the folders the conf
    names: any that is not the lineage's own gets a warning, never a deletion."""
    archive_dir = archive_root / name
    live_dir = live_root / name
    for other in sorted(str(p) for p in set(named) - {archive_dir, live_dir}):
        logger.warning("Lineage %s: leaving %s in place, it is not its own folder.", name, other)
    with contextlib.suppress(FileNotFoundError):
        conf_path.unlink()
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
