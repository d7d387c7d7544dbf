"""certsmith and certbot never change one config dir at the same time (storage/locks.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from certsmith.errors import LockHeld
from certsmith.storage.locks import CERTBOT_LOCK, excluding_certbot

ROOT = Path(__file__).resolve().parents[2]
CERTBOT_PYTHON = ROOT / ".venv-certbot" / "bin" / "python"

HOLD_EXCLUSIVE = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    sys.stdin.read()
    """
)

TRY_SHARED = textwrap.dedent(
    """
    import sys
    from certsmith.storage.locks import excluding_certbot
    with excluding_certbot(sys.argv[1]):
        print("shared", flush=True)
    """
)


def _hold(argv: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() in {"locked", "shared"}
    return proc


def test_certbot_running_keeps_certsmith_out(tmp_path: Path) -> None:
    holder = _hold([sys.executable, "-c", HOLD_EXCLUSIVE, str(tmp_path / CERTBOT_LOCK)])
    try:
        with pytest.raises(LockHeld, match="certbot is running"), excluding_certbot(tmp_path):
            pass
    finally:
        holder.communicate("", timeout=10)
    with excluding_certbot(tmp_path):  # free again once certbot is done
        pass


def test_certsmith_runs_share_the_config_dir(tmp_path: Path) -> None:
    with excluding_certbot(tmp_path):
        other = subprocess.run(
            [sys.executable, "-c", TRY_SHARED, str(tmp_path)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    assert other.returncode == 0 and other.stdout.strip() == "shared", other.stderr


@pytest.mark.skipif(not CERTBOT_PYTHON.exists(), reason="certbot 5.8.0 venv not installed")
def test_real_certbot_refuses_to_start_while_certsmith_holds_the_dir(tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import sys
        from certbot import errors
        from certbot._internal import lock
        try:
            lock.lock_dir(sys.argv[1])
        except errors.LockError as exc:
            print("refused:", exc)
        else:
            print("acquired")
        """
    )
    with excluding_certbot(tmp_path):
        held = subprocess.run(
            [str(CERTBOT_PYTHON), "-c", probe, str(tmp_path)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert held.stdout.startswith("refused:"), held.stdout + held.stderr
    after = subprocess.run(
        [str(CERTBOT_PYTHON), "-c", probe, str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert after.stdout.strip() == "acquired", after.stdout + after.stderr
