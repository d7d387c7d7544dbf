"""Folders certsmith must write: checked before a run starts, and OS errors about them turned
into one sentence that names the folder and why (never "internal error").

A file where a folder should be, a read-only mount and missing permissions are what people
meet; ``os.access`` sees a read-only mount even for root, which ignores permission bits.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

from certsmith.errors import FolderNotWritable

_WHY = {
    errno.ENOTDIR: "a file is in the way where a folder should be",
    errno.EEXIST: "a file is in the way where a folder should be",
    errno.EROFS: "it is on a read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted (an immutable folder?)",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
}


def check_writable(folders: Iterable[Path]) -> None:
    """Raise ``FolderNotWritable`` for the first folder that is a file, sits under a file, or
    exists but cannot be written. Folders that do not exist yet are created later; their
    nearest existing parent must then be writable."""
    for folder in folders:
        existing = folder
        while not existing.exists() and existing != existing.parent:
            if existing.is_symlink():  # a dangling link: created through, not checked here
                break
            existing = existing.parent
        if existing.exists() and not existing.is_dir():
            raise FolderNotWritable(
                f"{folder}: {existing} is a file", folder=str(folder), why=_why_file(existing)
            )
        if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
            why = _WHY[errno.EROFS] if _read_only_mount(existing) else _WHY[errno.EACCES]
            raise FolderNotWritable(f"{existing}: {why}", folder=str(existing), why=why)


def _why_file(path: Path) -> str:
    return f"{path} is a file, where a folder should be"


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def folder_error(exc: OSError) -> FolderNotWritable | None:
    """The folder-level explanation of an OS error while writing, when it is one."""
    why = _WHY.get(exc.errno or 0)
    if why is None or not exc.filename:
        return None
    path = Path(os.fsdecode(exc.filename))
    folder = path if path.is_dir() else path.parent
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        for parent in (path, *path.parents):
            if parent.exists() and not parent.is_dir():
                folder, why = parent, _why_file(parent)
                break
    return FolderNotWritable(f"{exc.strerror}: {path}", folder=str(folder), why=why)
