"""Running one shell command for a hook: ``/bin/sh -c``, no stdin, output captured, bounded in
time, and its whole process group stopped on timeout or Ctrl-C (the hook runs in its own session,
so the terminal's SIGINT does not reach it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Protocol

_KILL_GRACE = 2.0
_CHUNK = 65536
OUTPUT_LIMIT = 64 * 1024  # per stream; what is kept for the log and the hook's result


@dataclass(frozen=True)
class CommandOutcome:
    """What a :class:`CommandRunner` observed: exit status (None if it never finished), output,
    whether the time limit killed it, and the OSError text if it could not start."""

    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str | None = None


class CommandRunner(Protocol):
    """Runs one shell command; must not raise for a failing command."""

    def __call__(
        self, command: str, *, env: Mapping[str, str], timeout: float
    ) -> CommandOutcome: ...


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The shell may have forked children that hold our pipes open; kill the whole group.
    for sig, wait in ((signal.SIGTERM, _KILL_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if wait is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=wait)


class RunningGroups:
    """The hook process groups running now, so that an interrupted run can end them: hooks
    called from worker threads (``asyncio.to_thread``) never see the main thread's Ctrl-C."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(proc)

    def kill_all(self) -> int:
        """SIGTERM, then SIGKILL, every group still running; returns how many there were."""
        with self._lock:
            running = list(self._running)
        for proc in running:
            _kill_group(proc)
        return len(running)


class _CappedReader:
    """Drains one pipe in a thread, keeping at most ``limit`` bytes: a hook printing without end
    costs neither memory nor a blocked child (the rest is read and dropped, and counted)."""

    def __init__(self, pipe: IO[bytes], limit: int) -> None:
        self._pipe, self._limit = pipe, limit
        self._kept = bytearray()
        self._dropped = 0
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        # This thread owns the pipe: it alone reads and closes it (closing it from another
        # thread while a read is blocked is not safe).
        with self._pipe, contextlib.suppress(OSError, ValueError):
            while chunk := os.read(self._pipe.fileno(), _CHUNK):
                room = self._limit - len(self._kept)
                self._kept += chunk[:room]
                self._dropped += max(0, len(chunk) - room)

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the end of output (a grandchild that left the
        process group may hold the pipe open for longer: what was read so far is kept)."""
        self._thread.join(max(0.0, timeout))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def text(self) -> str:
        text = bytes(self._kept).decode("utf-8", errors="replace")
        if self._dropped:
            text += f"\n[{self._dropped} more bytes of output dropped]\n"
        return text


def run_shell(
    command: str,
    *,
    env: Mapping[str, str],
    timeout: float,
    output_limit: int = OUTPUT_LIMIT,
    groups: RunningGroups | None = None,
) -> CommandOutcome:
    """Run ``command`` with ``/bin/sh -c`` and no stdin, capture at most ``output_limit`` bytes
    of each of its outputs, bounded by ``timeout`` seconds after which its process group is
    terminated, then killed. While it runs it is in ``groups`` (another thread may kill it)."""
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        return CommandOutcome(None, error=str(exc))
    assert proc.stdout is not None and proc.stderr is not None  # PIPE was asked for
    if groups is not None:
        groups.add(proc)
    try:
        return _wait(proc, command, timeout, output_limit)
    finally:
        if groups is not None:
            groups.discard(proc)


def _wait(
    proc: subprocess.Popen[bytes], command: str, timeout: float, output_limit: int
) -> CommandOutcome:
    assert proc.stdout is not None and proc.stderr is not None
    readers = (_CappedReader(proc.stdout, output_limit), _CappedReader(proc.stderr, output_limit))
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        proc.wait(timeout=timeout)
        for reader in readers:  # a background child may keep the pipes open after ``sh`` ends
            reader.join(deadline - time.monotonic())
        if any(reader.running for reader in readers):
            raise subprocess.TimeoutExpired(command, timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
    except BaseException:
        # Ctrl-C: the hook has its own session, so the terminal's SIGINT missed it.
        _kill_group(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_KILL_GRACE)
        raise
    if timed_out:
        for reader in readers:
            reader.join(_KILL_GRACE)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_KILL_GRACE)  # reap it (SIGKILL was sent if it timed out)
    out, err = (reader.text() for reader in readers)
    return CommandOutcome(proc.returncode, out, err, timed_out=timed_out)
