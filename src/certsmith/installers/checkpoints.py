"""Checkpoints: the original bytes of every web-server file an installer changes or creates.

Shared by the nginx and apache installers. Before an installer writes a file it calls
``Checkpoint.save_original(path)``; the bytes (or the fact that the file did not exist) are on
disk, fsynced, before the first edit, so even a crash mid-edit can be undone.

Layout (``root`` is ``<config_dir>/.certsmith-checkpoints`` for the installers; certbot keeps
the same thing in ``<work_dir>/backups``)::

    root/
      1/index.json     {"version": 1, "timestamp": ..., "server": "nginx", "note": ...,
                        "complete": true, "files": [{"path", "existed", "mode", "saved"}]}
      1/files/0        the original bytes of files[0]
      2/...            newer checkpoints have higher numbers

A checkpoint is ``complete`` once ``commit()`` ran. One that is not (the installer's check
failed and it restored it, or the process died mid-edit) is restored by the next
``restore_last`` before any complete one, so ``rollback`` never leaves a half-edit behind.

Duties of a caller: call ``save_original`` before the first write to a path (again for the same
path is a no-op); write with ``atomic_replace``; then ``commit()`` on success or ``restore()``
on failure. Callers serialise their edits of one server's configuration themselves. A reload the
server refuses after a passed test undoes the committed edits it would have made live
(``reload_or_undo``), so a failed reload also leaves the previous configuration.
"""

from __future__ import annotations

import builtins
import contextlib
import difflib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from certsmith.errors import StorageError
from certsmith.renewal.install import InstallError
from certsmith.storage.files import fsync_dir
from certsmith.wording import said

__all__ = [
    "Checkpoint",
    "CheckpointInfo",
    "Checkpoints",
    "FileChange",
    "atomic_replace",
    "diff",
    "reload_or_undo",
]

_INDEX = "index.json"
_MAX_CLAIM_ATTEMPTS = 100


