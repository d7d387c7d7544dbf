"""Keeping the paths a renewal conf names inside ``config_dir``.

A renewal conf is a plain text file, so its ``archive_dir`` and live paths are input, not truth:
a damaged or hostile conf (``archive_dir = /etc``, ``cert = ../../../x``) must not make certsmith
write, link or delete anywhere else. The rule, checked after resolving symlinks (so a config dir
reached through a symlink still works, but a lineage folder that is a symlink elsewhere does not):

- the archive directory is a direct child of ``config_dir/archive``;
- every live path is a file name inside a direct child of ``config_dir/live``.
"""

from __future__ import annotations

import os
from pathlib import Path

from certsmith.errors import LineageCorrupt
from certsmith.wording import said


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def is_child_dir(path: Path, root: Path) -> bool:
    """Whether ``path``, symlinks resolved, is a direct child directory entry of ``root``."""
    return _real(path).parent == _real(root) and path.name not in ("", ".", "..")


def check_archive_dir(path: Path, archive_root: Path, name: str) -> Path:
    """``path`` if it lies directly in ``archive_root``; else LineageCorrupt."""
    if not is_child_dir(path, archive_root):
        raise LineageCorrupt(
            said(
                "storage.archive_outside", name=repr(name), path=repr(str(path)), root=archive_root
            )
        )
    return path


def check_live_path(path: Path, live_root: Path, name: str) -> Path:
    """``path`` if it is a file name in a direct child folder of ``live_root``; else
    LineageCorrupt."""
    if path.name in ("", ".", "..") or not is_child_dir(path.parent, live_root):
        raise LineageCorrupt(
            said("storage.live_outside", name=repr(name), path=repr(str(path)), root=live_root)
        )
    return path
