"""The live/ symlinks of a lineage: which version each points at, and pointing them at one."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from certsmith.storage import archive as arc
from certsmith.storage.archive import ALL_FOUR
from certsmith.storage.files import replace_symlink


def link_version(link: Path, kind: str, archive_dir: Path) -> int | None:
    """The archive version ``link`` points at, or None when it points elsewhere or nowhere."""
    try:
        target = link.readlink()
    except OSError:
        return None
    resolved = (link.parent / target).parent
    try:
        if not resolved.samefile(archive_dir):
            return None
    except OSError:
        return None
    return arc.version_of(target, kind)


def take_certbot_previous_links(live: dict[str, Path], archive_dir: Path) -> list[int]:
    """The version certbot was switching away from, as its ``previous_<kind>.pem`` links say
    (certbot's update_all_links_to leaves them while switching; if all four are there, certbot
    itself would roll back to them). The links are removed."""
    previous = {k: live[k].parent / f"previous_{k}.pem" for k in ALL_FOUR}
    if not all(p.is_symlink() for p in previous.values()):
        return []
    found = {link_version(previous[k], k, archive_dir) for k in ALL_FOUR}
    for path in previous.values():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return [v for v in found if v is not None][:1] if len(found) == 1 else []


def point_links(
    live: dict[str, Path], archive_dir: Path, version: int, linked: dict[str, int | None]
) -> bool:
    """Point every live link at ``version`` (each swapped atomically); True when any changed.
    ``linked`` holds what each link points at now, so correct links are left alone."""
    changed = False
    for kind in ALL_FOUR:
        if linked.get(kind) == version and live[kind].exists():
            continue
        target = arc.archive_file(archive_dir, kind, version)
        replace_symlink(live[kind], os.path.relpath(target, live[kind].parent))
        changed = True
    return changed
