"""Running ``nginx``: test the configuration, reload it. Every call has a time limit.

certbot runs ``nginx -c <server_root>/nginx.conf -t`` and ``... -s reload``; so does certsmith
(``nginx_ctl`` names the binary, ``nginx_server_root`` the folder of nginx.conf).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from certsmith.renewal.install import InstallError
from certsmith.wording import said

__all__ = ["Runner", "check", "nginx_command", "reload", "run_command"]

_TIMEOUT = 60.0

# argv -> (exit status, stderr); injectable so unit tests need no nginx.
Runner = Callable[[Sequence[str]], tuple[int, str]]


def run_command(argv: Sequence[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except FileNotFoundError:
        return 127, f"{argv[0]}: command not found (--nginx-ctl)"
    except subprocess.TimeoutExpired:
        return 124, f"{' '.join(argv)} did not finish within {_TIMEOUT:.0f} seconds"
    return done.returncode, done.stderr


def nginx_command(ctl: str, main: Path, *args: str) -> list[str]:
    return [ctl, "-c", str(main), *args]


def check(run: Runner, ctl: str, main: Path, doing: str) -> None:
    """``nginx -t``; InstallError quoting nginx's complaint when it fails."""
    status, stderr = run(nginx_command(ctl, main, "-t"))
    if status != 0:
        complaint = " ".join(line for line in stderr.splitlines() if "[emerg]" in line)
        complaint = complaint or stderr.strip() or f"exit status {status}"
        raise InstallError(said("nginx.rejected", doing=doing, complaint=complaint))


def reload(run: Runner, ctl: str, main: Path) -> None:
    status, stderr = run(nginx_command(ctl, main, "-s", "reload"))
    if status != 0:
        raise InstallError(said("nginx.reload_failed", detail=stderr.strip() or status))
