"""The `certsmith` command line end to end against Pebble, after the first certificate: renew
(not due, due by renew_before_expiry, forced, failing), revoke, delete, and the interactive
manual flow through a pseudo-terminal. Helpers are in test_cli_e2e.py."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from test_cli_e2e import CERTSMITH, STANDALONE_IP, Cli, cli, load_chain, unique_name

from certsmith.acme import AcmeClient

pytestmark = pytest.mark.pebble

__all__ = ["cli"]  # the fixture, imported so pytest finds it here


def _versions(cli: Cli, name: str) -> list[str]:
    return sorted(p.name for p in (cli.config_dir / "archive" / name).glob("cert*.pem"))


def _set_renew_before_expiry(cli: Cli, name: str, value: str) -> None:
    conf = cli.config_dir / "renewal" / f"{name}.conf"
    text = conf.read_text()
    conf.write_text(f"renew_before_expiry = {value}\n{text}")


def _renew(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.run("renew", "--no-random-sleep-on-renew", *args)


@pytest.mark.pebble_new  # ARI: the renewal names the certificate it replaces
def test_renew_not_due_due_and_forced(cli: Cli, tmp_path: Path) -> None:
    first, second = unique_name("renew-a"), unique_name("renew-b")
    cli.certonly(first)
    cli.certonly(second)
    old_cert = load_chain(cli.config_dir / "live" / first / "cert.pem")[0]

    started = time.monotonic()
    result = _renew(cli)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == "0 renewed, 2 not due, 0 failed, 0 skipped (locked)"
    )
    assert time.monotonic() - started < 10
    assert _versions(cli, first) == ["cert1.pem"]

    record = tmp_path / "hooks.log"
    hooks = (
        "--pre-hook", f"echo pre >> {record}",
        "--post-hook", f"echo post >> {record}",
        "--deploy-hook", f"echo deploy $RENEWED_LINEAGE $RENEWED_DOMAINS >> {record}",
    )  # fmt: skip
    _set_renew_before_expiry(cli, first, "100 days")
    result = _renew(cli, *hooks)
    assert result.returncode == 0, result.stderr
    assert "1 renewed, 1 not due, 0 failed, 0 skipped (locked)" in result.stdout
    assert _versions(cli, first) == ["cert1.pem", "cert2.pem"]
    assert _versions(cli, second) == ["cert1.pem"]
    assert (
        os.readlink(cli.config_dir / "live" / first / "cert.pem")
        == f"../../archive/{first}/cert2.pem"
    )
    # Pebble has ARI: the renewal order named the certificate it replaces.
    assert f"replaces the certificate with ARI id {AcmeClient.cert_id(old_cert)}" in result.stdout
    assert record.read_text().splitlines() == [
        "pre",
        f"deploy {cli.config_dir / 'live' / first} {first}",
        "post",
    ]

    record.unlink()
    result = _renew(cli, "--force-renewal", *hooks)
    assert result.returncode == 0, result.stderr
    assert "2 renewed, 0 not due, 0 failed, 0 skipped (locked)" in result.stdout
    assert _versions(cli, first) == ["cert1.pem", "cert2.pem", "cert3.pem"]
    assert _versions(cli, second) == ["cert1.pem", "cert2.pem"]
    lines = record.read_text().splitlines()
    assert lines[0] == "pre" and lines[-1] == "post"
    assert lines.count("pre") == 1 and lines.count("post") == 1
    assert sorted(lines[1:-1]) == sorted(
        f"deploy {cli.config_dir / 'live' / n} {n}" for n in (first, second)
    )


def test_renew_failure_is_counted_and_exits_non_zero(cli: Cli) -> None:
    good, bad = unique_name("renew-ok"), unique_name("renew-bad")
    cli.certonly(good)
    cli.certonly(bad)
    # certsmith now listens where Pebble does not connect: validation fails.
    conf = cli.config_dir / "renewal" / f"{bad}.conf"
    conf.write_text(conf.read_text().replace(f"= {STANDALONE_IP}", "= 127.0.0.9"))
    _set_renew_before_expiry(cli, bad, "100 days")
    result = _renew(cli)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 renewed, 1 not due, 1 failed, 0 skipped (locked)" in result.stdout
    assert f"{bad}: renewal failed." in result.stderr
    assert _versions(cli, bad) == ["cert1.pem"]


def test_renew_without_terminal_sleeps_before_the_first_renewal(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("sleepy")
    cli.certonly(name)
    # Nothing due: no delay at all, as certbot (it sleeps only before a renewal).
    started = time.monotonic()
    assert cli.run("renew").returncode == 0
    assert time.monotonic() - started < 10

    _set_renew_before_expiry(cli, name, "100 days")
    marker = tmp_path / "pre-hook-ran"
    argv = [CERTSMITH, "renew", "--pre-hook", f"touch {marker}", *cli.common(), "-n"]
    log = cli.root / "logs" / "letsencrypt.log"
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "random delay" not in log.read_text():
            assert proc.poll() is None or "random delay" in log.read_text()
            time.sleep(0.1)
        match = re.search(r"random delay of (\d+) seconds", log.read_text())
        assert match, log.read_text()[-2000:]
        assert 1 <= int(match.group(1)) <= 480
        time.sleep(0.3)
        assert proc.poll() is None  # still sleeping
        assert not marker.exists()  # the delay precedes every hook
    finally:
        proc.kill()
        proc.wait(timeout=5)
    assert _versions(cli, name) == ["cert1.pem"]


def test_hook_with_quotes_survives_the_renewal_conf(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("quotes")
    record = tmp_path / "deploy.log"
    cli.certonly(name, extra=("--deploy-hook", f'echo "deployed $RENEWED_DOMAINS" >> {record}'))
    assert record.read_text() == f"deployed {name}\n"
    result = _renew(cli)
    assert result.returncode == 0, result.stderr
    assert "0 renewed, 1 not due" in result.stdout


def test_revoke_and_delete_after_revoke(cli: Cli) -> None:
    name = unique_name("revoke")
    cli.certonly(name)
    cert = load_chain(cli.config_dir / "live" / name / "cert.pem")[0]
    result = cli.run("revoke", "--cert-name", name, "--delete-after-revoke")
    assert result.returncode == 0, result.stderr
    assert cli.ca.cert_status(format(cert.serial_number, "x"))["Status"] == "Revoked"
    assert "Deleted" in result.stdout
    assert [path for path in cli.lineage_files() if name in path] == []


def test_delete_removes_the_lineage(cli: Cli) -> None:
    name = unique_name("delete")
    cli.certonly(name)
    result = cli.run("delete", "--cert-name", name)
    assert result.returncode == 0, result.stderr
    assert not (cli.config_dir / "live" / name).exists()
    assert not (cli.config_dir / "archive" / name).exists()
    assert not (cli.config_dir / "renewal" / f"{name}.conf").exists()


# --- interactive --manual through a pseudo-terminal ----------------------------------------------


def _read_until(fd: int, pattern: str, deadline: float) -> str:
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if re.search(pattern, seen.decode(errors="replace")):
            break
    return seen.decode(errors="replace")


def test_interactive_manual_through_a_terminal(cli: Cli) -> None:
    name = unique_name("pty")  # challtestsrv's default A record: 127.0.0.1, where it serves
    argv = [
        CERTSMITH, "certonly", "--manual", "--preferred-challenges", "http", "-d", name,
        "--http-01-port", str(cli.ca.http01_port),
        "--agree-tos", "--register-unsafely-without-email", *cli.common(),
    ]  # fmt: skip
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        start_new_session=True,
    )
    os.close(slave)
    token = ""
    try:
        deadline = time.monotonic() + 30
        screen = _read_until(master, r"Press Enter", deadline)
        assert "Press Enter" in screen, screen
        match = re.search(r"http://\S+/\.well-known/acme-challenge/(\S+)", screen)
        assert match, screen
        token = match.group(1)
        content = re.search(rf"^\s+({re.escape(token)}\.\S+)\s*$", screen, re.M)
        assert content, screen
        cli.ca.challtest("/add-http01", {"token": token, "content": content.group(1)})
        os.write(master, b"\n")
        screen += _read_until(master, r"expires on|error", deadline)
        assert proc.wait(timeout=30) == 0, screen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        os.close(master)
        if token:
            cli.ca.challtest("/del-http01", {"token": token})
    assert "Traceback" not in screen
    assert "Successfully received certificate" in screen
    cert = load_chain(cli.config_dir / "live" / name / "cert.pem")[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [name]
