"""http-01 through an existing web server's document root (certbot's ``--webroot``).

For each challenge the solver writes ``<webroot>/.well-known/acme-challenge/<token>`` holding
the key authorization, readable by the web server (file 0644, directories 0755, whatever the
umask), and removes it afterwards together with the directories it created, once they are empty.

Confinement: the token must pass ``is_safe_token``; the challenge directory, after resolving
symlinks, must lie inside the resolved webroot (a ``.well-known`` symlink to elsewhere is
refused); the file is opened relative to a descriptor of that very directory with
``O_NOFOLLOW``, so neither a swapped directory nor a symlink at the token's name is followed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from certsmith.challenges.base import ChallengeTask, is_safe_token
from certsmith.errors import SolverError

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
        self._written: dict[str, Path] = {}  # token -> file written
        self._created_dirs: list[Path] = []  # deepest last

    def webroot_for(self, task: ChallengeTask) -> Path:
        """The webroot that serves ``task``'s identifier; raises ``SolverError`` if none."""
        root = self._map.get(_domain_key(task.identifier.value), self._default)
        if root is None:
            raise SolverError(f"no webroot configured for {task.identifier}")
        return root

    async def present(self, task: ChallengeTask) -> None:
        """Write the challenge file (idempotent); raises ``SolverError`` on any refusal."""
        if task.challenge_type != self.challenge_type:
            raise SolverError(f"webroot cannot answer {task.challenge_type}")
        if not is_safe_token(task.token):
            raise SolverError(f"refusing unsafe http-01 token {task.token[:40]!r}")
        if task.identifier.is_wildcard:
            raise SolverError(f"http-01 cannot validate wildcard {task.identifier}")
        root = self.webroot_for(task)
        path = await asyncio.to_thread(self._write, root, task.token, task.key_authorization)
        self._written[task.token] = path
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
                raise SolverError(f"webroot {root} is not a directory")
            directory = self._make_challenge_dir(root, real_root)
            dir_fd = self._open_confined_dir(directory, real_root)
            try:
                self._write_file(dir_fd, token, content)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise SolverError(f"cannot write the challenge file under {root}: {exc}") from exc
        return directory / token

    def _make_challenge_dir(self, root: Path, real_root: Path) -> Path:
        current = root
        for part in CHALLENGE_DIR:
            current = current / part
            if not current.exists() and not current.is_symlink():
                current.mkdir(DIR_MODE)
                # mkdir's mode is filtered by the umask; make it exactly 0755.
                current.chmod(DIR_MODE, follow_symlinks=False)
                self._created_dirs.append(current)
            _check_inside(current, real_root)
        return current

    @staticmethod
    def _open_confined_dir(directory: Path, real_root: Path) -> int:
        real_dir = os.path.realpath(directory)
        expected = Path(real_dir).stat()
        fd = os.open(real_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        opened = os.fstat(fd)
        # The directory may have been swapped between the check and the open.
        if (opened.st_dev, opened.st_ino) != (expected.st_dev, expected.st_ino):
            os.close(fd)
            raise SolverError(f"{directory} changed while it was being opened")
        return fd

    @staticmethod
    def _write_file(dir_fd: int, token: str, content: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(token, flags, FILE_MODE, dir_fd=dir_fd)
        except OSError as exc:
            raise SolverError(f"refusing to write challenge file {token!r}: {exc}") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SolverError(f"challenge path {token!r} is not a regular file")
            os.fchmod(fd, FILE_MODE)  # the umask filtered the mode given to open
            os.write(fd, content.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _remove(self, token: str) -> None:
        path = self._written.pop(token, None)
        if path is not None:
            try:
                path.unlink()
                logger.info("webroot: removed %s", path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                logger.warning("webroot: could not remove %s: %s", path, exc)
        if self._written:
            return  # other challenges may still use the directories
        remaining: list[Path] = []
        for directory in reversed(self._created_dirs):
            try:
                directory.rmdir()
            except FileNotFoundError:
                continue
            except OSError as exc:
                logger.info("webroot: left %s in place: %s", directory, exc)
                remaining.insert(0, directory)
        self._created_dirs = remaining


def _check_inside(path: Path, real_root: Path) -> None:
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(real_root):
        raise SolverError(f"{path} resolves to {real}, outside the webroot {real_root}")
    if not real.is_dir():
        raise SolverError(f"{path} is not a directory")
