"""Hole 11 of issue 11: standalone listeners of two certsmith runs on one config dir take turns.

Two ServerPools on one config dir stand for two processes: their flocks are taken through
separate open files, which exclude each other as two processes' would.
"""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path

import pytest

from certsmith.errors import LockHeld
from certsmith.renewal.servers import ServerPool
from support.scripted_acme import FakeTime

ADDRESS = "127.0.0.1"


async def test_a_second_run_waits_for_the_port_then_starts_its_listener(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = ServerPool(lock_dir=tmp_path)
    second = ServerPool(lock_dir=tmp_path, port_wait=10.0)
    released = asyncio.Event()

    async def hold() -> None:
        async with first.use("http-01", ADDRESS, 0):
            await asyncio.sleep(0.3)
        released.set()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING, logger="certsmith"):
        async with second.use("http-01", ADDRESS, 0) as server:
            assert released.is_set()  # it started only after the first run let go
            assert server.port > 0
    await holder
    waits = [r for r in caplog.records if "waiting up to 10 seconds" in r.getMessage()]
    assert len(waits) == 1  # one line, however many polls
    lock_dir = tmp_path / ".certsmith-locks"
    assert stat.S_IMODE(lock_dir.stat().st_mode) == 0o700
    assert (lock_dir / "standalone-127.0.0.1-0.lock").exists()


async def test_a_second_run_gives_up_after_the_bounded_wait_with_lock_held(
    tmp_path: Path,
) -> None:
    time = FakeTime()
    first = ServerPool(lock_dir=tmp_path)
    second = ServerPool(lock_dir=tmp_path, port_wait=60.0, sleep=time.sleep, clock=time.clock)
    async with first.use("http-01", ADDRESS, 0):
        with pytest.raises(LockHeld, match="left to it"):
            async with second.use("http-01", ADDRESS, 0):
                pytest.fail("started a listener on a port another run holds")
    assert 59.0 <= sum(time.sleeps) <= 60.0
    async with second.use("http-01", ADDRESS, 0) as server:  # free again
        assert server.port > 0


async def test_lineages_of_one_run_share_the_listener_without_waiting(tmp_path: Path) -> None:
    time = FakeTime()
    pool = ServerPool(lock_dir=tmp_path, sleep=time.sleep, clock=time.clock)
    async with pool.use("http-01", ADDRESS, 0) as one, pool.use("http-01", ADDRESS, 0) as two:
        assert one is two
    assert time.sleeps == []
