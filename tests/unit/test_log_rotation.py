"""The log file's rotation: 5 MB, 10 old files by default; certbot's --max-log-backups N keeps N,
and 0 never rotates (certbot's snap writes ``max-log-backups = 0`` in its cli.ini)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from certsmith.cli import console
from certsmith.cli.console import LOG_FILE, setup_logging


@pytest.fixture(autouse=True)
def _close_the_log() -> Iterator[None]:
    yield
    root = logging.getLogger("certsmith")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def _fill(logs: Path, monkeypatch: pytest.MonkeyPatch, backups: int | None) -> list[str]:
    monkeypatch.setattr(console, "LOG_ROTATE_BYTES", 1_000)
    setup_logging(logs, verbose=0, quiet=False, backups=backups)
    log = logging.getLogger("certsmith.test")
    for i in range(150):
        log.warning("line %d %s", i, "x" * 100)  # warnings are written at once
    return sorted(p.name for p in logs.iterdir())


def test_by_default_the_log_rotates_keeping_ten_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _fill(tmp_path, monkeypatch, None)
    assert names == sorted([LOG_FILE, *(f"{LOG_FILE}.{i}" for i in range(1, 11))])


def test_max_log_backups_keeps_that_many_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _fill(tmp_path, monkeypatch, 2) == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"]


def test_max_log_backups_zero_never_rotates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _fill(tmp_path, monkeypatch, 0) == [LOG_FILE]
    assert (tmp_path / LOG_FILE).read_text().count("\n") == 150
