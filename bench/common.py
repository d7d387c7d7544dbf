"""Shared pieces of the benchmark: result rows, a bounded child-process runner, Pebble start-up
and a challtestsrv-backed http-01 solver for driving the protocol core."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from pebble import PebbleCA  # noqa: E402

CERTSMITH = ROOT / ".venv" / "bin" / "certsmith"
CERTBOT = ROOT / ".venv-certbot" / "bin" / "certbot"


@dataclass
class Row:
    """One line of the results table. ``passed`` is None when there is no target or no run."""

    figure: str
    metric: str
    value: float | None = None
    unit: str = ""
    target: str = ""
    passed: bool | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def not_run(figure: str, metric: str, reason: str, target: str = "") -> Row:
    return Row(figure, metric, None, "", target, None, f"not run: {reason}")


@dataclass
class Completed:
    argv: list[str]
    seconds: float
    returncode: int
    stdout: str
    stderr: str

    def tail(self, lines: int = 3) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return " | ".join(text[-lines:])[:300]


def run_cmd(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120.0
) -> Completed:
    """Run ``argv`` to completion (killed after ``timeout`` s); wall time measured around it."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(argv),
            env=full_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace")
        err = (exc.stderr or b"").decode(errors="replace") + f"\n(timed out after {timeout}s)"
        return Completed(list(argv), time.perf_counter() - start, -9, out, err)
    seconds = time.perf_counter() - start
    return Completed(
        list(argv),
        seconds,
        proc.returncode,
        proc.stdout.decode(errors="replace"),
        proc.stderr.decode(errors="replace"),
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@contextmanager
def pebble(workdir: Path, **kwargs: Any) -> Iterator[PebbleCA]:
    """A running Pebble whose names resolve to 127.0.0.1 only (no AAAA: Pebble's VA would dial
    ::1 first, where nothing listens)."""
    ca = PebbleCA(workdir, **kwargs)
    ca.start()
    try:
        ca.challtest("/set-default-ipv6", {"ip": ""})
        yield ca
    finally:
        ca.stop()


class ChalltestSolver:
    """http-01 through challtestsrv's management API (the CA's VA reaches it on 127.0.0.1)."""

    challenge_type = "http-01"

    def __init__(self, challtestsrv_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=challtestsrv_url, timeout=10.0)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def present(self, task: Any) -> None:
        body = {"token": task.token, "content": task.key_authorization}
        (await self._http.post("/add-http01", json=body)).raise_for_status()

    async def settle(self, tasks: list[Any]) -> None:
        return None

    async def cleanup(self, task: Any) -> None:
        (await self._http.post("/del-http01", json={"token": task.token})).raise_for_status()


def judge(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit
