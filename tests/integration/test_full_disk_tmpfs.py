"""A really full disk (issue 11, "The proof"): the config dir is a 2 MB tmpfs, filled up.

After a lineage is issued against Pebble, a filler file leaves exactly N free blocks of the
tmpfs, then `renew --force-renewal` runs. What N allows was measured (ECDSA P-256 keys, Pebble's
certificates: every file fits one 4 KB block, the kept record ``.certsmith-state/pending/
NAME.json`` too); the save writes, in order: the kept record, the archive state (a transient
block), privkey, cert, chain, fullchain, the renewal conf (a transient block), the live switch.

    N = 0   nothing can be written: the issued certificate is lost, the next run orders again
    N = 1   the kept record only; the archive's state file fails
    N = 3   the kept record, privkey and cert; chain fails
    N = 5   the kept record and the four archive files; the renewal conf fails
    N >= 6  the renewal succeeds; but with N = 6 a conf of two blocks (an operator's notes in
            it: 6 KB) does not fit

Each time: exit 1, the message names the cause ("the disk is full") and the file, no traceback,
live/ still serves the previous certificate (links resolve, the pair matches, same serial), the
renewal conf parses. Then the filler goes: a plain `renew` (nothing is due) installs the kept
certificate without an order — the served serial is the kept one — or, when nothing was kept,
changes nothing, and `renew --force-renewal` orders anew. One more: a first `certonly` whose
account cannot be saved fails with the same cause and writes no lineage.

Needs root (mount); skipped with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import STANDALONE_IP, Cli

from certsmith import crypto
from certsmith.storage.renewal_conf import RenewalConf

pytestmark = pytest.mark.pebble
TMPFS_SIZE = "2m"
# Small files of known size; Pebble's 90-day profile (it picks one at random otherwise).
PINNED = ("--key-type", "ecdsa", "--elliptic-curve", "secp256r1", "--required-profile", "default")
LIVE_FILES = ("cert", "chain", "fullchain", "privkey")
KEPT = "installed the certificate an earlier run obtained but could not save"


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Iterator[Cli]:
    """A Cli whose config dir is a fresh tmpfs of TMPFS_SIZE, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    cli = Cli(pebble, tmp_path)
    cli.config_dir.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs",
         str(cli.config_dir)],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mount.stderr.strip()}")
    try:
        yield cli
    finally:
        done = subprocess.run(["umount", str(cli.config_dir)], timeout=10, check=False)
        if done.returncode != 0:  # still busy: detach it, so the next test is not affected
            subprocess.run(["umount", "-l", str(cli.config_dir)], timeout=10, check=False)


def leave_free(config_dir: Path, blocks: int) -> Path:
    """Fill the tmpfs with one file so that exactly ``blocks`` blocks stay free."""
    st = os.statvfs(config_dir)
    filler = config_dir / "filler"
    with filler.open("wb") as out:
        out.write(b"\0" * ((st.f_bavail - blocks) * st.f_frsize))
    assert os.statvfs(config_dir).f_bavail == blocks
    return filler


