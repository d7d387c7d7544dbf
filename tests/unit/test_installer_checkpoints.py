"""The checkpoint store both installers use: originals saved before edits, restored exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from certsmith.errors import UsageError
from certsmith.installers import config_changes, make_installer
from certsmith.installers.checkpoints import Checkpoints, atomic_replace


def _edit(store: Checkpoints, path: Path, data: bytes, note: str = "edit") -> None:
    checkpoint = store.begin("nginx", note)
    checkpoint.save_original(path)
    atomic_replace(path, data)
    checkpoint.commit()


def test_restore_last_puts_back_the_original_bytes_and_mode(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    original = b"server {\r\n  listen 80; # odd line ending kept\r\n}\n\x00\xff"
    site.write_bytes(original)
    site.chmod(0o640)
    store = Checkpoints(tmp_path / "cp")
    _edit(store, site, b"changed")
    assert site.read_bytes() == b"changed"
    assert site.stat().st_mode & 0o777 == 0o640  # the edit kept the mode

    restored = store.restore_last()

    assert [info.note for info in restored] == ["edit"]
    assert site.read_bytes() == original
    assert site.stat().st_mode & 0o777 == 0o640
    assert store.list() == []


def test_restore_removes_files_the_checkpoint_created(tmp_path: Path) -> None:
    created = tmp_path / "snippets" / "new.conf"
    created.parent.mkdir()
    store = Checkpoints(tmp_path / "cp")
    _edit(store, created, b"include x;")
    assert created.exists()

    store.restore_last()

    assert not created.exists()


def test_restore_last_n_undoes_n_checkpoints_newest_first(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    site.write_bytes(b"v0")
    store = Checkpoints(tmp_path / "cp")
    for version in (b"v1", b"v2", b"v3"):
        _edit(store, site, version, note=version.decode())

    restored = store.restore_last(2)

    assert [info.note for info in restored] == ["v3", "v2"]
    assert site.read_bytes() == b"v1"
    assert [info.note for info in store.list()] == ["v1"]


def test_an_interrupted_checkpoint_is_undone_before_the_complete_ones(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    site.write_bytes(b"v0")
    store = Checkpoints(tmp_path / "cp")
    _edit(store, site, b"v1")
    crashed = store.begin("nginx", "crashed mid-edit")  # never committed
    crashed.save_original(site)
    site.write_bytes(b"torn")

    restored = store.restore_last(1)

    assert [info.complete for info in restored] == [False, True]
    assert site.read_bytes() == b"v0"


def test_restore_last_of_one_server_leaves_the_other_servers_checkpoints(tmp_path: Path) -> None:
    nginx_site, apache_site = tmp_path / "n.conf", tmp_path / "a.conf"
    nginx_site.write_bytes(b"n0")
    apache_site.write_bytes(b"a0")
    store = Checkpoints(tmp_path / "cp")
    _edit(store, nginx_site, b"n1")
    checkpoint = store.begin("apache", "a")
    checkpoint.save_original(apache_site)
    atomic_replace(apache_site, b"a1")
    checkpoint.commit()

    store.restore_last(1, server="nginx")

    assert nginx_site.read_bytes() == b"n0"
    assert apache_site.read_bytes() == b"a1"


def test_the_original_is_on_disk_before_the_edit_and_saved_once(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    site.write_bytes(b"first")
    checkpoint = Checkpoints(tmp_path / "cp").begin("nginx", "twice")
    checkpoint.save_original(site)
    site.write_bytes(b"second")
    checkpoint.save_original(site)  # a second save must not overwrite the first original

    index = json.loads((checkpoint.directory / "index.json").read_text())
    assert len(index["files"]) == 1
    assert (checkpoint.directory / index["files"][0]["saved"]).read_bytes() == b"first"
    assert os.stat(checkpoint.directory).st_mode & 0o777 == 0o700


def test_config_changes_describes_every_checkpoint(tmp_path: Path) -> None:
    site = tmp_path / "site.conf"
    site.write_bytes(b"x")
    store = Checkpoints(tmp_path / ".certsmith-checkpoints", clock=lambda: 0.0)
    _edit(store, site, b"y", note="deploy example.com")

    described = config_changes({"config_dir": str(tmp_path)})

    assert described == [
        f"checkpoint 1, 1970-01-01 00:00:00 UTC, nginx: deploy example.com\n  changed {site}"
    ]


def test_make_installer_refuses_an_unknown_server() -> None:
    with pytest.raises(UsageError, match="lighttpd"):
        make_installer("lighttpd", {})
