"""The live/ symlinks of a lineage: which version each points at, and pointing them at one.

The four links of ``live/<name>`` are switched as a set (certbot's layout kept): the new
directory is built beside the old one in ``live/`` (same four relative links, same README) and
the two are exchanged with ``renameat2(RENAME_EXCHANGE)``, so a reader, or a reboot, sees either
the old set or the new one, never a mismatched key and certificate. Where the kernel or the
filesystem cannot exchange (not Linux, EINVAL, ENOSYS), the links are swapped one at a time and
the intent record (archive.py) lets the next run finish an interrupted switch.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import shutil
import sys
from pathlib import Path

from certsmith.storage import archive as arc
from certsmith.storage.archive import ALL_FOUR
from certsmith.storage.files import fsync_dir, replace_symlink

logger = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
README = "README"
# What a live/<name> directory certbot or certsmith made holds; anything else is kept by
# switching the links one at a time instead of exchanging the directory.
_LIVE_ENTRIES = frozenset({f"{kind}.pem" for kind in ALL_FOUR} | {README})


class ExchangeUnsupported(OSError):
    """The system cannot exchange two directories atomically (renameat2 missing or refused)."""


def exchange_paths(first: Path, second: Path) -> None:
    """Swap two directory entries atomically with Linux's renameat2(RENAME_EXCHANGE).

    Raises ExchangeUnsupported where that call is unavailable, OSError for other failures.
    """
    if not sys.platform.startswith("linux"):
        raise ExchangeUnsupported(errno.ENOSYS, "renameat2 is Linux only")
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    call = getattr(libc, "renameat2", None)
    if call is None:  # glibc older than 2.28
        raise ExchangeUnsupported(errno.ENOSYS, "the C library has no renameat2")
    result = call(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result != 0:
        code = ctypes.get_errno()
        kind = ExchangeUnsupported if code in (errno.EINVAL, errno.ENOSYS) else OSError
        raise kind(code, os.strerror(code), str(first))


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


def _temp_dir_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\.{re.escape(name)}\.[0-9a-f]{{12}}\.live\.tmp$")


def remove_temp_live_dirs(live_dir: Path) -> list[Path]:
    """Delete directories a killed switch of ``live_dir`` left beside it (the new set not yet
    exchanged, or the old one not yet removed); returns them. Call holding the lineage lock."""
    pattern, removed = _temp_dir_re(live_dir.name), []
    with contextlib.suppress(FileNotFoundError):
        for entry in list(live_dir.parent.iterdir()):
            if pattern.match(entry.name) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
    return removed


class LiveSwitcher:
    """Points the live links of lineages at a version; one per store, so the fallback to
    per-link swaps is logged once."""

    def __init__(self) -> None:
        self.exchange_supported = True

    def point_links(
        self, live: dict[str, Path], archive_dir: Path, version: int, linked: dict[str, int | None]
    ) -> bool:
        """Point every live link at ``version``; True when any changed. ``linked`` holds what
        each link points at now, so a set already right is left alone."""
        if all(linked.get(k) == version and live[k].exists() for k in ALL_FOUR):
            return False
        if self.exchange_supported and _exchangeable(live):
            try:
                _switch_directory(live, archive_dir, version)
                return True
            except ExchangeUnsupported as exc:
                self.exchange_supported = False
                logger.warning(
                    "This system cannot exchange directories atomically (%s); the live links "
                    "are switched one at a time, and an interrupted switch is finished by the "
                    "next run.",
                    exc.strerror,
                )
        return _point_each(live, archive_dir, version, linked)


def _exchangeable(live: dict[str, Path]) -> bool:
    """Whether live/<name> is certbot's layout: the four default names in one existing
    directory holding nothing else (other files would be lost by an exchange)."""
    live_dir = live["cert"].parent
    if any(live[k] != live_dir / f"{k}.pem" for k in ALL_FOUR):
        return False
    try:
        entries = {entry.name for entry in live_dir.iterdir()}
    except OSError:
        return False
    return live_dir.is_dir() and not live_dir.is_symlink() and entries <= _LIVE_ENTRIES


def _switch_directory(live: dict[str, Path], archive_dir: Path, version: int) -> None:
    live_dir = live["cert"].parent
    remove_temp_live_dirs(live_dir)
    temp = live_dir.with_name(f".{live_dir.name}.{secrets.token_hex(6)}.live.tmp")
    old = live_dir.stat()
    temp.mkdir(0o700)
    try:
        for kind in ALL_FOUR:
            target = arc.archive_file(archive_dir, kind, version)
            # A sibling of live_dir, so the same relative target resolves from both.
            (temp / f"{kind}.pem").symlink_to(os.path.relpath(target, live_dir))
        if (live_dir / README).exists():
            shutil.copy2(live_dir / README, temp / README, follow_symlinks=False)
        with contextlib.suppress(OSError):
            os.chown(temp, old.st_uid, old.st_gid)
        temp.chmod(old.st_mode & 0o7777)
        fsync_dir(temp)
        exchange_paths(temp, live_dir)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    fsync_dir(live_dir.parent)
    shutil.rmtree(temp, ignore_errors=True)  # now the old set


def _point_each(
    live: dict[str, Path], archive_dir: Path, version: int, linked: dict[str, int | None]
) -> bool:
    changed = False
    for kind in ALL_FOUR:
        if linked.get(kind) == version and live[kind].exists():
            continue
        target = arc.archive_file(archive_dir, kind, version)
        replace_symlink(live[kind], os.path.relpath(target, live[kind].parent))
        changed = True
    return changed
