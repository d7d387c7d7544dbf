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


_ASYNC_RUN = """
import asyncio, signal, sys
from pathlib import Path
from certsmith.renewal.hooks import HookRunner

signal.signal(signal.SIGINT, signal.default_int_handler)
runner = HookRunner(base_env={"PATH": "/usr/bin:/bin"})
hook = f"echo $$ > {sys.argv[1]}.tmp; mv {sys.argv[1]}.tmp {sys.argv[1]}; sleep 30 & wait"
try:
    asyncio.run(runner.deploy_async(lineage_dir=Path("."), domains=["a.test"], deploy_hook=hook))
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_stops_a_hook_running_in_a_worker_thread_at_once(tmp_path: Path) -> None:
    """`renew` runs hooks through asyncio.to_thread, which the main thread's Ctrl-C never
    reaches: without the run killing them, the interrupted run waited for the hook to end."""
    import subprocess
    import sys

    pid_file = tmp_path / "hook.pid"
    proc = subprocess.Popen([sys.executable, "-c", _ASYNC_RUN, str(pid_file)])
    try:
        deadline = time.monotonic() + 20
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        hook_shell = int(pid_file.read_text())
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130
        assert time.monotonic() - started < 5  # the hook would have slept 30 s
        assert not _alive(hook_shell)
    finally:
        proc.kill()
        proc.wait()
