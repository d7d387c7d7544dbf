"""Crash-safe file primitives: atomic writes, private files, directories, symlink swaps.

Every write goes to a temporary file in the destination directory, is fsynced, renamed over the
destination with ``os.replace`` and then the directory is fsynced, so a crash leaves either the
old or the new content, never a torn file. ``os`` functions are looked up at call time so tests
can inject failures (make ``os.replace`` or ``os.fsync`` fail on the Nth call).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
# Bits of an old private key's mode a new key inherits (certbot's compute_private_key_mode).
_INHERITED_KEY_BITS = stat.S_IRGRP | stat.S_IWGRP | stat.S_IXGRP | stat.S_IROTH


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename or new entry in it survives a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(
    path: Path, data: bytes, mode: int, group_from: Path | None = None, exact: bool = False
) -> None:
    """Create ``path`` exclusively with ``mode`` through os.open (umask applies), write, fsync.

    ``exact`` (private files): the mode is set on the descriptor while the file is still empty,
    whatever the umask (0277 would make a key 0400, 0477 unreadable by its owner). With
    ``group_from`` (private keys), the file is born 0600, takes that file's group, and only
    then, still empty, gets the group/other bits of ``mode``: the key is never readable by a
    group it was not meant for.
    """
    create_mode = mode & 0o600 if group_from is not None else mode
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, create_mode)
    try:
        if exact:
            os.fchmod(fd, create_mode)
        if group_from is not None:
            with contextlib.suppress(OSError):  # not a member of that group: keep ours
                os.fchown(fd, -1, group_from.stat().st_gid)
            if mode & 0o077:
                os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically (temp in same dir, fsync, rename, dir fsync).

    The file is created with ``mode`` through os.open (the process umask applies). On failure
    the temporary file is removed and ``path`` is unchanged.
    """
    _replace_with(Path(path), data, mode, None)


def _replace_with(
    path: Path, data: bytes, mode: int, group_from: Path | None, exact: bool = False
) -> None:
    temp = _temp_name(path)
    try:
        _write_new(temp, data, mode, group_from, exact)
        temp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if exc.filename is None:  # os.write and fsync name no file: a full disk's message
            raise OSError(exc.errno, exc.strerror, str(path)) from exc  # says which one
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(path.parent)


def create_private_file(
    path: Path, data: bytes, previous: Path | None = None, mode: int = PRIVATE_FILE_MODE
) -> None:
    """Atomically write a private key: ``mode`` (0600), or the group and mode of ``previous``.

    The file gets its final permissions on the descriptor before any byte is written, whatever
    the umask (never widened after data is written). When ``previous`` (an older key of the
    same lineage) exists, the new file keeps its group and its group/other read bits, as certbot
    does, so a web server group that could read the old key can read the new one.
    """
    path = Path(path)
    mode &= PRIVATE_FILE_MODE
    group_from = None
    if previous is not None and previous.exists():
        mode |= stat.S_IMODE(previous.stat().st_mode) & _INHERITED_KEY_BITS
        group_from = previous
    _replace_with(path, data, mode, group_from, exact=True)


def ensure_dir(path: Path, mode: int = PRIVATE_DIR_MODE) -> None:
    """Create ``path`` and missing parents with ``mode`` (new directories only; existing ones
    keep the mode an administrator gave them)."""
    path = Path(path)
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode)
        except FileExistsError:
            continue
        # mkdir applies the umask; a private directory must not depend on it.
        directory.chmod(mode)
        fsync_dir(directory.parent)


def replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` (kept verbatim, e.g. a relative path) atomically.

    A temporary link is made next to ``link`` and renamed over it, so readers always see either
    the old or the new target, never a missing link.
    """
    link = Path(link)
    temp = _temp_name(link)
    temp.symlink_to(target)
    try:
        temp.replace(link)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(link.parent)
