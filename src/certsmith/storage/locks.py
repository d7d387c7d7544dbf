"""Per-lineage advisory locks (``fcntl.flock`` on one small file per lineage).

Contract for callers: take ``LineageStore.lock(name)`` around any read-decide-write sequence on
one lineage (renewing, saving a version, deleting). Another process may have done the work while
you waited for the lock, so re-load the lineage and re-check whether the work is still needed
after acquiring it. Locks of different lineages never block each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from certsmith.errors import LockHeld


class LineageLock:
    """An acquired lock; release with :meth:`release` or by leaving the ``with`` block."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> LineageLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def acquire(
    path: Path,
    what: str,
    *,
    blocking: bool = True,
    timeout: float = 60.0,
    poll_interval: float = 0.05,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> LineageLock:
    """Lock ``path`` (created 0600 if missing). Non-blocking, or waiting at most ``timeout``
    seconds, raise LockHeld naming ``what`` when another holder keeps it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    deadline = clock() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return LineageLock(path, fd)
            except BlockingIOError:
                if not blocking or clock() >= deadline:
                    raise LockHeld(
                        f"Another certsmith run is working on {what} (lock file {path})."
                    ) from None
            sleep(min(poll_interval, max(0.0, deadline - clock())))
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
