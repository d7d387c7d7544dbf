"""Crash at every point: certsmith SIGKILLed at each named point of a renewal and of an account
key rollover, against a real Pebble, and a reader that checks live/ during normal switches.

The points are listed in tests/support/crash_points.py: the script runs certsmith's own
``main()`` with the function at the point wrapped so that the process SIGKILLs itself just
before or just after the real call (nothing in certsmith knows about them). It also writes two
witnesses: a line per newOrder sent and the PEM of every certificate the CA issued. Every
certsmith command after a test's set-up goes through it (with no point armed but the one).

After each kill, from the files alone: every live/ link resolves, all four at one version, the
served key matches the served certificate, the renewal conf parses and names the lineage's
paths. Then ``certificates --json`` lists the lineage as valid, and the next plain ``renew``
exits 0 without sending an order, serving the certificate the CA issued to the killed run
whenever that run had written it anywhere (the pending record or the archive), else the one it
served before. A first issuance (``certonly``) killed at a point serves nothing or a whole set,
and the same command run again succeeds under the same name. Rollover: after a kill at each
step, ``renew --force-renewal`` and ``show_account`` succeed with the account (same URL) and one
account folder is left.

A first issuance killed before its conf is finished by the re-run with the kept certificate
(no new order), under the same name also with ``--duplicate``.

The reader (tests/support/live_reader.py) reads the live set of three lineages in a loop while
``renew --force-renewal --parallel 2`` switches them three times; it must see no mismatched or
dangling set, and every version each lineage served.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import STANDALONE_IP, Cli, unique_name
from test_crash_kill import (
    PYTHON,
    RUN_TIMEOUT,
    Killed,
    check_lineage,
    read_state,
    run_and_kill,
    temp_files,
)

from certsmith.storage.renewal_conf import RenewalConf
from support import crash_points, live_reader
from support.crash_points import ISSUANCE_POINTS, ROLLOVER_POINTS

pytestmark = pytest.mark.pebble

WRAPPER = Path(crash_points.__file__)
READER = Path(live_reader.__file__)
KILLED = -signal.SIGKILL
# The version live/ serves right after the kill: 1 before the switch, 2 after it; None where it
# depends on the order of the save's steps (storage/lineage.py save_version writes the conf of a
# renewed lineage before the switch today, after it before hole 4's fix).
LIVE_AFTER_KILL: dict[str, int | None] = {
    "key-generated": 1, "certificate-kept": 1, "archive-privkey": 1, "archive-cert": 1,
    "archive-chain": 1, "archive-fullchain": 1, "live-switch-before": 1,
    "live-switch-after": 2, "conf-rewrite-before": None, "conf-rewrite-after": None,
    "deploy-hook-after": 2,
}  # fmt: skip
# Points before the CA issued anything.
BEFORE_ORDER = {"key-generated"}
READER_ROUNDS = 3
READER_LIMIT = 60.0  # seconds the reader may run at most
DEPLOY_HOOK = '#!/bin/sh\necho "$RENEWED_LINEAGE" >> {log}\n'


@dataclass
class Wrapped:
    """certsmith run through the crash-point script, with its witnesses under ``root``."""

    cli: Cli
    root: Path

    @property
    def orders_file(self) -> Path:
        return self.root / "orders.log"

    @property
    def issued_file(self) -> Path:
        return self.root / "issued.pem"

    @property
    def hooks_file(self) -> Path:
        return self.root / "deploy-hooks.log"

    def argv(self, *args: str) -> list[str]:
        return [str(PYTHON), str(WRAPPER), *args, *self.cli.common(), "-n"]

    def env(self, crash_at: str = "") -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONWARNINGS": "error",
            "CRASH_AT": crash_at,
            "CRASH_ORDERS": str(self.orders_file),
            "CRASH_ISSUED": str(self.issued_file),
        }

    def run(self, *args: str, crash_at: str = "") -> Killed:
        """Run certsmith ``args`` (killed at ``crash_at``, if given) to its end."""
        log = self.root / f"run-{time.monotonic_ns()}.log"
        killed = run_and_kill(self.argv(*args), self.env(crash_at), RUN_TIMEOUT, log)
        assert "Traceback" not in killed.output, killed.output
        assert killed.survivors == [], f"{args}: processes outlived the run"
        return killed

    def call(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run certsmith ``args`` with stdout and stderr apart (no crash point)."""
        result = subprocess.run(
            self.argv(*args), env=self.env(), stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=RUN_TIMEOUT, check=False,
        )  # fmt: skip
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    def orders(self) -> int:
        return len(read_lines(self.orders_file))

    def issued_serials(self) -> list[int]:
        if not self.issued_file.exists():
            return []
        return [
            c.serial_number for c in x509.load_pem_x509_certificates(self.issued_file.read_bytes())
        ]

    def deploy_hooks(self) -> int:
        return len(read_lines(self.hooks_file))


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def served_serial(config_dir: Path, name: str) -> int:
    live = config_dir / "live" / name
    return x509.load_pem_x509_certificates((live / "fullchain.pem").read_bytes())[0].serial_number


