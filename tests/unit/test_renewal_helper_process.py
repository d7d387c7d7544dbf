"""The check phase split over a forked helper process (renewal/helper_process.py)."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from typing import Any

import pytest
import test_renewal_runner
from test_renewal_runner import World, ari_path

from certsmith.renewal import helper_process
from certsmith.renewal.check import Verdict
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.helper_process import LineageChecker, start_helper
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.runner import Outcome, Renewer, RenewPlan
from certsmith.storage import RenewalStateStore

world = pytest.fixture(test_renewal_runner.world.__wrapped__)  # type: ignore[attr-defined]


def _renewer(w: World) -> Renewer:
    hooks = HookRunner(config_dir=w.config_dir, runner=w.record, base_env={})
    env = RunEnvironment(w.config_dir, transport=w.ca.transport)
    return Renewer(env, RenewPlan(), hooks)


class FakeChecker:
    """A LineageChecker that answers from the names alone and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.closed = False

    async def check(self, names: Sequence[str]) -> list[Verdict]:
        self.asked.extend(names)
        return [Verdict(name, name.endswith("1"), f"checked {name}") for name in names]

    async def close_clients(self) -> None:
        self.closed = True

    def cache_entries(self, names: Sequence[str]) -> dict[str, Any]:
        return {name: {"asked": name in self.asked, "closed": self.closed} for name in names}


def test_the_helper_needs_only_a_lineage_checker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helper_process, "SPLIT_AT", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    checker: LineageChecker = FakeChecker()
    helper = start_helper(checker, ["l0", "l1", "l2", "l3"])
    assert helper is not None and helper.names == ["l1", "l3"]
    answer = asyncio.run(helper.result())
    assert answer is not None
    verdicts, entries = answer
    assert verdicts == [Verdict("l1", True, "checked l1"), Verdict("l3", False, "checked l3")]
    # The forked copy checked, closed its clients, then gave its cache entries for its share.
    assert entries == {name: {"asked": True, "closed": True} for name in ("l1", "l3")}
    assert checker.asked == []  # nothing ran in this process


def test_half_the_lineages_are_checked_by_the_helper(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helper_process, "SPLIT_AT", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    certs = {f"l{i}": world.add_lineage(f"l{i}", f"l{i}.example") for i in range(6)}
    names = sorted(certs)
    renewer = _renewer(world)
    helper = start_helper(renewer, names)
    assert helper is not None and helper.names == ["l1", "l3", "l5"]
    results = asyncio.run(renewer.run(names, {}, helper))
    assert [r.outcome for r in results] == [Outcome.NOT_DUE] * 6
    # The helper asked the CA for its share; this process only for the rest.
    asked_here = {p.split()[1] for p in world.ca.paths() if p.startswith("GET /ari/")}
    assert asked_here == {ari_path(certs[n]) for n in ("l0", "l2", "l4")}
    # Its answers reached the cache through this process, so the next run asks nobody.
    states = RenewalStateStore(world.config_dir)
    store = world.store
    for name in names:
        state = states.load(name, store.revision(name))
        assert state is not None and state.ari is not None, name


def test_a_failed_helper_leaves_its_share_to_this_process(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helper_process, "SPLIT_AT", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr(helper_process, "_helper_main", lambda *args: None)  # sends nothing
    for i in range(4):
        world.add_lineage(f"l{i}", f"l{i}.example")
    renewer = _renewer(world)
    helper = start_helper(renewer, world.store.names())
    assert helper is not None
    results = asyncio.run(renewer.run(world.store.names(), {}, helper))
    assert [r.outcome for r in results] == [Outcome.NOT_DUE] * 4
    assert len([p for p in world.ca.paths() if p.startswith("GET /ari/")]) == 4


def test_no_helper_for_few_lineages_or_one_core(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    renewer = _renewer(world)
    assert start_helper(renewer, [f"l{i}" for i in range(10)]) is None  # under SPLIT_AT
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    many = [f"l{i}" for i in range(helper_process.SPLIT_AT + 1)]
    assert start_helper(renewer, many) is None
    assert datetime.timedelta(seconds=helper_process.HELPER_TIMEOUT) > datetime.timedelta(0)
