"""Shared fixtures: a real Pebble CA on loopback (see tools/pebble.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from pebble import PebbleCA, find_bin_dir, pebble_version  # noqa: E402

PEBBLE_BIN = find_bin_dir()
PEBBLE_NEW = pebble_version() >= (2, 8)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_pebble = pytest.mark.skip(reason="pebble not installed: run tools/fetch-pebble.sh")
    old_pebble = pytest.mark.skip(reason="needs Pebble >= 2.8 (ARI, profiles); only 2.4 found")
    for item in items:
        if "pebble" in item.keywords and PEBBLE_BIN is None:
            item.add_marker(no_pebble)
        elif "pebble_new" in item.keywords and not PEBBLE_NEW:
            item.add_marker(old_pebble)


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PebbleCA]:
    """One Pebble per test session (per xdist worker), 20 % of nonces rejected."""
    if PEBBLE_BIN is None:
        pytest.skip("pebble not installed: run tools/fetch-pebble.sh")
    ca = PebbleCA(tmp_path_factory.mktemp("pebble"), nonce_reject=20)
    ca.start()
    yield ca
    ca.stop()


@pytest.fixture
def pebble_factory(tmp_path: Path) -> Iterator[Callable[..., PebbleCA]]:
    """Start extra Pebbles with their own settings (EAB, 90 % nonce rejection, other DNS)."""
    started: list[PebbleCA] = []

    def make(**kwargs: Any) -> PebbleCA:
        if PEBBLE_BIN is None:
            pytest.skip("pebble not installed: run tools/fetch-pebble.sh")
        ca = PebbleCA(tmp_path / f"pebble{len(started)}", **kwargs)
        ca.start()
        started.append(ca)
        return ca

    yield make
    for ca in started:
        ca.stop()
