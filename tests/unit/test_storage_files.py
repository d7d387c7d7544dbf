"""Atomic writes, private files, directories and symlink swaps (certsmith.storage.files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from certsmith.storage import files


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_creates_and_replaces(tmp_path: Path, umask0: None) -> None:
    target = tmp_path / "f.pem"
    files.atomic_write(target, b"one", 0o644)
    assert target.read_bytes() == b"one" and mode(target) == 0o644
    files.atomic_write(target, b"two", 0o640)
    assert target.read_bytes() == b"two" and mode(target) == 0o640
    assert leftovers(tmp_path) == []


def test_atomic_write_failure_keeps_old_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "f.pem"
    files.atomic_write(target, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "injected")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="injected"):
        files.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_private_file_is_0600_under_umask_0(tmp_path: Path, umask0: None) -> None:
    key = tmp_path / "privkey1.pem"
    files.create_private_file(key, b"secret")
    assert mode(key) == 0o600
    assert key.read_bytes() == b"secret"


def test_private_file_is_never_wider_while_written(
    tmp_path: Path, umask0: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_write = os.write

    def spy(fd: int, data: bytes | memoryview) -> int:
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spy)
    files.create_private_file(tmp_path / "k.pem", b"secret")
    assert seen and all(m == 0o600 for m in seen)


def test_private_file_keeps_group_and_mode_of_previous_key(tmp_path: Path, umask0: None) -> None:
    old = tmp_path / "privkey1.pem"
    files.create_private_file(old, b"old")
    old.chmod(0o640)
    new = tmp_path / "privkey2.pem"
    files.create_private_file(new, b"new", previous=old)
    assert mode(new) == 0o640
    assert new.stat().st_gid == old.stat().st_gid
    # Other-write and group bits beyond certbot's mask are never inherited.
    old.chmod(0o666)
    newer = tmp_path / "privkey3.pem"
    files.create_private_file(newer, b"newer", previous=old)
    assert mode(newer) == 0o664


def test_account_key_mode(tmp_path: Path, umask0: None) -> None:
    path = tmp_path / "private_key.json"
    files.create_private_file(path, b"{}", mode=0o400)
    assert mode(path) == 0o400


def test_ensure_dir_makes_0700_parents_and_leaves_existing(tmp_path: Path, umask0: None) -> None:
    target = tmp_path / "a" / "b" / "c"
    files.ensure_dir(target)
    assert all(mode(p) == 0o700 for p in (tmp_path / "a", tmp_path / "a" / "b", target))
    (tmp_path / "a").chmod(0o750)
    files.ensure_dir(target)
    assert mode(tmp_path / "a") == 0o750


@pytest.mark.parametrize("mask", [0o077, 0o277, 0o477, 0o000])
def test_ensure_dir_0700_even_under_strict_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        files.ensure_dir(tmp_path / "a" / "d")  # the default: a private directory
        files.ensure_dir(tmp_path / "pub", 0o755)  # an explicit mode is kept as given
    finally:
        os.umask(old)
    assert mode(tmp_path / "a") == mode(tmp_path / "a" / "d") == 0o700
    assert mode(tmp_path / "pub") == 0o755


def test_replace_symlink_keeps_relative_target(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "live").mkdir()
    (tmp_path / "archive" / "cert1.pem").write_text("1")
    (tmp_path / "archive" / "cert2.pem").write_text("2")
    link = tmp_path / "live" / "cert.pem"
    files.replace_symlink(link, "../archive/cert1.pem")
    assert os.readlink(link) == "../archive/cert1.pem" and link.read_text() == "1"
    files.replace_symlink(link, "../archive/cert2.pem")
    assert os.readlink(link) == "../archive/cert2.pem" and link.read_text() == "2"
    assert leftovers(tmp_path / "live") == []


def test_replace_symlink_failure_keeps_old_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = tmp_path / "cert.pem"
    files.replace_symlink(link, "cert1.pem")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "injected")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="injected"):
        files.replace_symlink(link, "cert2.pem")
    assert os.readlink(link) == "cert1.pem"
    assert leftovers(tmp_path) == []
