"""Fixtures shared by the unit tests."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def umask0() -> Iterator[None]:
    """Run the test with umask 0, so file modes are exactly what the code asked for."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """English messages whatever the developer's locale (for tests that read the wording).

    Modules opt in with ``pytestmark = pytest.mark.usefixtures("english")``."""
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture
def cli_main(english: None) -> Iterator[None]:
    """For tests that call ``certsmith.cli.main.main`` in-process: English messages, and the
    log file that main() opened closed afterwards.

    Modules opt in with ``pytestmark = pytest.mark.usefixtures("cli_main")``."""
    yield
    root = logging.getLogger("certsmith")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
