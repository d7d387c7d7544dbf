"""Stopping the servers tests start (named, nginx) and showing why they failed."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a server's log, for an error message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(
    process: subprocess.Popen[bytes] | None,
    first: signal.Signals = signal.SIGTERM,
    grace: float = 5.0,
    group: bool = False,
) -> None:
    """Ask ``process`` (the one this test started) to stop with ``first``; SIGKILL it (its
    whole process group with ``group``) if it is still there after ``grace`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(first)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=grace)
