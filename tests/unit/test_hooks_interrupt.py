"""Ctrl-C while a hook runs: the hook's process group goes too (it runs in its own session, so
the terminal's SIGINT never reaches it), and the interrupt propagates."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from certsmith.renewal.hooks import run_shell


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_interrupt_kills_the_hook_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_shell(f"sleep 30 & echo $! > {pid_file}; wait", env={}, timeout=20)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)