def atomic_replace(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data``: temp file in the same folder, fsync, rename, folder fsync.

    The file keeps its mode and owner when it exists; a new file gets ``mode`` (default 0644),
    exactly (fchmod, not the umask)."""
    path = Path(path)
    old = path.stat() if path.exists() else None
    final_mode = mode if mode is not None else (old.st_mode & 0o7777 if old else 0o644)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            if old is not None:
                with contextlib.suppress(OSError):  # not root: the file stays ours
                    os.fchown(fd, old.st_uid, old.st_gid)
            os.fchmod(fd, final_mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_dir(path.parent)


@dataclass(frozen=True)
class FileChange:
    """One file a checkpoint can put back: its bytes were saved, or it did not exist."""

    path: str
    existed: bool
    mode: int | None = None
    saved: str | None = None  # the copy's name inside the checkpoint folder

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "existed": self.existed, "mode": self.mode, "saved": self.saved}

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> FileChange:
        mode = raw.get("mode")
        saved = raw.get("saved")
        return cls(
            path=str(raw["path"]),
            existed=bool(raw["existed"]),
            mode=int(str(mode)) if mode is not None else None,
            saved=str(saved) if saved is not None else None,
        )


@dataclass(frozen=True)
class CheckpointInfo:
    """What one checkpoint recorded (``config_changes`` lists these)."""

    number: int
    timestamp: float
    server: str
    note: str
    complete: bool
    files: tuple[FileChange, ...]

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        state = "" if self.complete else " (incomplete: restored or interrupted)"
        lines = [f"checkpoint {self.number}, {when}, {self.server}: {self.note}{state}"]
        for change in self.files:
            verb = "changed" if change.existed else "created"
            lines.append(f"  {verb} {change.path}")
        return "\n".join(lines)


class Checkpoint:
    """One installation or enhancement in progress: save originals, then commit or restore."""

    def __init__(self, directory: Path, info: CheckpointInfo) -> None:
        self.directory = directory
        self._info = info

    @property
    def info(self) -> CheckpointInfo:
        return self._info

    @property
    def number(self) -> int:
        return self._info.number

    def save_original(self, path: Path) -> None:
        """Record ``path`` as it is now (bytes and mode, or "did not exist"); call it before the
        first write. The copy and the index are fsynced before this returns."""
        path = Path(path).absolute()
        if any(change.path == str(path) for change in self._info.files):
            return
        if path.exists():
            saved = f"files/{len(self._info.files)}"
            copy = self.directory / saved
            copy.parent.mkdir(mode=0o700, exist_ok=True)
            atomic_replace(copy, path.read_bytes(), mode=0o600)
            change = FileChange(str(path), True, path.stat().st_mode & 0o7777, saved)
        else:
            change = FileChange(str(path), False)
        self._write_index(files=(*self._info.files, change))

    def commit(self) -> None:
        """The edit is in place and tested: the checkpoint counts for ``rollback``."""
        self._write_index(complete=True)

    def restore(self) -> None:
        """Put every recorded file back byte for byte (delete the created ones) and forget this
        checkpoint: the failure path of an edit, and what ``restore_last`` does per checkpoint."""
        _restore_files(self.directory, self._info)
        shutil.rmtree(self.directory)
        fsync_dir(self.directory.parent)

    def _write_index(
        self, *, files: tuple[FileChange, ...] | None = None, complete: bool | None = None
    ) -> None:
        info = self._info
        self._info = CheckpointInfo(
            number=info.number,
            timestamp=info.timestamp,
            server=info.server,
            note=info.note,
            complete=info.complete if complete is None else complete,
            files=info.files if files is None else files,
        )
        _write_index(self.directory, self._info)


class Checkpoints:
    """The checkpoints under ``root``, numbered from 1 (oldest) upwards."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self._clock = clock

    def begin(self, server: str, note: str) -> Checkpoint:
        """A new, incomplete checkpoint with the next number (claimed with an exclusive mkdir,
        so two processes never share one)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for _ in range(_MAX_CLAIM_ATTEMPTS):
            number = max(self._numbers(), default=0) + 1
            directory = self.root / str(number)
            try:
                directory.mkdir(mode=0o700)
            except FileExistsError:
                continue
            info = CheckpointInfo(number, self._clock(), server, note, False, ())
            _write_index(directory, info)
            return Checkpoint(directory, info)
        raise StorageError(said("checkpoint.no_folder", root=self.root))

    def list(self) -> builtins.list[CheckpointInfo]:
        """Every checkpoint, oldest first (incomplete ones included, marked so)."""
        return [_read_index(self.root / str(n)) for n in sorted(self._numbers())]

    def restore_last(self, n: int = 1, server: str | None = None) -> builtins.list[CheckpointInfo]:
        """Undo the newest ``n`` complete checkpoints (of ``server``, when given) and any
        incomplete one newer than them, newest first; the restored checkpoints are deleted.
        Returns what was restored."""
        if n < 1:
            raise ValueError("restore_last needs n >= 1")
        restored: builtins.list[CheckpointInfo] = []
        complete = 0
        for number in sorted(self._numbers(), reverse=True):
            if complete >= n:
                break
            directory = self.root / str(number)
            info = _read_index(directory)
            if server is not None and info.server != server:
                continue
            Checkpoint(directory, info).restore()
            restored.append(info)
            complete += 1 if info.complete else 0
        return restored

    def _numbers(self) -> builtins.list[int]:
        if not self.root.is_dir():
            return []
        return [int(p.name) for p in self.root.iterdir() if p.name.isdigit() and p.is_dir()]


def reload_or_undo(
    server: str, reload: Callable[[], None], edits: builtins.list[Checkpoint]
) -> None:
    """``reload()``; when the server refuses it (its config test had passed), put back the
    ``edits`` not yet reloaded, newest first, and reload the previous configuration; then
    raise an ``InstallError``-like error from ``reload`` naming the cause and what was undone.

    ``edits`` are committed checkpoints of this process (a deploy or an enhancement each); the
    caller forgets them either way, because after this they are live or undone."""
    try:
        reload()
    except InstallError as exc:
        if not edits:
            raise
        for checkpoint in reversed(edits):
            checkpoint.restore()
        undone = "; ".join(checkpoint.info.note for checkpoint in edits)
        try:
            reload()
            after = said("checkpoint.reloaded_previous", server=server)
        except InstallError as again:
            after = said("checkpoint.reload_failed_too", error=str(again))
        why = said("checkpoint.undone", error=str(exc), undone=undone, after=after)
        raise InstallError(why) from exc


def diff(checkpoint: Checkpoint) -> str:
    """The unified diff from what ``checkpoint`` saved to what is on disk now (a preview makes
    its edits under a checkpoint, takes this diff, then restores it)."""
    out: list[str] = []
    for change in checkpoint.info.files:
        path = Path(change.path)
        if path.is_symlink() and not change.existed:
            out.append(f"--- /dev/null\n+++ {path} (symlink to {path.readlink()})\n")
            continue
        old = (checkpoint.directory / str(change.saved)).read_bytes() if change.existed else b""
        new = path.read_bytes() if path.exists() else b""
        out += difflib.unified_diff(
            _lines(old), _lines(new), change.path if change.existed else "/dev/null", change.path
        )
    return "".join(out)


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").splitlines(keepends=True)


def _write_index(directory: Path, info: CheckpointInfo) -> None:
    raw = {
        "version": 1,
        "number": info.number,
        "timestamp": info.timestamp,
        "server": info.server,
        "note": info.note,
        "complete": info.complete,
        "files": [change.to_json() for change in info.files],
    }
    atomic_replace(directory / _INDEX, json.dumps(raw, indent=2).encode() + b"\n", mode=0o600)


def _read_index(directory: Path) -> CheckpointInfo:
    try:
        raw = json.loads((directory / _INDEX).read_text())
        return CheckpointInfo(
            number=int(directory.name),
            timestamp=float(raw["timestamp"]),
            server=str(raw["server"]),
            note=str(raw["note"]),
            complete=bool(raw["complete"]),
            files=tuple(FileChange.from_json(item) for item in raw["files"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        why = said("checkpoint.unreadable", directory=directory, error=str(exc))
        raise StorageError(why) from exc


def _restore_files(directory: Path, info: CheckpointInfo) -> None:
    # Newest change first is irrelevant (one change per path); created files go, saved come back.
    for change in reversed(info.files):
        path = Path(change.path)
        if not change.existed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                fsync_dir(path.parent)
            continue
        data = (directory / str(change.saved)).read_bytes()
        atomic_replace(path, data, mode=change.mode)
