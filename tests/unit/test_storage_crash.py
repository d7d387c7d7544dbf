"""Crash injection: saving a version interrupted at every os.replace / os.fsync / symlink call.

After each injected failure a fresh store loads (and so heals) the lineage; live/ must then
point at one complete version whose key matches its certificate, either the old or the new one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.storage import ALL_FOUR, LineageStore
from certsmith.storage.archive import read_state

CA_KEY = crypto.generate_private_key()
CA_PEM = crypto.make_self_signed(CA_KEY, [], issuer_cn="Crash CA")
NAME = "crash.test"


class Crash(Exception):
    """Stands for the process dying at this point."""


def issue() -> tuple[bytes, bytes]:
    key = crypto.generate_private_key()
    cert = crypto.make_self_signed(key, [Identifier.dns(NAME)], signer=CA_KEY, issuer_cn="Crash CA")
    return crypto.private_key_pem(key), cert


def fail_on_nth(real: Callable[..., Any], n: int, calls: list[int]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == n:
            raise Crash(f"injected failure on call {n}")
        return real(*args, **kwargs)

    return wrapper


def link_versions(store: LineageStore) -> set[int]:
    live = store.live_root / NAME
    return {
        int(os.readlink(live / f"{kind}.pem").rsplit(kind, 1)[1][: -len(".pem")])
        for kind in ALL_FOUR
    }


def live_state(store: LineageStore) -> tuple[int, bytes]:
    """(version, cert PEM) that live/ serves, after checking the pair is complete and matches."""
    live = store.live_root / NAME
    targets = {kind: os.readlink(live / f"{kind}.pem") for kind in ALL_FOUR}
    assert all(t.startswith(f"../../archive/{NAME}/") for t in targets.values())
    versions = {int(Path(t).name[len(k) : -len(".pem")]) for k, t in targets.items()}
    assert len(versions) == 1, targets
    key = crypto.load_private_key((live / "privkey.pem").read_bytes())
    cert_pem = (live / "cert.pem").read_bytes()
    cert = crypto.load_certificates(cert_pem)[0]
    assert crypto.key_matches_certificate(key, cert)
    assert crypto.load_certificates((live / "fullchain.pem").read_bytes())[0] == cert
    return versions.pop(), cert_pem


@pytest.mark.parametrize("victim", ["replace", "fsync", "symlink"])
def test_save_version_survives_a_crash_at_every_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    crash_points = 0
    for n in range(1, 60):
        store = LineageStore(tmp_path / f"run{victim}{n}")
        old_key, old_cert = issue()
        store.save_version(NAME, old_key, old_cert, CA_PEM)
        new_key, new_cert = issue()
        calls = [0]
        with monkeypatch.context() as patch:
            patch.setattr(os, victim, fail_on_nth(getattr(os, victim), n, calls))
            try:
                store.save_version(NAME, new_key, new_cert, CA_PEM)
                crashed = False
            except Crash:
                crashed = True
        if not crashed:
            break
        crash_points += 1
        record = read_state(store.archive_root / NAME)
        linked = link_versions(store)
        healed = LineageStore(store.config_dir).load(NAME)
        version, served = live_state(store)
        assert healed.deployed_version == version
        assert (version, served) in ((1, old_cert), (2, new_cert))
        if record is not None and record.state == "switching":
            assert version == record.deployed  # an intent once recorded is carried out
        else:
            assert version == max(linked)
        # The next run carries on normally and never reuses a partial version number.
        retry_key, retry_cert = issue()
        after = LineageStore(store.config_dir).save_version(NAME, retry_key, retry_cert, CA_PEM)
        assert live_state(store) == (after.deployed_version, retry_cert)
    assert crash_points >= 3, f"only {crash_points} crash points exercised for os.{victim}"


def test_crash_while_creating_a_lineage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(1, 40):
        store = LineageStore(tmp_path / f"new{n}")
        key, cert = issue()
        calls = [0]
        with monkeypatch.context() as patch:
            patch.setattr(os, "replace", fail_on_nth(os.replace, n, calls))
            try:
                store.save_version(NAME, key, cert, CA_PEM)
                break
            except Crash:
                pass
        if NAME in store.names():
            # The conf is written last: a listed lineage is always a deployable one.
            assert live_state(store) == (1, cert)
        retry = LineageStore(store.config_dir).save_version(NAME, key, cert, CA_PEM)
        assert live_state(store) == (retry.deployed_version, cert)
    else:
        pytest.fail("save_version never completed")


def test_cert_link_never_missing_during_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LineageStore(tmp_path / "etc")
    key, cert = issue()
    store.save_version(NAME, key, cert, CA_PEM)
    live = store.live_root / NAME
    observed: list[bool] = []
    real_replace = os.replace

    def watching(src: Any, dst: Any) -> None:
        observed.append(all((live / f"{k}.pem").exists() for k in ALL_FOUR))
        real_replace(src, dst)
        observed.append(all((live / f"{k}.pem").exists() for k in ALL_FOUR))

    monkeypatch.setattr(os, "replace", watching)
    key2, cert2 = issue()
    store.save_version(NAME, key2, cert2, CA_PEM)
    assert len(observed) >= 8 and all(observed)