def check_conf(config_dir: Path, name: str) -> RenewalConf:
    """renewal/<name>.conf parses and names this lineage's archive and live files."""
    conf = RenewalConf.parse((config_dir / "renewal" / f"{name}.conf").read_text())
    assert conf.get("archive_dir") == str(config_dir / "archive" / name)
    for kind in ("cert", "privkey", "chain", "fullchain"):
        assert conf.path(kind) == str(config_dir / "live" / name / f"{kind}.pem")
    assert conf.renewalparams.get_str("account"), "the conf names no account"
    return conf


def listed(wrapped: Wrapped) -> dict[str, str]:
    """`certsmith certificates --json`: name -> status."""
    result = wrapped.call("certificates", "--json")
    assert result.returncode == 0, result.stderr
    return {c["name"]: c["status"] for c in json.loads(result.stdout)["certificates"]}


def account_dirs(config_dir: Path) -> list[Path]:
    return sorted(p.parent for p in (config_dir / "accounts").rglob("private_key.json"))


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Cli:
    return Cli(pebble, tmp_path)


@pytest.fixture
def wrapped(cli: Cli, tmp_path: Path) -> Wrapped:
    runs = tmp_path / "runs"
    runs.mkdir()
    return Wrapped(cli, runs)


def add_deploy_hook(cli: Cli, wrapped: Wrapped) -> None:
    """A deploy hook (renewal-hooks/deploy) counting its runs in ``wrapped.hooks_file``."""
    hooks = cli.config_dir / "renewal-hooks" / "deploy"
    hooks.mkdir(parents=True)
    (hooks / "count").write_text(DEPLOY_HOOK.format(log=wrapped.hooks_file))
    (hooks / "count").chmod(0o755)


@pytest.fixture
def lineage(cli: Cli, wrapped: Wrapped) -> str:
    """One lineage at version 1, with a deploy hook (renewal-hooks/deploy) counting its runs."""
    name = unique_name("point")
    cli.certonly(name)
    assert check_lineage(cli.config_dir, name) == 1
    add_deploy_hook(cli, wrapped)
    return name


# --- a renewal killed at each point ---------------------------------------------------------------


@pytest.mark.parametrize("point", list(ISSUANCE_POINTS))
def test_renew_killed_at_point_keeps_live_whole_and_next_renew_sends_no_order(
    cli: Cli, wrapped: Wrapped, lineage: str, point: str
) -> None:
    config, name = cli.config_dir, lineage
    before = served_serial(config, name)
    killed = wrapped.run("renew", "--force-renewal", "--no-random-sleep-on-renew", crash_at=point)
    assert killed.returncode == KILLED, f"{point} was never reached:\n{killed.output}"
    issued = wrapped.issued_serials()
    assert wrapped.orders() == len(issued) == (0 if point in BEFORE_ORDER else 1)

    # From the files alone, before anything heals them.
    landed = check_lineage(config, name)
    assert landed == (LIVE_AFTER_KILL[point] or landed), f"{point}: live/ at version {landed}"
    check_conf(config, name)
    kept = (config / ".certsmith-state" / "pending" / f"{name}.json").exists()
    record = read_state(config, name).get("state")
    assert listed(wrapped) == {name: "valid"}

    next_run = wrapped.run("renew", "--no-random-sleep-on-renew")
    assert next_run.finished and next_run.returncode == 0, next_run.output
    assert wrapped.orders() == len(issued), "the next renew sent an order"
    check_lineage(config, name)
    check_conf(config, name)
    expected = issued[0] if issued else before
    assert served_serial(config, name) == expected, "not the certificate the killed run got"
    assert temp_files(config) == []
    assert sorted(p.name for p in (config / "live").iterdir()) == ["README", name]
    assert not (config / ".certsmith-state" / "pending" / f"{name}.json").exists()
    assert read_state(config, name).get("state") == "deployed"
    assert not (config / "archive" / name / ".certsmith-busy").exists()
    # Deploy hooks run at least once per certificate: the kept copy is dropped only after the
    # deploy step, so a kill between the hook's end and that drop runs it again next time.
    hooks = wrapped.deploy_hooks()
    expected_hooks = 0 if point in BEFORE_ORDER else 2 if point == "deploy-hook-after" else 1
    assert hooks == expected_hooks, f"{point}: {hooks} deploy hook runs (kept={kept}, {record})"


