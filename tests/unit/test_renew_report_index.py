"""`renew`'s certbot block ("FULLCHAIN expires on DATE (skipped)") comes from the quick index:
the index stores each lineage's fullchain path and notAfter, so a text run over a fleet none due
reads no conf and no certificate. An index written before those columns is still read, and the
next run completes it."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

import pytest
from test_renew_certbot_report import _add_lineage, _block, _renew
from test_renewal_fleet import count_parses

from certsmith.renewal.check import quick_verdict
from certsmith.storage.filesystem import file_stores
from certsmith.storage.renewal_state import QuickEntry, RenewalState, RenewalStateStore

pytestmark = pytest.mark.usefixtures("cli_main")
SUMMARY = "{n} renewed, {n2} not due, 0 failed, 0 skipped (locked)\n"


def index_path(config_dir: Path) -> Path:
    return config_dir / ".certsmith-state" / "renewal-index.tsv"


def to_older_index(config_dir: Path) -> None:
    """Rewrite the index as a version before the report columns wrote it: five quick columns,
    then the JSON, whose ``quick`` list has five items."""
    path = index_path(config_dir)
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    older = [header]
    for line in lines:
        cols = line.split("\t")
        assert len(cols) == 9  # name, 7 quick columns, JSON
        entry = json.loads(cols[8])
        entry["quick"] = entry["quick"][:5]
        older.append("\t".join([*cols[:6], json.dumps(entry, separators=(",", ":"))]))
    path.write_text("\n".join(older) + "\n", encoding="utf-8")


count_reads = count_parses  # conf parses and certificate loads, counted


def test_a_current_index_prints_the_block_without_reading_a_conf_or_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    first = _add_lineage(tmp_path / "c", "a.example", age_days=1)
    second = _add_lineage(tmp_path / "c", "b.example", age_days=3)
    _renew(tmp_path, capsys)  # the first run indexes both
    counts = count_reads(monkeypatch)
    code, out = _renew(tmp_path, capsys)
    assert code == 0
    head, *lines = _block(tmp_path, "a.example", first).splitlines(keepends=True)
    b_line = _block(tmp_path, "b.example", second).splitlines(keepends=True)[2]
    expected = "".join([head, lines[0], lines[1], b_line, lines[2]])
    assert out == expected + SUMMARY.format(n=0, n2=2)
    assert counts == {"conf": 0, "cert": 0}


def test_an_older_index_is_read_and_completed_by_the_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    expires = _add_lineage(tmp_path / "c", "a.example", age_days=1)
    _renew(tmp_path, capsys)
    to_older_index(tmp_path / "c")
    entry = file_stores(tmp_path / "c").states.quick("a.example")
    assert entry is not None and entry.fullchain is None and entry.not_after is None
    expected = _block(tmp_path, "a.example", expires) + SUMMARY.format(n=0, n2=1)
    counts = count_reads(monkeypatch)
    assert _renew(tmp_path, capsys) == (0, expected)
    assert counts == {"conf": 1, "cert": 0}  # the conf once, to complete the entry
    completed = file_stores(tmp_path / "c").states.quick("a.example")
    fullchain = tmp_path / "c" / "live" / "a.example" / "fullchain.pem"
    assert completed is not None and completed.fullchain == str(fullchain)
    assert completed.not_after == expires.timestamp()
    assert _renew(tmp_path, capsys) == (0, expected)
    assert counts == {"conf": 1, "cert": 0}  # and then nothing


def test_an_older_entry_is_not_decided_by_the_index_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_lineage(tmp_path / "c", "a.example", age_days=1)
    _renew(tmp_path, capsys)
    to_older_index(tmp_path / "c")
    counts = count_reads(monkeypatch)
    stores = file_stores(tmp_path / "c")
    verdict = quick_verdict(stores, "a.example", datetime.datetime.now(datetime.UTC))
    assert verdict.due is False
    assert counts["conf"] == 1  # looked at through its conf, not from the index
    entry = stores.states.quick("a.example")
    assert entry is not None and entry.not_after is not None


def test_report_columns_with_a_tab_in_the_path_survive_the_file(tmp_path: Path) -> None:
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    end = start + datetime.timedelta(days=90)
    quick = QuickEntry("1:2:3", "/l/cert.pem", "4:5:6", 1e9, math.inf, "/l/a\tb\\c.pem", 2e9)
    state = RenewalState("4:5:6", start, end, 17, None, quick=quick)
    writer = RenewalStateStore(tmp_path)
    writer.save("a.example", state)
    writer.flush()
    reader = RenewalStateStore(tmp_path)
    assert reader.quick("a.example") == quick
    assert reader.load("a.example", "4:5:6") == state


def test_an_older_index_line_is_still_read(tmp_path: Path) -> None:
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    end = start + datetime.timedelta(days=90)
    quick = QuickEntry("1:2:3", "/l/cert.pem", "4:5:6", 1e9, 2e9, "/l/fullchain.pem", 3e9)
    writer = RenewalStateStore(tmp_path)
    writer.save("a.example", RenewalState("4:5:6", start, end, 17, "id", quick=quick))
    writer.flush()
    to_older_index(tmp_path)
    reader = RenewalStateStore(tmp_path)
    assert reader.quick("a.example") == QuickEntry("1:2:3", "/l/cert.pem", "4:5:6", 1e9, 2e9)
    state = reader.load("a.example", "4:5:6")
    assert state is not None and state.not_after == end and state.cert_id == "id"
