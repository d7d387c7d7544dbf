"""`certsmith revoke --cert-path FILE --key-path KEY`: revocation signed by the certificate's own
key (RFC 8555 section 7.6), with no account in the config dir, as certbot allows."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pebble import PebbleCA
from test_cli_e2e import CERTSMITH, Cli, unique_name

pytestmark = pytest.mark.pebble


@pytest.fixture
def issued(pebble: PebbleCA, tmp_path: Path) -> tuple[Cli, Path, Path, x509.Certificate]:
    """A certificate issued by one config dir; its cert and key copied out."""
    issuer = Cli(pebble, tmp_path / "issuer")
    name = unique_name("revokekey")
    issuer.certonly(name)
    live = issuer.config_dir / "live" / name
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    shutil.copy(live / "cert.pem", cert_path)
    shutil.copy(live / "privkey.pem", key_path)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return Cli(pebble, tmp_path / "stranger"), cert_path, key_path, cert


def test_revoke_with_the_certificate_key_needs_no_account(
    issued: tuple[Cli, Path, Path, x509.Certificate],
) -> None:
    stranger, cert_path, key_path, cert = issued
    result = stranger.run(
        "revoke", "--cert-path", str(cert_path), "--key-path", str(key_path),
        "--reason", "keycompromise",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    status = stranger.ca.cert_status(format(cert.serial_number, "x"))
    assert status["Status"] == "Revoked" and status["Reason"] == 1
    assert not (stranger.config_dir / "accounts").exists()


def test_revoke_with_a_key_of_another_certificate_is_refused(
    issued: tuple[Cli, Path, Path, x509.Certificate], tmp_path: Path
) -> None:
    stranger, cert_path, _, cert = issued
    other = tmp_path / "other.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    result = stranger.run("revoke", "--cert-path", str(cert_path), "--key-path", str(other))
    assert result.returncode == 2
    assert "does not belong to the certificate" in result.stderr
    assert stranger.ca.cert_status(format(cert.serial_number, "x"))["Status"] == "Valid"


def test_revoke_without_account_or_key_says_what_to_pass(
    issued: tuple[Cli, Path, Path, x509.Certificate],
) -> None:
    stranger, cert_path, _, _ = issued
    result = stranger.run("revoke", "--cert-path", str(cert_path))
    assert result.returncode == 2
    assert "--key-path" in result.stderr


def test_a_revoked_lineage_is_shown_revoked_and_renewed_next(
    pebble: PebbleCA, tmp_path: Path
) -> None:
    cli = Cli(pebble, tmp_path / "owner")
    name = unique_name("revoked")
    cli.certonly(name)
    result = cli.run("revoke", "--cert-name", name, "--no-delete-after-revoke")
    assert result.returncode == 0, result.stderr
    listing = json.loads(cli.run("certificates", "--json").stdout)
    assert [c["status"] for c in listing["certificates"]] == ["revoked"]
    renewed = cli.run("renew", "--no-random-sleep-on-renew")
    assert renewed.returncode == 0, renewed.stderr
    assert "1 renewed" in renewed.stdout and "revoked" in renewed.stdout
    listing = json.loads(cli.run("certificates", "--json").stdout)
    assert [c["status"] for c in listing["certificates"]] == ["valid"]


@contextlib.contextmanager
def certbot_running(config_dir: Path) -> Iterator[None]:
    """Holds the exclusive lock certbot holds on <config>/.certbot.lock for its whole run."""
    fd = os.open(config_dir / ".certbot.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_revoke_writes_nothing_and_revokes_nothing_while_certbot_runs(
    pebble: PebbleCA, tmp_path: Path
) -> None:
    cli = Cli(pebble, tmp_path / "owner")
    name = unique_name("revlock")
    cli.certonly(name)
    serial = format(
        x509.load_pem_x509_certificate(
            (cli.config_dir / "live" / name / "cert.pem").read_bytes()
        ).serial_number,
        "x",
    )
    with certbot_running(cli.config_dir):
        result = cli.run("revoke", "--cert-name", name, "--no-delete-after-revoke")
    assert result.returncode != 0 and "certbot" in result.stderr, result.stderr
    assert cli.ca.cert_status(serial)["Status"] == "Valid"


def test_revoke_waits_for_the_lineage_lock(pebble: PebbleCA, tmp_path: Path) -> None:
    from certsmith.storage import LineageStore

    cli = Cli(pebble, tmp_path / "owner")
    name = unique_name("revwait")
    cli.certonly(name)
    cert = x509.load_pem_x509_certificate(
        (cli.config_dir / "live" / name / "cert.pem").read_bytes()
    )
    serial = format(cert.serial_number, "x")
    argv = [CERTSMITH, "revoke", "--cert-name", name, "--no-delete-after-revoke", *cli.common()]
    with LineageStore(cli.config_dir).lock(name):
        proc = subprocess.Popen([*argv, "-n"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)  # a revoke that ignored the lock would be done by now
        assert proc.poll() is None
        assert cli.ca.cert_status(serial)["Status"] == "Valid"
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert cli.ca.cert_status(serial)["Status"] == "Revoked"