# The killed run had switched live/ (or recorded "switching") and died before the deploy hook:
# the kept copy of the certificate stays until the deploy step ran, so the next run finishes the
# switch, sees the deployed certificate still owes its deploy, and runs the hook once.
@pytest.mark.parametrize("point", ["live-switch-before", "live-switch-after", "conf-rewrite-after"])
def test_deploy_hook_runs_once_for_a_certificate_a_killed_run_deployed(
    cli: Cli, wrapped: Wrapped, lineage: str, point: str
) -> None:
    killed = wrapped.run("renew", "--force-renewal", "--no-random-sleep-on-renew", crash_at=point)
    assert killed.returncode == KILLED, killed.output
    next_run = wrapped.run("renew", "--no-random-sleep-on-renew")
    assert next_run.returncode == 0, next_run.output
    assert wrapped.deploy_hooks() == 1


# --- the first issuance of a lineage (certonly) killed at a point ---------------------------------

# A new lineage exists once its renewal conf does (written after its live/ set).
FIRST_ISSUANCE_POINTS = [
    "certificate-kept", "archive-fullchain", "live-switch-after", "conf-rewrite-before",
    "conf-rewrite-after",
]  # fmt: skip


def certonly_killed(cli: Cli, wrapped: Wrapped, point: str) -> tuple[str, bool]:
    """certonly of a new name killed at ``point``; (name, whether the lineage exists)."""
    name = unique_name("first")
    cli.ca.add_a(name, [STANDALONE_IP])
    killed = wrapped.run(*cli.standalone(name), crash_at=point)
    assert killed.returncode == KILLED, f"{point} was never reached:\n{killed.output}"
    config = cli.config_dir
    if (config / "live" / name / "cert.pem").is_symlink():  # nothing served, or a whole set
        assert check_lineage(config, name) == 1
    exists = (config / "renewal" / f"{name}.conf").exists()
    if exists:
        check_conf(config, name)
    assert listed(wrapped) == ({name: "valid"} if exists else {})
    return name, exists


@pytest.mark.parametrize("point", FIRST_ISSUANCE_POINTS)
def test_certonly_killed_at_point_serves_nothing_or_a_whole_set_and_reruns_cleanly(
    cli: Cli, wrapped: Wrapped, point: str
) -> None:
    config = cli.config_dir
    name, exists = certonly_killed(cli, wrapped, point)
    renewed = wrapped.run("renew", "--no-random-sleep-on-renew")
    assert renewed.finished and renewed.returncode == 0, renewed.output
    orders = wrapped.orders()
    again = wrapped.run(*cli.standalone(name))  # the same command, as a person would re-run it
    assert again.finished and again.returncode == 0, again.output
    assert listed(wrapped) == {name: "valid"}  # the same name, not NAME-0001
    check_lineage(config, name)
    check_conf(config, name)
    if exists:  # the lineage was complete: certonly finds it not due
        assert wrapped.orders() == orders
    assert temp_files(config) == []
    assert not (config / ".certsmith-state" / "pending" / f"{name}.json").exists()


# A first issuance killed before its renewal conf was written leaves no lineage; the certificate
# the CA issued sits in the pending record, and the re-run installs it as the new lineage
# (keep_issued.install_kept_first) with the conf the order would have written: no new order.
@pytest.mark.parametrize("point", ["certificate-kept", "live-switch-after"])
def test_certonly_rerun_after_a_kill_reuses_the_kept_certificate(
    cli: Cli, wrapped: Wrapped, point: str
) -> None:
    config = cli.config_dir
    add_deploy_hook(cli, wrapped)
    name, exists = certonly_killed(cli, wrapped, point)
    assert not exists
    again = wrapped.run(*cli.standalone(name))
    assert again.finished and again.returncode == 0, again.output
    assert wrapped.orders() == 1
    assert served_serial(config, name) == wrapped.issued_serials()[0]
    check_lineage(config, name)
    check_conf(config, name)
    assert wrapped.deploy_hooks() == 1
    assert not (config / ".certsmith-state" / "pending" / f"{name}.json").exists()
    assert listed(wrapped) == {name: "valid"}


