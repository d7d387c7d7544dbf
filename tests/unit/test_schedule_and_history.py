"""`certsmith schedule` in a temporary root (fake systemctl) and the bounded run history."""

from __future__ import annotations

import datetime
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from certsmith.cli.cmd_schedule import schedule
from certsmith.cli.console import Console
from certsmith.cli.monitor_args import ScheduleOptions, monitor_verb, parse_endpoint, parse_monitor
from certsmith.cli.option_types import CommonOptions
from certsmith.cli.output import CertificatePaths, CertificateSummary, render_certificates_text
from certsmith.errors import UsageError
from certsmith.monitor import schedule as sched
from certsmith.preflight.messages import Catalogue
from certsmith.storage.history import (
    HistoryFile,
    MemoryHistory,
    Problem,
    RunRecord,
    last_result_per_lineage,
)

T0 = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
CRON_FIELDS = re.compile(r"^(\S+) (\S+) (\S+) (\S+) (\S+) root (/\S+ renew -q.*)$")


def fake_root(tmp_path: Path, systemd: bool, enabled: str = "") -> sched.SystemPaths:
    """A unit dir, cron dir, marker and a systemctl that logs its calls and answers
    ``is-enabled`` with "enabled" for the unit named by ``enabled``."""
    (tmp_path / "run").mkdir(parents=True)
    if systemd:
        (tmp_path / "run" / "systemd").mkdir()
    script = tmp_path / "systemctl"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/calls\n'
        f'if [ "$1" = is-enabled ] && [ "$2" = "{enabled}" ]; then echo enabled; exit 0; fi\n'
        'if [ "$1" = is-enabled ]; then echo disabled; exit 1; fi\n'
        'if [ "$1" = is-active ]; then echo inactive; exit 3; fi\n'
        'if [ "$1" = show ]; then echo "Mon 2026-03-02 00:31:07 UTC"; fi\n'
    )
    script.chmod(0o755)
    return sched.SystemPaths(
        unit_dir=tmp_path / "units",
        cron_dir=tmp_path / "cron.d",
        systemd_marker=tmp_path / "run" / "systemd",
        systemctl=(str(script),),
    )


def options(tmp_path: Path, action: str, dry_run: bool = False) -> ScheduleOptions:
    common = CommonOptions(tmp_path / "cfg", tmp_path / "work", tmp_path / "logs")
    return ScheduleOptions(common, action, dry_run)


def console() -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(out=out, err=err, catalogue=Catalogue("en")), out, err


