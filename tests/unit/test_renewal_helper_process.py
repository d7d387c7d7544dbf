"""The check phase split over a forked helper process (renewal/helper_process.py)."""

from __future__ import annotations

import asyncio
import datetime

import pytest
import test_renewal_runner
from test_renewal_runner import World, ari_path

from certsmith.renewal import helper_process
from certsmith.renewal.account import Registration
from certsmith.renewal.helper_process import start_helper
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.lifecycle import RunEnvironment
from certsmith.renewal.runner import Outcome, Renewer, RenewPlan
from certsmith.renewal.solvers import SolverContext
from certsmith.storage import RenewalStateStore

world = pytest.fixture(test_renewal_runner.world.__wrapped__)  # type: ignore[attr-defined]


def _renewer(w: World) -> Renewer:
    hooks = HookRunner(config_dir=w.config_dir, runner=w.record, base_env={})
    env = RunEnvironment(w.config_dir, transport=w.ca.transport)
    return Renewer(env, RenewPlan(), hooks, Registration(), SolverContext())


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
        state = states.load(name, store.load(name).live_paths["cert"])
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