# `certonly --duplicate` killed while creating NAME-0001 (its archive already written): the
# re-run goes on under NAME-0001 with the kept certificate, not NAME-0002 with a new order.
def test_duplicate_rerun_after_a_kill_lands_on_the_same_name(
    cli: Cli, wrapped: Wrapped, lineage: str
) -> None:
    config, duplicate = cli.config_dir, f"{lineage}-0001"
    killed = wrapped.run(*cli.standalone(lineage), "--duplicate", crash_at="archive-fullchain")
    assert killed.returncode == KILLED, killed.output
    assert (config / "archive" / duplicate).is_dir()
    again = wrapped.run(*cli.standalone(lineage), "--duplicate")
    assert again.finished and again.returncode == 0, again.output
    assert sorted(listed(wrapped)) == sorted([lineage, duplicate])
    assert wrapped.orders() == 1
    assert served_serial(config, duplicate) == wrapped.issued_serials()[0]
    check_conf(config, duplicate)


# --- an account key rollover killed at each step --------------------------------------------------


@pytest.mark.parametrize("point", list(ROLLOVER_POINTS))
def test_rollover_killed_at_point_leaves_an_account_that_works(
    cli: Cli, wrapped: Wrapped, lineage: str, point: str
) -> None:
    config, name = cli.config_dir, lineage
    [original] = account_dirs(config)
    url = json.loads((original / "regr.json").read_text())["uri"]
    killed = wrapped.run("update_account", "--rollover-key", crash_at=point)
    assert killed.returncode == KILLED, f"{point} was never reached:\n{killed.output}"
    assert account_dirs(config), "no account left on disk"

    renewed = wrapped.run("renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert renewed.finished and renewed.returncode == 0, renewed.output
    assert check_lineage(config, name) == 2 and wrapped.orders() == 1
    shown = wrapped.call("show_account")
    assert shown.returncode == 0, shown.stderr
    assert f"Account URL: {url}" in shown.stdout

    [left] = account_dirs(config)
    assert not (left / "rollover_key.json").exists()
    # Only a kill before keyChange leaves the old key; after it the account moved to the new one.
    assert (left.name == original.name) == (point == "rollover-pending-key"), left.name
    assert check_conf(config, name).renewalparams.get_str("account") == left.name


# --- a reader during normal switches --------------------------------------------------------------


def test_reader_never_sees_a_broken_or_mismatched_live_set_during_switches(
    cli: Cli, wrapped: Wrapped, tmp_path: Path
) -> None:
    config = cli.config_dir
    names = [unique_name(f"read-{tag}") for tag in "abc"]
    for name in names:
        cli.certonly(name)
    stop, ready = tmp_path / "reader.stop", tmp_path / "reader.ready"
    argv = [str(PYTHON), str(READER), str(config), str(stop), str(ready), str(READER_LIMIT)]
    reader = subprocess.Popen(
        [*argv, *names], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not ready.exists() and reader.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready.exists(), "the reader never started"
        renew = ("renew", "--force-renewal", "--no-random-sleep-on-renew", "--parallel", "2")
        for _ in range(READER_ROUNDS):
            run = wrapped.run(*renew)
            assert run.finished and run.returncode == 0, run.output
        stop.touch()
        out, err = reader.communicate(timeout=RUN_TIMEOUT)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.communicate(timeout=RUN_TIMEOUT)
    assert reader.returncode == 0, err
    report = json.loads(out)
    print(f"reader: {report}", file=sys.stderr)
    assert report["unresolved"] == 0 and report["mismatch"] == 0, report["failures"]
    for name in names:
        archive = config / "archive" / name
        certs = [archive / f"cert{v}.pem" for v in range(1, READER_ROUNDS + 2)]
        served = [
            f"{x509.load_pem_x509_certificate(c.read_bytes()).serial_number:x}" for c in certs
        ]
        assert report["serials"][name] == served, f"{name}: not every version was read"
        assert report["transitions"][name] == READER_ROUNDS
