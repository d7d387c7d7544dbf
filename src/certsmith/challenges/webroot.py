"""http-01 through an existing web server's document root (certbot's ``--webroot``).

For each challenge the solver writes ``<webroot>/.well-known/acme-challenge/<token>`` holding
the key authorization, readable by the web server (file 0644, directories 0755, whatever the
umask), and removes it afterwards together with the directories it created, once they are empty.

Confinement: the token must pass ``is_safe_token``; the challenge directory, after resolving
symlinks, must lie inside the resolved webroot (a ``.well-known`` symlink to elsewhere is
refused). Directories are made and opened one step at a time from a descriptor of the webroot
with ``O_NOFOLLOW`` (``mkdirat``/``openat``), and the file is created relative to the challenge
directory's descriptor with ``O_EXCL | O_NOFOLLOW``, so neither a directory swapped for a symlink
nor a symlink or a planted hard link at the token's name is followed, truncated or chmod'ed.
Cleanup reaches each file and directory the same way and removes it only while it still has the
inode recorded when it was made.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from certsmith.challenges.base import ChallengeTask, is_safe_token
from certsmith.errors import SolverError
from certsmith.wording import said

logger = logging.getLogger(__name__)

CHALLENGE_DIR = (".well-known", "acme-challenge")
FILE_MODE = 0o644
DIR_MODE = 0o755


def _domain_key(name: str) -> str:
    return name.lower().removesuffix(".")


class WebrootSolver:
    """A ``Solver`` for http-01 that writes files into per-domain webroots.

    ``webroot_map`` maps a domain (or IP identifier) to its webroot, as certbot's
    ``--webroot-map`` / repeated ``-w``/``-d`` do; ``default_webroot`` serves names not in the
    map. A name with neither raises ``SolverError`` in ``present``.
    """

    challenge_type = "http-01"

    def __init__(
        self,
        webroot_map: Mapping[str, str | os.PathLike[str]] | None = None,
        *,
        default_webroot: str | os.PathLike[str] | None = None,
    ) -> None:
        self._map = {_domain_key(k): Path(v) for k, v in (webroot_map or {}).items()}
        self._default = Path(default_webroot) if default_webroot is not None else None
        self._written: dict[str, _Entry] = {}  # token -> file written
        self._created_dirs: list[_Entry] = []  # deepest last

    def webroot_for(self, task: ChallengeTask) -> Path:
        """The webroot that serves ``task``'s identifier; raises ``SolverError`` if none."""
        root = self._map.get(_domain_key(task.identifier.value), self._default)
        if root is None:
            raise SolverError(said("webroot.none_for", name=str(task.identifier)))
        return root

    async def present(self, task: ChallengeTask) -> None:
        """Write the challenge file (idempotent); raises ``SolverError`` on any refusal."""
        if task.challenge_type != self.challenge_type:
            kind = task.challenge_type
            raise SolverError(said("challenge.cannot_answer", solver="webroot", kind=kind))
        if not is_safe_token(task.token):
            token = repr(task.token[:40])
            raise SolverError(said("challenge.unsafe_token", kind="http-01", token=token))
        if task.identifier.is_wildcard:
            name = str(task.identifier)
            raise SolverError(said("challenge.no_wildcard", kind="http-01", name=name))
        root = self.webroot_for(task)
        path = await asyncio.to_thread(self._write, root, task.token, task.key_authorization)
        logger.info("webroot: wrote %s for %s", path, task.identifier)

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        """Files are visible once written; nothing to wait for."""

    async def cleanup(self, task: ChallengeTask) -> None:
        """Remove the file and the now-empty directories this solver created; never raises."""
        await asyncio.to_thread(self._remove, task.token)

    # -- filesystem ------------------------------------------------------------------------

    def _write(self, root: Path, token: str, content: str) -> Path:
        try:
            real_root = Path(os.path.realpath(root))
            if not real_root.is_dir():
                raise SolverError(said("webroot.not_directory", root=root))
            dir_fd, directory = self._open_challenge_dir(real_root)
            earlier = self._written.get(token)
            ours = earlier.identity if earlier and earlier.path == directory / token else None
            try:
                file_id = _write_file(dir_fd, token, content, ours)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise SolverError(said("webroot.cannot_write", root=root, reason=exc)) from exc
        self._written[token] = _Entry(real_root, directory / token, file_id)
        return directory / token

    def _open_challenge_dir(self, real_root: Path) -> tuple[int, Path]:
        """A descriptor of the challenge directory and its real path, made step by step from a
        descriptor of the webroot, so nothing swapped in meanwhile can lead outside."""
        fd = _walk(real_root, ())
        current = real_root  # the real path (no symlinks) of what ``fd`` is
        try:
            for part in CHALLENGE_DIR:
                created = False
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, DIR_MODE, dir_fd=fd)
                    created = True
                try:
                    child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
                    path = current / part
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or created:
                        raise
                    # A symlink an administrator made: followed only to a directory inside.
                    path = Path(os.path.realpath(current / part))
                    if not path.is_relative_to(real_root):
                        link = current / part
                        why = said("webroot.outside", link=link, target=path, root=real_root)
                        raise SolverError(why) from None
                    child = _walk(real_root, path.relative_to(real_root).parts)
                os.close(fd)
                fd, current = child, path
                if created:
                    os.fchmod(fd, DIR_MODE)  # mkdir's mode was filtered by the umask
                    self._created_dirs.append(_Entry(real_root, path, _identity(fd)))
        except BaseException:
            os.close(fd)
            raise
        return fd, current

    def _remove(self, token: str) -> None:
        entry = self._written.pop(token, None)
        if entry is not None and _remove_entry(entry, directory=False):
            logger.info("webroot: removed %s", entry.path)
        if self._written:
            return  # other challenges may still use the directories
        remaining = [d for d in reversed(self._created_dirs) if not _remove_entry(d, True)]
        self._created_dirs = remaining[::-1]


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass(frozen=True)
class _Entry:
    """Something this solver made: its real path under ``real_root`` and its (dev, inode)."""

    real_root: Path
    path: Path
    identity: tuple[int, int]


