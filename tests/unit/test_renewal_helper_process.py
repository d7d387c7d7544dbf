"""The check phase, and then the ARI phase, split over a forked helper process
(renewal/helper_process.py)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from typing import Any

import pytest
import test_renewal_runner
from test_renewal_runner import World, ari_path

from certsmith.renewal import helper_process
from certsmith.renewal.ari_schedule import AriRound
from certsmith.renewal.check import Verdict
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.helper_process import LineageChecker, start_helper
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.runner import Outcome, Renewer, RenewPlan
from certsmith.storage import LineageStore, RenewalStateStore

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
        self.bound = 0

    async def check(self, names: Sequence[str]) -> list[Verdict]:
        self.asked.extend(names)
        return [Verdict(name, name.endswith("1"), f"checked {name}") for name in names]

    async def close_clients(self) -> None:
        self.closed = True

    def cache_entries(self, names: Sequence[str]) -> dict[str, Any]:
        return {name: {"asked": name in self.asked, "bound": self.bound} for name in names}

    def read_only(self) -> None:
        pass

    async def ask(self, names: Sequence[str], deadline: float, ari_concurrency: int) -> AriRound:
        self.bound = ari_concurrency
        found = {name: Verdict(name, False, f"CA asked for {name}") for name in names[:-1]}
        return AriRound(found, len(found), 1)  # the last one left for the next run


def test_the_helper_needs_only_a_lineage_checker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helper_process, "SPLIT_AT", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    checker: LineageChecker = FakeChecker()
    helper = start_helper(checker, ["l0", "l1", "l2", "l3"])
    assert helper is not None and helper.names == ["l1", "l3"]

    async def both_phases() -> Any:
        checked = await helper.result()
        assert await helper.ask(["l0", "l3", "l9"], 30.0, 2)
        return checked, await helper.asked(30.0)

    answer, asked = asyncio.run(both_phases())
    assert answer is not None
    verdicts, entries = answer
    assert verdicts == [Verdict("l1", True, "checked l1"), Verdict("l3", False, "checked l3")]
    # The forked copy checked, then gave its cache entries for its share.
    assert entries == {name: {"asked": True, "bound": 0} for name in ("l1", "l3")}
    assert checker.asked == []  # nothing ran in this process
    # Then it asked what it was handed, under the bound it was given, and ended.
    assert asked is not None
    found, ask_entries = asked
    assert (found.asked, found.deferred) == (2, 1)
    assert found.verdicts == {n: Verdict(n, False, f"CA asked for {n}") for n in ("l0", "l3")}
    assert ask_entries == {"l0": {"asked": False, "bound": 2}, "l3": {"asked": True, "bound": 2}}
    assert helper.ended and not helper.process.is_alive()


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
    # The helper parsed its share, then asked the CA for half of those chosen (its fake CA is
    # a copy: this process's sees only its own half).
    asked_here = [p.split()[1] for p in world.ca.paths() if p.startswith("GET /ari/")]
    assert len(asked_here) == 3 and set(asked_here) <= {ari_path(c) for c in certs.values()}
    assert (renewer.ari_asked, renewer.ari_deferred) == (6, 0)
    assert not helper.process.is_alive()
    assert renewer.engine.due.ari_concurrency == 4  # its full bound again for the renewals
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


def test_a_helper_dying_while_it_asks_leaves_its_half_to_this_process(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helper_process, "SPLIT_AT", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)

    async def dying(*args: Any) -> AriRound:
        os._exit(3)  # only the helper asks through this

    monkeypatch.setattr(Renewer, "ask", dying)
    certs = {f"l{i}": world.add_lineage(f"l{i}", f"l{i}.example") for i in range(4)}
    renewer = _renewer(world)
    helper = start_helper(renewer, sorted(certs))
    assert helper is not None
    results = asyncio.run(renewer.run(sorted(certs), {}, helper))
    assert [r.outcome for r in results] == [Outcome.NOT_DUE] * 4
    assert helper.process.exitcode == 3
    asked_here = [p.split()[1] for p in world.ca.paths() if p.startswith("GET /ari/")]
    assert sorted(asked_here) == sorted(ari_path(c) for c in certs.values())
    assert (renewer.ari_asked, renewer.ari_deferred) == (4, 0)


def test_no_helper_for_few_lineages_or_one_core(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    renewer = _renewer(world)
    assert start_helper(renewer, [f"l{i}" for i in range(10)]) is None  # under SPLIT_AT
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    many = [f"l{i}" for i in range(helper_process.SPLIT_AT + 1)]
    assert start_helper(renewer, many) is None


def test_a_helper_that_never_answers_is_given_up_at_its_timeout(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helper_process, "SPLIT_AT", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr(helper_process, "HELPER_TIMEOUT", 0.5)
    monkeypatch.setattr(helper_process, "_helper_main", lambda *args: time.sleep(60))
    for i in range(4):
        world.add_lineage(f"l{i}", f"l{i}.example")
    renewer = _renewer(world)
    helper = start_helper(renewer, world.store.names())
    assert helper is not None
    began = time.monotonic()
    results = asyncio.run(renewer.run(world.store.names(), {}, helper))
    assert time.monotonic() - began < 10  # 0.5 s of waiting, 5 s for join, then killed
    assert not helper.process.is_alive()
    assert [r.outcome for r in results] == [Outcome.NOT_DUE] * 4
    assert len([p for p in world.ca.paths() if p.startswith("GET /ari/")]) == 4


def test_the_helper_heals_nothing_and_this_process_heals_its_share(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helper_process, "SPLIT_AT", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    healed = world.config_dir / "healed-by"
    real_heal = LineageStore.heal

    def recording_heal(self: LineageStore, name: str) -> int:
        with healed.open("a") as out:
            out.write(f"{os.getpid()} {name}\n")
        return real_heal(self, name)

    monkeypatch.setattr(LineageStore, "update_interrupted", lambda self, name, conf: True)
    monkeypatch.setattr(LineageStore, "heal", recording_heal)
    for i in range(4):
        world.add_lineage(f"l{i}", f"l{i}.example")
    renewer = _renewer(world)
    helper = start_helper(renewer, world.store.names())
    assert helper is not None and helper.names == ["l1", "l3"]
    results = asyncio.run(renewer.run(world.store.names(), {}, helper))
    assert [r.outcome for r in results] == [Outcome.NOT_DUE] * 4
    lines = healed.read_text().split("\n")[:-1]
    assert sorted(lines) == [f"{os.getpid()} l{i}" for i in range(4)]  # all here, none there
