"""A hostile or damaged renewal conf must not make certsmith write or delete outside config_dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.errors import LineageCorrupt
from certsmith.storage import ALL_FOUR, LineageStore

CA_KEY = crypto.generate_private_key()
CA_PEM = crypto.make_self_signed(CA_KEY, [], issuer_cn="Test CA")


def issue(name: str) -> tuple[bytes, bytes]:
    key = crypto.generate_private_key()
    cert = crypto.make_self_signed(key, [Identifier.dns(name)], signer=CA_KEY, issuer_cn="Test CA")
    return crypto.private_key_pem(key), cert


@pytest.fixture
def store(tmp_path: Path) -> LineageStore:
    return LineageStore(tmp_path / "etc")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside config_dir holding a file that must survive."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    return victim


def rewrite_conf(store: LineageStore, name: str, **values: str) -> None:
    path = store.conf_path(name)
    lines = []
    for line in path.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        lines.append(f"{key} = {values[key]}" if key in values else line)
    path.write_text("\n".join(lines) + "\n")


def test_delete_never_removes_an_archive_dir_outside_config_dir(
    store: LineageStore, outside: Path
) -> None:
    key, cert = issue("d.test")
    store.save_version("d.test", key, cert, CA_PEM)
    rewrite_conf(store, "d.test", archive_dir=str(outside))
    store.delete("d.test")
    assert (outside / "precious").read_text() == "keep me"
    assert not store.conf_path("d.test").exists()
    # The lineage's own folders in the default place are still cleaned up.
    assert not (store.archive_root / "d.test").exists()
    assert not (store.live_root / "d.test").exists()


def test_delete_refuses_archive_root_itself(store: LineageStore) -> None:
    for name in ("a.test", "b.test"):
        key, cert = issue(name)
        store.save_version(name, key, cert, CA_PEM)
    rewrite_conf(store, "a.test", archive_dir=str(store.archive_root))
    store.delete("a.test")
    assert (store.archive_root / "b.test" / "cert1.pem").exists()
    assert store.load("b.test").deployed_version == 1


def test_delete_never_unlinks_live_paths_outside_config_dir(
    store: LineageStore, outside: Path
) -> None:
    key, cert = issue("d.test")
    store.save_version("d.test", key, cert, CA_PEM)
    rewrite_conf(store, "d.test", cert=str(outside / "precious"))
    store.delete("d.test")
    assert (outside / "precious").read_text() == "keep me"


def test_delete_through_a_symlinked_lineage_dir_stays_inside(
    store: LineageStore, outside: Path
) -> None:
    key, cert = issue("d.test")
    store.save_version("d.test", key, cert, CA_PEM)
    (outside / "cert.pem").write_text("keep me too")
    live = store.live_root / "d.test"
    for kind in ALL_FOUR:
        (live / f"{kind}.pem").unlink()
    (live / "README").unlink()
    live.rmdir()
    live.symlink_to(outside)
    store.delete("d.test")
    assert (outside / "cert.pem").read_text() == "keep me too"


@pytest.mark.parametrize(
    "values",
    [
        {"archive_dir": "/etc"},
        {"archive_dir": "ARCHIVE/../../outside"},
        {"cert": "LIVE/../../../outside/cert.pem"},
        {"privkey": "/tmp/privkey.pem"},
        {"chain": "LIVE/chain.pem"},  # directly in live/, not in a lineage folder
    ],
)
def test_load_refuses_a_conf_pointing_outside(
    store: LineageStore, values: dict[str, str], tmp_path: Path
) -> None:
    key, cert = issue("x.test")
    store.save_version("x.test", key, cert, CA_PEM)
    resolved = {
        k: v.replace("ARCHIVE", str(store.archive_root / "x.test")).replace(
            "LIVE", str(store.live_root / "x.test") if k != "chain" else str(store.live_root)
        )
        for k, v in values.items()
    }
    rewrite_conf(store, "x.test", **resolved)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(LineageCorrupt, match="outside"):
        store.load("x.test")
    with pytest.raises(LineageCorrupt, match="outside"):
        store.heal("x.test")
    key2, cert2 = issue("x.test")
    with pytest.raises(LineageCorrupt, match="outside"):
        store.save_version("x.test", key2, cert2, CA_PEM)
    assert sorted(os.listdir(tmp_path)) == before


def test_heal_does_not_replace_a_file_outside_with_a_link(
    store: LineageStore, outside: Path
) -> None:
    key, cert = issue("h.test")
    store.save_version("h.test", key, cert, CA_PEM)
    rewrite_conf(store, "h.test", fullchain=str(outside / "precious"))
    with pytest.raises(LineageCorrupt):
        store.heal("h.test")
    assert not (outside / "precious").is_symlink()
    assert (outside / "precious").read_text() == "keep me"


def test_conf_through_a_symlinked_config_dir_still_loads(tmp_path: Path) -> None:
    real = LineageStore(tmp_path / "real")
    key, cert = issue("s.test")
    real.save_version("s.test", key, cert, CA_PEM)
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    alias = LineageStore(tmp_path / "alias")
    assert alias.load("s.test").deployed_version == 1


def test_delete_of_symlinked_folders_removes_only_the_links(
    store: LineageStore, outside: Path
) -> None:
    key, cert = issue("d.test")
    store.save_version("d.test", key, cert, CA_PEM)
    archive = store.archive_root / "d.test"
    for entry in archive.iterdir():
        entry.unlink()
    archive.rmdir()
    archive.symlink_to(outside)
    store.delete("d.test")
    assert (outside / "precious").read_text() == "keep me"
    assert not os.path.lexists(archive)
    assert store.available_name("d.test") == "d.test"


def test_delete_leaves_another_lineages_folders_alone(store: LineageStore) -> None:
    for name in ("a.test", "b.test"):
        key, cert = issue(name)
        store.save_version(name, key, cert, CA_PEM)
    rewrite_conf(
        store,
        "a.test",
        archive_dir=str(store.archive_root / "b.test"),
        **{k: str(store.live_root / "b.test" / f"{k}.pem") for k in ALL_FOUR},
    )
    store.delete("a.test")
    assert store.load("b.test").deployed_version == 1
    assert not (store.archive_root / "a.test").exists()
