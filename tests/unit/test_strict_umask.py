"""Keys are exactly 0600, private directories 0700 and the log file 0600 whatever the umask.

umask 0277 would make a key 0400 and 0477 would leave the owner unable to read it; each test
sets the umask itself and restores it.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.cli.console import LOG_FILE, setup_logging
from certsmith.storage import LineageStore, files

STRICT = pytest.mark.parametrize("mask", [0o277, 0o477, 0o077, 0o022], ids=oct)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask(mask: int) -> Iterator[int]:
    old = os.umask(mask)
    try:
        yield mask
    finally:
        os.umask(old)


@STRICT
def test_private_file_is_exactly_0600(tmp_path: Path, umask: int) -> None:
    key = tmp_path / "privkey1.pem"
    files.create_private_file(key, b"secret")
    assert mode(key) == 0o600
    assert key.read_bytes() == b"secret"


@STRICT
def test_new_private_directories_are_exactly_0700(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "a" / "b"
    files.ensure_dir(target)
    assert mode(tmp_path / "a") == 0o700 and mode(target) == 0o700


@STRICT
def test_saved_lineage_key_and_folders_under_umask(tmp_path: Path, umask: int) -> None:
    key = crypto.generate_private_key()
    cert = crypto.make_self_signed(key, [Identifier.dns("umask.test")])
    store = LineageStore(tmp_path / "etc")
    lineage = store.save_version("umask.test", crypto.private_key_pem(key), cert, b"")
    assert mode(lineage.archive_path("privkey")) == 0o600
    for folder in (store.renewal_dir, store.archive_root, store.live_root):
        assert mode(folder) == 0o700, folder
    assert lineage.private_key_pem() == crypto.private_key_pem(key)  # the owner can read it


@pytest.fixture
def restore_certsmith_logger() -> Iterator[None]:
    logger = logging.getLogger("certsmith")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    try:
        yield
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@STRICT
@pytest.mark.usefixtures("restore_certsmith_logger")
def test_log_file_is_0600_and_its_folder_0700(tmp_path: Path, umask: int) -> None:
    logs = tmp_path / "logs"
    setup_logging(logs, verbose=0, quiet=True)
    logging.getLogger("certsmith.test").warning("hook output with a secret")
    assert mode(logs) == 0o700
    assert mode(logs / LOG_FILE) == 0o600
    assert "secret" in (logs / LOG_FILE).read_text()


@pytest.mark.usefixtures("restore_certsmith_logger")
def test_an_existing_wider_log_file_is_narrowed_to_0600(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o700)
    (logs / LOG_FILE).write_text("old\n")
    (logs / LOG_FILE).chmod(0o644)
    setup_logging(logs, verbose=0, quiet=True)
    logging.getLogger("certsmith.test").warning("new line")
    assert mode(logs / LOG_FILE) == 0o600
