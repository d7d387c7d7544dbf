"""`renew` over a large fleet: the quick index (two stats for an unchanged lineage), healing
despite it, and the ARI schedule (urgency order, per-run limit, workers, deadline)."""

from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from test_renewal_runner import World, ari_path

from certsmith import crypto
from certsmith.cli.renew_summary import RenewSummary
from certsmith.renewal import ari_schedule
from certsmith.renewal.check import DAY, UNCHANGED, Verdict, ari_urgency, quick_verdict
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.runner import Outcome, Renewer, RenewPlan
from certsmith.storage import renewal_conf
from certsmith.storage.archive import BUSY_MARKER
from certsmith.storage.filesystem import file_stores

world = pytest.fixture(__import__("test_renewal_runner").world.__wrapped__)

NOW = datetime.datetime.now(datetime.UTC)


def count_parses(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"conf": 0, "cert": 0}
    parse, load = renewal_conf.RenewalConf.parse, crypto.load_certificates

    def counting_parse(text: str) -> Any:
        counts["conf"] += 1
        return parse(text)

    def counting_load(data: bytes) -> Any:
        counts["cert"] += 1
        return load(data)

    monkeypatch.setattr(renewal_conf.RenewalConf, "parse", staticmethod(counting_parse))
    monkeypatch.setattr(crypto, "load_certificates", counting_load)
    return counts


def quick_all(world: World) -> list[Verdict]:
    stores = file_stores(world.config_dir)
    return [quick_verdict(stores, n, NOW) for n in stores.lineages.names()]


