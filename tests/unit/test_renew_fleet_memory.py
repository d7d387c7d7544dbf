"""What `renew` keeps per lineage stays small (issue 12: peak RSS under 300 MB at 100,000):
a reason is a shared constant or a str without a dict of its own, an index line holds the
report columns once, and the helper process answers a chunk of lineages at a time."""

from __future__ import annotations

import asyncio
import datetime
import gc
import json
import pickle
import random
from collections.abc import Sequence
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_renewal_helper_process import FakeChecker

from certsmith.preflight.messages import Catalogue
from certsmith.renewal import helper_process
from certsmith.renewal.check import Verdict
from certsmith.renewal.helper_process import HelperCheck, start_helper
from certsmith.renewal.policy import decide
from certsmith.storage.renewal_state import QuickEntry, RenewalState, RenewalStateStore
from certsmith.wording import Said, SaidTail

NOT_BEFORE = datetime.datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = NOT_BEFORE + timedelta(days=90)
EARLY = NOT_BEFORE + timedelta(days=10)
WINDOW = (NOT_BEFORE + timedelta(days=60), NOT_BEFORE + timedelta(days=62))


def _has_own_dict(obj: object) -> bool:
    # gc.get_referents does not create the instance dict (reading __dict__ would).
    return any(isinstance(ref, dict) for ref in gc.get_referents(obj))


def test_a_reason_without_a_value_is_one_shared_object() -> None:
    rng = random.Random(1)
    first = decide(NOT_BEFORE, NOT_AFTER, EARLY, rng=rng).reason
    second = decide(NOT_BEFORE, NOT_AFTER, EARLY + timedelta(days=1), rng=rng).reason
    assert first is second  # not one Said (~0.6 kB) per lineage
    assert first == "not yet due: renews when a third of the lifetime remains"
    passed = decide(NOT_BEFORE, NOT_AFTER, EARLY, ari_window=(EARLY, EARLY), rng=rng).reason
    expired = decide(NOT_BEFORE, NOT_AFTER, NOT_AFTER, rng=rng).reason
    assert expired is decide(NOT_BEFORE, NOT_AFTER, NOT_AFTER, rng=rng).reason
    assert isinstance(passed, Said) and isinstance(expired, Said)


@pytest.mark.parametrize(
    ("reason", "key", "values"),
    [
        (
            decide(NOT_BEFORE, NOT_AFTER, EARLY, ari_window=WINDOW, rng=random.Random(1)).reason,
            "renewal.reason.ari.wait",
            "at",
        ),
        (
            decide(
                NOT_BEFORE,
                NOT_AFTER,
                EARLY,
                renew_before_expiry=timedelta(days=30),
                rng=random.Random(1),
            ).reason,
            "renewal.reason.before_expiry.wait",
            "value",
        ),
    ],
    ids=["ari-wait", "before-expiry-wait"],
)
def test_a_reason_with_a_value_holds_no_dict_and_still_words_in_any_language(
    reason: str, key: str, values: str
) -> None:
    assert isinstance(reason, SaidTail) and reason.key == key
    assert not _has_own_dict(reason)
    plain = Said(str(reason), key, **reason.values)
    assert _has_own_dict(plain)  # what it replaces: a dict per lineage
    assert Catalogue("en").words(reason) == str(reason)
    assert Catalogue("ko").words(reason) == Catalogue("ko").words(plain) != str(reason)
    back = pickle.loads(pickle.dumps(reason))  # the helper process sends verdicts this way
    assert type(back) is type(reason) and back == reason and back.values == reason.values
    assert not _has_own_dict(back)
    assert str(reason).endswith(reason.values[values])


def test_an_index_line_holds_the_report_columns_once_and_load_returns_them(
    tmp_path: Path,
) -> None:
    fullchain = "/etc/letsencrypt/live/a.example/fullchain.pem"
    quick = QuickEntry("1:2:3", "/l/cert.pem", "4:5:6", 1e9, 2e9, fullchain, 3e9)
    state = RenewalState("4:5:6", NOT_BEFORE, NOT_AFTER, 17, "id", quick=quick)
    writer = RenewalStateStore(tmp_path)
    writer.save("a.example", state)
    writer.flush()
    line = writer.path.read_text(encoding="utf-8").splitlines()[1]
    assert line.count(fullchain) == 1
    assert json.loads(line.rpartition("\t")[2])["quick"] == [
        "1:2:3",
        "/l/cert.pem",
        "4:5:6",
        1e9,
        2e9,
    ]
    reader = RenewalStateStore(tmp_path)
    assert reader.load("a.example", "4:5:6") == state
    assert reader.quick("a.example") == quick


class ChunkedChecker(FakeChecker):
    """Says in each verdict how many names its ``check`` call was given."""

    async def check(self, names: Sequence[str]) -> list[Verdict]:
        return [Verdict(n, False, f"{n} of {len(names)}") for n in names]


def test_the_helper_checks_and_answers_a_chunk_of_lineages_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(helper_process, "SPLIT_AT", 2)
    monkeypatch.setattr(helper_process, "CHUNK", 2)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    messages: list[Any] = []
    receive = HelperCheck._receive

    async def recording(self: HelperCheck, timeout: float) -> Any:
        raw = await receive(self, timeout)
        messages.append(raw)
        return raw

    monkeypatch.setattr(HelperCheck, "_receive", recording)
    names = [f"l{i}" for i in range(10)]
    helper = start_helper(ChunkedChecker(), names)
    assert helper is not None and helper.names == ["l1", "l3", "l5", "l7", "l9"]

    async def both_phases() -> Any:
        checked = await helper.result()
        assert await helper.ask(["l0", "l2", "l4", "l6"], 30.0, 2)
        return checked, await helper.asked(30.0)

    checked, asked = asyncio.run(both_phases())
    assert checked is not None and asked is not None
    verdicts, entries = checked
    assert [v.reason for v in verdicts] == ["l1 of 2", "l3 of 2", "l5 of 2", "l7 of 2", "l9 of 1"]
    assert sorted(entries) == helper.names
    round_, ask_entries = asked
    assert sorted(round_.verdicts) == ["l0", "l2", "l4"] == sorted(ask_entries)
    # 3 parts and an end for the check, 2 parts and an end for the answers: no message holds
    # more than CHUNK lineages.
    parts = [len(m[1]) for m in messages if m[0] == "part"]
    assert parts == [2, 2, 1, 2, 1]
    assert [m for m in messages if m[0] == "end"] == [("end", 0, 0), ("end", 3, 1)]
