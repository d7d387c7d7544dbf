"""Running one shell command for a hook: ``/bin/sh -c``, no stdin, output captured, bounded in
time, and its whole process group stopped on timeout or Ctrl-C (the hook runs in its own session,
so the terminal's SIGINT does not reach it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

_KILL_GRACE = 2.0


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


def _kill_group(proc: subprocess.Popen[str]) -> None:
    # The shell may have forked children that hold our pipes open; kill the whole group.
    for sig, wait in ((signal.SIGTERM, _KILL_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if wait is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=wait)


def run_shell(command: str, *, env: Mapping[str, str], timeout: float) -> CommandOutcome:
    """Run ``command`` with ``/bin/sh -c`` and no stdin, capture its output, bounded by
    ``timeout`` seconds after which its process group is terminated, then killed."""
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        return CommandOutcome(None, error=str(exc))
    with proc:
        try:
            out, err = proc.communicate(timeout=timeout)
            return CommandOutcome(proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
        except BaseException:
            # Ctrl-C: the hook has its own session, so the terminal's SIGINT missed it.
            _kill_group(proc)
            raise
        try:
            out, err = proc.communicate(timeout=_KILL_GRACE)
        except subprocess.TimeoutExpired:  # a grandchild left the group and kept the pipes
            out, err = "", ""
        return CommandOutcome(proc.poll(), out, err, timed_out=True)