async def test_an_unchanged_lineage_is_decided_from_the_index_without_any_parse(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        world.add_lineage(f"l{i}", f"l{i}.example")
    await world.renew()  # the first run indexes them (and asks ARI)
    counts = count_parses(monkeypatch)
    verdicts = quick_all(world)
    assert [v.due for v in verdicts] == [False] * 3
    assert [v.ask_ca for v in verdicts] == [None] * 3  # fresh answers: the CA is not asked
    assert counts == {"conf": 0, "cert": 0}


async def test_a_changed_conf_is_looked_at_in_full(world: World) -> None:
    world.add_lineage("a", "a.example")
    await world.renew()
    store = world.store
    conf = store.read_conf("a")
    conf.root.set("renew_before_expiry", "85 days")
    with store.lock("a"):
        store.write_conf("a", conf)
    (verdict,) = quick_all(world)
    assert verdict.due is not False  # not the index's "not due"
    results = await world.renew()
    assert results["a"].outcome is Outcome.RENEWED


async def test_a_new_certificate_is_looked_at_in_full(world: World) -> None:
    world.add_lineage("a", "a.example")
    await world.renew()
    entry = file_stores(world.config_dir).states.quick("a")
    assert entry is not None
    world.add_lineage("a", "a.example", age=datetime.timedelta(days=80))  # version 2, old cert
    (verdict,) = quick_all(world)
    assert verdict.due is None and verdict.reason != UNCHANGED  # the engine parses it
    results = await world.renew()
    assert results["a"].reason != UNCHANGED
    again = file_stores(world.config_dir).states.quick("a")
    assert again is not None and again.revision != entry.revision  # indexed anew


async def test_a_save_interrupted_before_the_switch_is_healed_by_the_next_renew(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_lineage("a", "a.example")
    await world.renew()
    archive = world.config_dir / "archive" / "a"

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("killed while writing")

    key = ec.generate_private_key(ec.SECP256R1())
    pem = world.ca.issuer.leaf_for(key, ["a.example"]).encode()
    monkeypatch.setattr("certsmith.storage.lineage.atomic_write", crash)
    with pytest.raises(OSError), world.store.lock("a"):
        world.store.save_version(
            "a", crypto.private_key_pem(key), pem, world.ca.issuer.chain_a.encode()
        )
    monkeypatch.undo()
    assert (archive / BUSY_MARKER).exists()  # live/ untouched: the cert revision is the same
    (verdict,) = quick_all(world)
    assert verdict.heal
    await world.renew()
    assert not (archive / BUSY_MARKER).exists()
    (verdict,) = quick_all(world)
    assert verdict.due is False and verdict.reason.startswith("not yet due (unchanged")


def test_urgency_puts_the_closest_to_due_first_then_the_oldest_answer() -> None:
    now = NOW.timestamp()
    ask = {
        "far": (now + 30 * DAY, now - 3600),
        "near-recent": (now + 2 * DAY, now - 60),
        "near-old": (now + 2 * DAY + 100, now - 7200),
        "stale-far": (now + 40 * DAY, now - 8 * DAY),  # answer older than a week: urgent
        "due": (now - 10, 0.0),
    }
    verdicts = [Verdict(n, False, "", ask_ca=a) for n, a in ask.items()]
    verdicts.append(Verdict("fresh", False, ""))  # its answer is fresh: never a candidate
    chosen, waiting = ari_schedule.choose(verdicts, 4, now)
    assert chosen == ["due", "stale-far", "near-old", "near-recent"]
    assert waiting == 1  # "far" is carried to the next run
    assert ari_urgency(ask["far"], now) > ari_urgency(ask["near-old"], now)


async def test_ask_chosen_keeps_to_its_workers_and_stops_starting_at_the_deadline() -> None:
    clock = [0.0]
    in_flight, most = 0, 0

    async def ask(name: str) -> Verdict:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.001)
        clock[0] += 1.0  # each answer takes a second of the fake clock
        in_flight -= 1
        return Verdict(name, False, "asked")

    names = [f"l{i}" for i in range(40)]
    done = await ari_schedule.ask_chosen(
        names, ask, deadline=10.0, workers=3, monotonic=lambda: clock[0]
    )
    assert most == 3
    assert 10 <= done.asked <= 12  # none started after 10 s (3 were in flight at most)
    assert done.deferred == 40 - done.asked
    assert set(done.verdicts) == set(names[: done.asked])  # in the order given


async def test_the_fetch_limit_defers_the_rest_and_says_how_many(world: World) -> None:
    certs = {f"l{i}": world.add_lineage(f"l{i}", f"l{i}.example") for i in range(3)}
    env = RunEnvironment(world.config_dir, transport=world.ca.transport)
    hooks = HookRunner(config_dir=world.config_dir, runner=world.record, base_env={})
    renewer = Renewer(env, RenewPlan(ari_fetch_limit=1), hooks)
    results = await renewer.run(sorted(certs))
    assert [r.outcome for r in results] == [Outcome.NOT_DUE] * 3
    asked = [p for p in world.ca.paths() if p.startswith("GET /ari/")]
    assert len(asked) == 1 and renewer.ari_asked == 1 and renewer.ari_deferred == 2
    summary = RenewSummary(checked=3, not_due=3, ari_asked=1, ari_deferred=2)
    data = json.loads(summary.to_json(0.25))
    assert data == {
        "schema": 1, "checked": 3, "due": 0, "renewed": 0, "not_due": 3, "failed": 0,
        "locked": 0, "ari_asked": 1, "ari_deferred": 2, "seconds": 0.25,
    }  # fmt: skip
    # The next run asks the deferred ones, not the one answered.
    await Renewer(env, RenewPlan(ari_fetch_limit=5), hooks).run(sorted(certs))
    asked = [p.split()[1] for p in world.ca.paths() if p.startswith("GET /ari/")]
    assert sorted(asked) == sorted(ari_path(c) for c in certs.values())


def test_a_torn_index_costs_a_slow_run_not_a_wrong_answer(world: World, tmp_path: Path) -> None:
    world.add_lineage("a", "a.example")
    asyncio.run(world.renew())
    index = world.config_dir / ".certsmith-state" / "renewal-index.tsv"
    text = index.read_text()
    index.write_text(text[: len(text) // 2])  # cut in the middle of the entry
    (verdict,) = quick_all(world)
    assert verdict.due is None  # looked at in full, not decided from half an entry
