"""The credentials file check: owner, symlinks, special files, size, and no check-then-read gap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from certsmith.challenges.dns01 import read_credentials
from certsmith.errors import UsageError

TEXT = "dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_secret = c2VjcmV0\n"


def private(path: Path, text: str = TEXT) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_symlink_to_a_private_file_is_read(tmp_path: Path) -> None:
    target = private(tmp_path / "real.ini")
    link = tmp_path / "link.ini"
    link.symlink_to(target)
    assert read_credentials(link)["dns_rfc2136_server"] == "127.0.0.1"


def test_symlink_to_a_world_readable_file_is_refused(tmp_path: Path) -> None:
    target = private(tmp_path / "real.ini")
    target.chmod(0o644)
    link = tmp_path / "link.ini"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="group or others"):
        read_credentials(link)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_file_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    path = private(tmp_path / "creds.ini")
    os.chown(path, 65534, -1)
    with pytest.raises(UsageError, match="owned by"):
        read_credentials(path)


def test_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "creds.ini"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(UsageError, match="not a regular file"):
        read_credentials(fifo)


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = private(tmp_path / "creds.ini", "# x\n" * 300_000)
    with pytest.raises(UsageError, match="too large"):
        read_credentials(path)


def test_file_swapped_after_the_check_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is checked is what is read: the check runs on the open descriptor."""
    path = private(tmp_path / "creds.ini")
    loose = tmp_path / "loose.ini"
    loose.write_text("dns_rfc2136_server = 192.0.2.66\n")
    loose.chmod(0o644)
    real_open = os.open

    def open_swapped(file: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(file) == str(path):
            os.replace(loose, path)
        return real_open(file, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", open_swapped)
    with pytest.raises(UsageError, match="group or others"):
        read_credentials(path)


@pytest.mark.parametrize(
    "value",
    [
        "evil\\.example.com",
        "a b.example.com",
        "x.example.com\\000",
        "a..example.com",
        "a/b.com",
        "*.*.example.com",
        "ex\u00e4mple.com",
        "-a.example.com",
        "a" * 64 + ".com",
        ".",
    ],
)
def test_challenge_name_refuses_names_that_are_not_hostnames(value: str) -> None:
    from certsmith.acme.identifier import Identifier
    from certsmith.challenges.dns01.propagation import challenge_name
    from certsmith.errors import SolverError

    with pytest.raises(SolverError, match="not a DNS name"):
        challenge_name(Identifier("dns", value))


def test_challenge_name_of_ordinary_names() -> None:
    from certsmith.acme.identifier import Identifier
    from certsmith.challenges.dns01.propagation import challenge_name

    assert challenge_name(Identifier.dns("*.Example.COM.")) == "_acme-challenge.example.com"
    assert challenge_name(Identifier.dns("xn--fa-hia.de")) == "_acme-challenge.xn--fa-hia.de"
