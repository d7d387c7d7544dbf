"""One disk error fails one lineage, never the run, and never loses an issued certificate.

An OSError (ENOSPC, EACCES, EIO) while saving lineage "a" is injected through ``os.replace``
against the scripted CA: "a" fails with a message naming the cause, "b" is renewed, the issued
certificate of "a" is kept in ``.certsmith-state/pending/``; the next run installs it without
a new order.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_renewal_runner import World, world

from certsmith import crypto
from certsmith.errors import DiskWriteFailed
from certsmith.renewal.keep_issued import KEPT_REASON
from certsmith.renewal.runner import Outcome

__all__ = ["world"]  # the fixture, shared with test_renewal_runner


def failing_for(lineage: str, code: int) -> Callable[..., Any]:
    real = os.replace

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if f"{os.sep}archive{os.sep}{lineage}{os.sep}" in os.fspath(dst):
            raise OSError(code, os.strerror(code), os.fspath(dst))
        real(src, dst, *args, **kwargs)

    return replace


def pending_file(world: World, name: str) -> Path:
    return world.config_dir / ".certsmith-state" / "pending" / f"{name}.json"


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (errno.ENOSPC, "the disk is full"),
        (errno.EACCES, "permission was denied"),
        (errno.EIO, "the disk reported an I/O error"),
    ],
)
async def test_a_disk_error_fails_one_lineage_and_keeps_its_certificate(
    world: World, monkeypatch: pytest.MonkeyPatch, code: int, cause: str
) -> None:
    world.add_lineage("a", "a.example")
    world.add_lineage("b", "b.example")
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", failing_for("a", code))
        first = await world.renew(force=True)
    assert first["b"].outcome is Outcome.RENEWED
    assert first["a"].outcome is Outcome.FAILED
    assert isinstance(first["a"].error, DiskWriteFailed)
    assert cause in str(first["a"].error) and "next run installs it" in str(first["a"].error)
    assert world.store.load("a").deployed_version == 1  # the old version is still served
    assert pending_file(world, "a").exists()
    assert pending_file(world, "a").stat().st_mode & 0o777 == 0o600  # it holds a key
    orders = len(world.ca.order_payloads())
    assert orders == 2

    second = await world.renew()  # not forced: neither is due, but "a" has a kept certificate
    assert second["a"].outcome is Outcome.RENEWED and second["a"].reason == KEPT_REASON
    assert len(world.ca.order_payloads()) == orders  # no new order
    lineage = world.store.load("a")
    assert lineage.deployed_version == 2
    key = crypto.load_private_key(lineage.private_key_pem())
    assert crypto.key_matches_certificate(key, lineage.certificate())
    assert not pending_file(world, "a").exists()
    assert "deploy-hook a" in world.hook_commands()
    third = await world.renew()
    assert third["a"].outcome is Outcome.NOT_DUE


async def test_a_kept_certificate_older_than_the_deployed_one_is_dropped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_lineage("a", "a.example")
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", failing_for("a", errno.ENOSPC))
        await world.renew(force=True)
    kept = pending_file(world, "a").read_bytes()
    await world.renew()  # installs it (version 2)
    await world.renew(force=True)  # version 3
    pending_file(world, "a").write_bytes(kept)  # version 2's certificate, kept again
    pending_file(world, "a").chmod(0o600)
    result = await world.renew()
    assert result["a"].outcome is Outcome.NOT_DUE
    assert world.store.load("a").deployed_version == 3
    assert not pending_file(world, "a").exists()
