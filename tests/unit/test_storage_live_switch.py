"""live/<name> is switched as a set: a new directory exchanged with the old one (renameat2).

A failure at any step of a switch leaves the four links at one version (before healing), a
killed switch's leftover directory is removed by the next heal, and where the exchange is not
supported the links are swapped one at a time (logged once per store).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.storage import ALL_FOUR, LineageStore, links

CA_KEY = crypto.generate_private_key()
CA_PEM = crypto.make_self_signed(CA_KEY, [], issuer_cn="Switch CA")
NAME = "switch.test"


class Crash(Exception):
    """Stands for the process dying at this point."""


def issue() -> tuple[bytes, bytes]:
    key = crypto.generate_private_key()
    cert = crypto.make_self_signed(
        key, [Identifier.dns(NAME)], signer=CA_KEY, issuer_cn="Switch CA"
    )
    return crypto.private_key_pem(key), cert


def fail_on_nth(real: Callable[..., Any], n: int, calls: list[int]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == n:
            raise Crash(f"injected failure on call {n}")
        return real(*args, **kwargs)

    return wrapper


def linked(live: Path) -> dict[str, str]:
    return {kind: os.readlink(live / f"{kind}.pem") for kind in ALL_FOUR}


def served_versions(live: Path) -> set[int]:
    return {int(t.rsplit("/", 1)[1][len(k) : -len(".pem")]) for k, t in linked(live).items()}


def store_with_one_version(root: Path) -> LineageStore:
    store = LineageStore(root)
    store.save_version(NAME, *issue(), CA_PEM)
    return store


@pytest.mark.parametrize("victim", ["symlink", "fsync", "replace"])
def test_a_failure_at_any_step_of_the_switch_leaves_live_at_one_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    exercised = 0
    for n in range(1, 40):
        store = store_with_one_version(tmp_path / f"{victim}{n}")
        calls = [0]
        with monkeypatch.context() as patch:
            patch.setattr(os, victim, fail_on_nth(getattr(os, victim), n, calls))
            try:
                store.save_version(NAME, *issue(), CA_PEM)
                break
            except Crash:
                exercised += 1
        # Read before any heal: what a web server restarted at this moment would serve.
        assert len(served_versions(store.live_root / NAME)) == 1, (victim, n)
    assert exercised >= 3


def test_switch_exchanges_the_directory_in_certbots_layout(tmp_path: Path) -> None:
    store = store_with_one_version(tmp_path / "etc")
    live = store.live_root / NAME
    before = live.stat()
    readme = (live / "README").read_bytes()
    store.save_version(NAME, *issue(), CA_PEM)
    after = live.stat()
    assert after.st_ino != before.st_ino  # a new directory, not four swapped links
    assert after.st_mode == before.st_mode
    assert sorted(p.name for p in live.iterdir()) == sorted(
        ["README", *(f"{kind}.pem" for kind in ALL_FOUR)]
    )
    assert linked(live) == {k: f"../../archive/{NAME}/{k}2.pem" for k in ALL_FOUR}
    assert (live / "README").read_bytes() == readme
    assert sorted(p.name for p in store.live_root.iterdir()) == ["README", NAME]


def test_heal_removes_the_directory_a_killed_switch_left(tmp_path: Path) -> None:
    store = store_with_one_version(tmp_path / "etc")
    leftover = store.live_root / f".{NAME}.0123456789ab.live.tmp"
    leftover.mkdir()
    (leftover / "cert.pem").symlink_to(f"../../archive/{NAME}/cert1.pem")
    other = store.live_root / f".{NAME}.x.0123456789ab.live.tmp"  # lineage "switch.test.x"
    other.mkdir()
    assert LineageStore(store.config_dir).heal(NAME) == 1
    assert not os.path.lexists(leftover)
    assert other.is_dir()
    assert served_versions(store.live_root / NAME) == {1}


def test_without_exchange_support_links_are_swapped_one_by_one_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_with_one_version(tmp_path / "etc")
    live = store.live_root / NAME
    inode = live.stat().st_ino

    def unsupported(first: Path, second: Path) -> None:
        raise links.ExchangeUnsupported(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(links, "exchange_paths", unsupported)
    with caplog.at_level(logging.WARNING, logger="certsmith.storage.links"):
        store.save_version(NAME, *issue(), CA_PEM)
        store.save_version(NAME, *issue(), CA_PEM)
    assert served_versions(live) == {3}
    assert live.stat().st_ino == inode
    warnings = [r for r in caplog.records if "one at a time" in r.getMessage()]
    assert len(warnings) == 1
    assert sorted(p.name for p in store.live_root.iterdir()) == ["README", NAME]


def test_a_live_directory_with_other_files_keeps_them(tmp_path: Path) -> None:
    store = store_with_one_version(tmp_path / "etc")
    live = store.live_root / NAME
    (live / "dhparam.pem").write_text("mine\n")
    store.save_version(NAME, *issue(), CA_PEM)
    assert (live / "dhparam.pem").read_text() == "mine\n"
    assert served_versions(live) == {2}


def test_real_exchange_swaps_two_directories(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "one").touch()
    (second / "two").touch()
    links.exchange_paths(first, second)
    assert [p.name for p in first.iterdir()] == ["two"]
    assert [p.name for p in second.iterdir()] == ["one"]