def _identity(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_dev, info.st_ino


def _walk(real_root: Path, parts: tuple[str, ...]) -> int:
    """Open ``real_root/parts...`` without following any symlink below ``real_root``."""
    fd = os.open(real_root, _DIR_FLAGS)
    try:
        for part in parts:
            child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_entry(entry: _Entry, directory: bool) -> bool:
    """Remove ``entry`` if it is still the very file or directory made; True when it is gone.

    The parent is reached from the webroot without following symlinks, and the name is only
    removed while it still has the (dev, inode) recorded, so a swapped ``.well-known`` or a
    replaced file never leads to a deletion elsewhere.
    """
    try:
        fd = _walk(entry.real_root, entry.path.parent.relative_to(entry.real_root).parts)
    except FileNotFoundError:
        return True
    except OSError as exc:
        logger.warning("webroot: left %s in place: its folder changed (%s)", entry.path, exc)
        return False
    name = entry.path.name
    try:
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if (info.st_dev, info.st_ino) != entry.identity:
            logger.warning("webroot: left %s in place: it was replaced", entry.path)
            return False
        if directory:
            os.rmdir(name, dir_fd=fd)
        else:
            os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        return True
    except OSError as exc:
        log = logger.info if directory else logger.warning
        log("webroot: left %s in place: %s", entry.path, exc)
        return False
    finally:
        os.close(fd)
    return True


def _write_file(
    dir_fd: int, token: str, content: str, ours: tuple[int, int] | None = None
) -> tuple[int, int]:
    """Create the token file afresh (``O_EXCL``): whatever already has the name — a planted
    hard link to a root-owned file, a symlink — is never opened, truncated or chmod'ed. Only the
    file this solver wrote before (``ours``, its (dev, inode)) is replaced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            fd = os.open(token, flags, FILE_MODE, dir_fd=dir_fd)
        except FileExistsError:
            info = os.stat(token, dir_fd=dir_fd, follow_symlinks=False)
            if ours is None or (info.st_dev, info.st_ino) != ours:
                raise SolverError(said("webroot.name_taken", token=repr(token))) from None
            os.unlink(token, dir_fd=dir_fd)
            fd = os.open(token, flags, FILE_MODE, dir_fd=dir_fd)
    except OSError as exc:
        raise SolverError(said("webroot.write_refused", token=repr(token), reason=exc)) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SolverError(said("webroot.not_regular", token=repr(token)))
        os.fchmod(fd, FILE_MODE)  # the umask filtered the mode given to open
        os.write(fd, content.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return info.st_dev, info.st_ino