def serial(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


def served_serial(cli: Cli, name: str) -> int:
    """The serial live/NAME serves, after checking the four links form one matching set."""
    live = cli.config_dir / "live" / name
    pems = {kind: (live / f"{kind}.pem").read_bytes() for kind in LIVE_FILES}
    cert = x509.load_pem_x509_certificate(pems["cert"])
    assert crypto.key_matches_certificate(crypto.load_private_key(pems["privkey"]), cert)
    assert pems["fullchain"] == pems["cert"] + pems["chain"]
    return cert.serial_number


def conf_parses(cli: Cli, name: str) -> None:
    conf = RenewalConf.parse((cli.config_dir / "renewal" / f"{name}.conf").read_text())
    assert conf.root.get("cert") == str(cli.config_dir / "live" / name / "cert.pem")
    assert conf.renewalparams.get("authenticator") == "standalone"


def kept_record(cli: Cli, name: str) -> Path:
    return cli.config_dir / ".certsmith-state" / "pending" / f"{name}.json"


def issue(cli: Cli) -> tuple[str, int]:
    """A new lineage and its serial, returned once the second its certificate was issued in
    has passed (Pebble's times are in seconds; a kept certificate is installed only when it is
    newer than the served one)."""
    name = f"full-{uuid.uuid4().hex[:8]}.test"
    cli.certonly(name, extra=PINNED)
    cert = x509.load_pem_x509_certificate(
        (cli.config_dir / "live" / name / "cert.pem").read_bytes()
    )
    wait = cert.not_valid_before_utc.timestamp() + 1.0 - time.time()
    time.sleep(min(max(wait, 0.0), 1.0))
    return name, served_serial(cli, name)


def no_traceback_logged(cli: Cli) -> None:
    """Cli.run asserts none on stdout/stderr; an internal error leaves its traceback here."""
    logs = list((cli.root / "logs").rglob("*.log*"))
    assert logs
    for log in logs:
        assert "Traceback" not in log.read_text(errors="replace"), log


def renew(cli: Cli, *extra: str) -> subprocess.CompletedProcess[str]:
    result = cli.run("renew", "--no-random-sleep-on-renew", *extra)
    no_traceback_logged(cli)
    return result


@pytest.mark.parametrize(
    ("free_blocks", "conf_notes", "failing_write"),
    [
        (1, 0, "archive/{name}/certsmith-state.json"),
        (3, 0, "archive/{name}/chain2.pem"),
        (5, 0, "renewal/{name}.conf"),
        (6, 100, "renewal/{name}.conf"),
    ],
    ids=[
        "room-for-the-record",
        "room-for-two-archive-files",
        "room-for-all-but-the-conf",
        "a-two-block-conf-does-not-fit",
    ],
)
def test_full_disk_keeps_the_issued_certificate_and_the_next_run_installs_it(
    cli: Cli, free_blocks: int, conf_notes: int, failing_write: str
) -> None:
    name, before = issue(cli)
    conf = cli.config_dir / "renewal" / f"{name}.conf"
    notes = "".join(f"# operator's note {i}: {'x' * 40}\n" for i in range(conf_notes))
    conf.write_text(notes + conf.read_text())  # comments are kept when certsmith rewrites it
    filler = leave_free(cli.config_dir, free_blocks)

    failed = renew(cli, "--force-renewal")
    out = failed.stdout + failed.stderr
    assert failed.returncode == 1, out
    assert "the disk is full" in out and "the next run installs it without a new order" in out
    # The file that did not fit, named in the message: which write the disk filled at.
    assert f"the disk is full ({cli.config_dir / failing_write.format(name=name)})" in out
    assert served_serial(cli, name) == before
    conf_parses(cli, name)
    record = kept_record(cli, name)
    assert record.stat().st_mode & 0o777 == 0o600
    kept = serial(json.loads(record.read_text())["cert"].encode())
    assert kept != before

    filler.unlink()
    second = renew(cli)  # nothing is due: only the kept certificate can change what is served
    assert second.returncode == 0, second.stdout + second.stderr
    assert KEPT in second.stdout
    assert served_serial(cli, name) == kept
    assert not record.exists()
    conf_parses(cli, name)


def test_full_disk_with_no_room_for_the_record_loses_the_certificate_and_orders_again(
    cli: Cli,
) -> None:
    name, before = issue(cli)
    filler = leave_free(cli.config_dir, 0)

    failed = renew(cli, "--force-renewal")
    out = failed.stdout + failed.stderr
    assert failed.returncode == 1, out
    assert "the next run orders again" in out
    state_file = cli.config_dir / "archive" / name / "certsmith-state.json"
    assert f"the disk is full ({state_file})" in out  # after the record, the save's first
    assert served_serial(cli, name) == before
    conf_parses(cli, name)
    assert not kept_record(cli, name).exists()

    filler.unlink()
    second = renew(cli)
    assert second.returncode == 0 and KEPT not in second.stdout
    assert served_serial(cli, name) == before  # nothing was kept, nothing is due
    third = renew(cli, "--force-renewal")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "1 renewed" in third.stdout
    assert served_serial(cli, name) != before
    conf_parses(cli, name)


def test_full_disk_while_the_new_account_is_saved_fails_that_run_only(cli: Cli) -> None:
    name = f"full-{uuid.uuid4().hex[:8]}.test"
    cli.ca.add_a(name, [STANDALONE_IP])
    filler = leave_free(cli.config_dir, 0)

    failed = cli.run(*cli.standalone(name, extra=PINNED))
    out = failed.stdout + failed.stderr
    assert failed.returncode == 1, out
    assert "Could not save the account the CA registered" in out
    assert "the disk is full" in out and "No certificate was ordered" in out
    no_traceback_logged(cli)
    assert cli.lineage_files() == []

    filler.unlink()
    cli.certonly(name, extra=PINNED)
    conf_parses(cli, name)
    assert served_serial(cli, name)