def test_dry_run_prints_units_that_systemd_analyze_verifies_and_writes_nothing(
    tmp_path: Path,
) -> None:
    paths = fake_root(tmp_path, systemd=True)
    con, out, _ = console()
    assert schedule(options(tmp_path, "install", True), con, paths, certsmith="/bin/true") == 0
    assert not paths.unit_dir.exists() and not (tmp_path / "calls").exists()
    text = out.getvalue()
    assert "OnCalendar=*-*-* 00,12:00:00" in text and "Persistent=true" in text
    assert "RandomizedDelaySec=1h" in text and "ExecStart=/bin/true renew -q" in text
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze missing (Debian: systemd)")
    folder = tmp_path / "verify"
    folder.mkdir()
    for path, body in sched.plan_for(paths, ["/bin/true", "renew", "-q"], "h").files.items():
        (folder / path.name).write_text(body)
    done = subprocess.run(
        [analyze, "verify", str(folder / sched.TIMER), str(folder / sched.SERVICE)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "certsmith-renew" not in done.stderr, done.stderr  # no warning about our units


def test_cron_line_has_five_valid_fields_and_runs_twelve_hours_apart(tmp_path: Path) -> None:
    paths = fake_root(tmp_path, systemd=False)
    plan = sched.plan_for(paths, ["/usr/bin/certsmith", "renew", "-q"], "host-a")
    assert plan.kind == "cron"
    line = plan.files[paths.cron_dir / "certsmith"].splitlines()[-1]
    match = CRON_FIELDS.match(line)
    assert match is not None, line
    minute, hours = int(match[1]), [int(h) for h in match[2].split(",")]
    assert 0 <= minute < 60 and hours[1] - hours[0] == 12 and 0 <= hours[0] < 12
    assert match.group(3, 4, 5) == ("*", "*", "*")
    again = sched.plan_for(paths, ["/usr/bin/certsmith", "renew", "-q"], "host-a")
    assert again.files == plan.files  # the same machine draws the same moment every time


def test_install_and_remove_are_idempotent_with_systemd(tmp_path: Path) -> None:
    paths = fake_root(tmp_path, systemd=True)
    con, out, _ = console()
    assert schedule(options(tmp_path, "install"), con, paths, certsmith="/bin/true") == 0
    assert (paths.unit_dir / sched.TIMER).exists()
    calls = (tmp_path / "calls").read_text()
    assert "daemon-reload" in calls and f"enable --now {sched.TIMER}" in calls
    assert schedule(options(tmp_path, "install"), con, paths, certsmith="/bin/true") == 0
    assert "already installed" in out.getvalue()
    assert schedule(options(tmp_path, "status"), con, paths) == 0  # installed, no run yet
    assert "Next run: Mon 2026-03-02 00:31:07 UTC." in out.getvalue()
    assert schedule(options(tmp_path, "remove"), con, paths) == 0
    assert not list(paths.unit_dir.iterdir())
    assert f"disable --now {sched.TIMER}" in (tmp_path / "calls").read_text()
    assert schedule(options(tmp_path, "remove"), con, paths) == 0
    assert "nothing to remove" in out.getvalue()


def test_install_and_remove_cron_without_systemd(tmp_path: Path) -> None:
    paths = fake_root(tmp_path, systemd=False)
    con, _, _ = console()
    assert schedule(options(tmp_path, "install"), con, paths, certsmith="/bin/true") == 0
    first = (paths.cron_dir / "certsmith").read_text()
    assert schedule(options(tmp_path, "install"), con, paths, certsmith="/bin/true") == 0
    assert (paths.cron_dir / "certsmith").read_text() == first
    assert sched.remove(paths) == [paths.cron_dir / "certsmith"]
    assert sched.remove(paths) == []


def test_status_of_a_cron_entry_says_when_it_runs_next(tmp_path: Path) -> None:
    paths = fake_root(tmp_path, systemd=False)
    con, out, _ = console()
    assert schedule(options(tmp_path, "install"), con, paths, certsmith="/bin/true") == 0
    line = (paths.cron_dir / "certsmith").read_text().splitlines()[-1]
    minute, hours = int(line.split()[0]), [int(h) for h in line.split()[1].split(",")]
    now = datetime.datetime(2026, 12, 6, hours[0], minute, tzinfo=datetime.UTC)
    state = sched.status(paths, now)
    assert state.kind == "cron" and state.cron_line == line
    assert state.next_run == f"2026-12-06 {hours[1]:02d}:{minute:02d} UTC"
    schedule(options(tmp_path, "status"), con, paths)
    assert "Next run: 2026-12-" in out.getvalue()


def test_install_refuses_while_certbot_timer_is_enabled_and_says_how(tmp_path: Path) -> None:
    paths = fake_root(tmp_path, systemd=True, enabled="certbot.timer")
    con, _, err = console()
    assert schedule(options(tmp_path, "install"), con, paths, certsmith="/bin/true") == 1
    assert "systemctl disable --now certbot.timer" in err.getvalue()
    assert not paths.unit_dir.exists()


def test_certbot_cron_counts_unless_debian_guard_makes_it_inert_under_systemd(
    tmp_path: Path,
) -> None:
    guarded = (
        "SHELL=/bin/sh\n0 */12 * * * root test -x /usr/bin/certbot -a \\! -d /run/systemd/system"
        " && perl -e 'sleep int(rand(43200))' && certbot -q renew\n"
    )
    with_systemd = fake_root(tmp_path / "a", systemd=True)
    with_systemd.cron_dir.mkdir()
    (with_systemd.cron_dir / "certbot").write_text(guarded)
    assert sched.certbot_active(with_systemd) == []
    without = fake_root(tmp_path / "b", systemd=False)
    without.cron_dir.mkdir()
    (without.cron_dir / "certbot").write_text(guarded)
    assert sched.certbot_active(without) == [str(without.cron_dir / "certbot")]
    (without.cron_dir / "certbot").write_text("# 0 */12 * * * root certbot -q renew\n")
    assert sched.certbot_active(without) == []


def test_status_reports_the_last_run_from_the_history(tmp_path: Path) -> None:
    paths = fake_root(tmp_path, systemd=False)
    HistoryFile(tmp_path / "cfg").append(
        RunRecord(T0, 3.0, 4, 3, failed=(Problem("b.example", "rate limited"),))
    )
    con, out, _ = console()
    schedule(options(tmp_path, "install"), con, paths, certsmith="/bin/true")
    assert schedule(options(tmp_path, "status"), con, paths) == 1  # the last run failed
    assert "Last run: 2026-03-01 12:00:00 UTC, failed (1 failed: b.example)." in out.getvalue()


def test_command_line_detection_leaves_certbot_lines_alone() -> None:
    assert monitor_verb(["--config-dir", "/x", "check", "a:1"]) == "check"
    assert monitor_verb(["-v", "schedule", "status"]) == "schedule"
    assert monitor_verb(["certonly", "-d", "check"]) is None
    assert monitor_verb(["-d", "check", "certonly"]) is None
    parsed = parse_monitor(["check", "example.com:8443", "[::1]", "--warn-days", "7"], {}, True)
    assert getattr(parsed, "endpoints", None) == (("example.com", 8443), ("::1", 443))
    with pytest.raises(UsageError):
        parse_endpoint("host:notaport")


def test_history_file_round_trips_skips_torn_lines_and_stays_bounded(tmp_path: Path) -> None:
    store = HistoryFile(tmp_path, max_records=50, max_bytes=4000)
    for i in range(200):
        assert store.append(RunRecord(T0 + datetime.timedelta(hours=i), 0.5, 2, 1, ("a",)))
        assert store.path.stat().st_size <= 4000
    records = store.recent()
    assert 0 < len(records) <= 50
    assert records[-1].started == T0 + datetime.timedelta(hours=199)  # the newest kept
    assert [r.started for r in records] == sorted(r.started for r in records)
    with store.path.open("a") as f:
        f.write('{"schema": 1, "started": "2026-')  # a crash mid-write
    assert store.recent()[-1] == records[-1]
    assert store.append(RunRecord(T0, 1.0, 1))  # appends after the torn line still parse
    assert store.recent()[-1] == RunRecord(T0, 1.0, 1)
    assert (store.path.stat().st_mode & 0o777) == 0o600


def test_history_append_on_an_unwritable_folder_returns_false(tmp_path: Path) -> None:
    (tmp_path / "cfg").write_text("a file where the folder should be")
    assert HistoryFile(tmp_path / "cfg").append(RunRecord(T0, 1.0, 1)) is False


def test_last_result_per_lineage_and_the_certificates_line() -> None:
    memory = MemoryHistory(max_records=3)
    memory.append(RunRecord(T0, 1, 2, renewed=("a",), failed=(Problem("b", "x"),)))
    memory.append(RunRecord(T0 + datetime.timedelta(days=1), 1, 2, 1, skipped=(Problem("b", "y"),)))
    memory.append(RunRecord(T0 + datetime.timedelta(days=2), 1, 2, 2))
    last = last_result_per_lineage(memory.recent(), ["a", "b", "c"])
    assert last["a"][1] == "renewed" and last["b"][1] == "skipped" and "c" not in last
    for _ in range(5):
        memory.append(RunRecord(T0, 1, 0))
    assert len(memory.recent()) == 3
    paths = CertificatePaths(Path("c"), Path("ch"), Path("f"), Path("k"))
    summary = CertificateSummary(
        "b", ("b",), paths, Path("r"), not_after=T0 + datetime.timedelta(days=30),
        last_run=(T0, "failed", "rate limited"),
    )  # fmt: skip
    text = render_certificates_text([summary], T0)
    assert "    Last Renewal Run: 2026-03-01 12:00:00Z (failed: rate limited)" in text
    plain = render_certificates_text(
        [summary.__class__(**{**summary.__dict__, "last_run": None})], T0
    )
    assert "Last Renewal Run" not in plain


def test_history_record_json_round_trip() -> None:
    record = RunRecord(
        T0, 1.5, 3, 1, ("a",), (Problem("b", "why"),), (Problem("c", "locked"),), ("hook",),
        dry_run=True, forced=True,
    )  # fmt: skip
    assert RunRecord.from_json(record.to_json()) == record
    assert not record.ok and RunRecord(T0, 1, 1).ok
