"""Per-lineage advisory locks (``fcntl.flock`` on one small file per lineage).

Contract for callers: take ``LineageStore.lock(name)`` around any read-decide-write sequence on
one lineage (renewing, saving a version, deleting). Another process may have done the work while
you waited for the lock, so re-load the lineage and re-check whether the work is still needed
after acquiring it. Locks of different lineages never block each other.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from certsmith.errors import LockHeld
from certsmith.storage.files import ensure_dir
from certsmith.wording import said


class LineageLock:
    """An acquired lock; release with :meth:`release` or by leaving the ``with`` block."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def refresh(self) -> None:
        """An flock lasts as long as its holder lives, so there is no lease to extend; only
        a released lock is an error."""
        if self._fd is None:
            raise LockHeld(said("lock.released", path=self.path))

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
                    raise LockHeld(said("lock.held", what=what, path=path)) from None
            sleep(min(poll_interval, max(0.0, deadline - clock())))
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


CERTBOT_LOCK = ".certbot.lock"


@contextlib.contextmanager
def excluding_certbot(config_dir: Path, attempts: int = 10) -> Iterator[None]:
    """Keep certbot out of ``config_dir`` while certsmith may change it.

    certbot holds an exclusive POSIX lock (``lockf``) on ``<config_dir>/.certbot.lock`` for its
    whole run. certsmith takes a *shared* one: certbot cannot start while any certsmith holds it,
    certsmith cannot start while certbot runs, and certsmith runs among themselves still proceed
    side by side (their per-lineage locks order them). Raises LockHeld while certbot runs.
    """
    path = Path(config_dir) / CERTBOT_LOCK
    ensure_dir(Path(config_dir))
    for _ in range(attempts):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                raise LockHeld(said("lock.certbot", config_dir=config_dir, path=path)) from None
            raise
        # certbot deletes the file when it lets go: ours must still be the file on disk.
        try:
            current = path.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        os.close(fd)
    else:
        raise LockHeld(said("lock.replaced", path=path))
    try:
        yield
    finally:
        os.close(fd)  # closing releases a POSIX lock


STANDALONE_LOCKS = ".certsmith-locks"


def try_standalone_lock(config_dir: Path, address: str, port: int) -> LineageLock:
    """The lock of a standalone challenge listener on (``address``, ``port``) among the
    certsmith processes of ``config_dir``: ``<config_dir>/.certsmith-locks/standalone-<address>-
    <port>.lock``. Never waits; LockHeld while another process holds it (the caller waits)."""
    directory = Path(config_dir) / STANDALONE_LOCKS
    ensure_dir(directory)
    label = "".join(c if c.isalnum() or c in ".-" else "_" for c in address) or "any"
    path = directory / f"standalone-{label}-{port}.lock"
    what = (
        said("lock.what.port", port=port, address=address)
        if address
        else said("lock.what.port_any", port=port)
    )
    return acquire(path, what, blocking=False)
