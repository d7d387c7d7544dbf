"""tls-alpn-01 (RFC 8737) end to end through the `certsmith` command line and Pebble.

certsmith's own responder answers on Pebble's tls-alpn-01 port (challtestsrv's responder is
off, and challtestsrv holds Pebble's http-01 port on 127.0.0.1, so a run that wrongly tried
http-01 there would fail): for a DNS name mapped to 127.0.0.2 and for the IP address 127.0.0.1.
The renewal conf keeps pref_challs and the port; `renew --force-renewal` reuses them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import CERTSMITH, STANDALONE_IP, Cli, unique_name

from certsmith.storage import LineageStore

pytestmark = pytest.mark.pebble

TIMEOUT = 60


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Cli:
    return Cli(pebble, tmp_path)


def tls_alpn_args(cli: Cli, address: str) -> list[str]:
    return [
        "certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email",
        "--preferred-challenges", "tls-alpn-01",
        "--tls-alpn-01-port", str(cli.ca.tlsalpn_port),
        "--http-01-address", address,
    ]  # fmt: skip


def renew_with_saved_settings(cli: Cli) -> subprocess.CompletedProcess[str]:
    """`renew --force-renewal` given only the folders: server, port, address from the conf."""
    folders = ["--config-dir", str(cli.config_dir), "--work-dir", str(cli.root / "work")]
    folders += ["--logs-dir", str(cli.root / "logs")]
    argv = [CERTSMITH, "renew", "--force-renewal", "--no-random-sleep-on-renew", "--no-preflight"]
    result = subprocess.run(
        [*argv, *folders, "-n"],
        env={"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "error"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def leaf(cli: Cli, lineage: str) -> x509.Certificate:
    pem = (cli.config_dir / "live" / lineage / "cert.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem)


def san(cert: x509.Certificate) -> list[str]:
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [
        *sans.get_values_for_type(x509.DNSName),
        *map(str, sans.get_values_for_type(x509.IPAddress)),
    ]


def assert_saved_and_renewed(cli: Cli, lineage: str) -> None:
    params = LineageStore(cli.config_dir).load(lineage).conf.renewalparams
    assert params.get("authenticator") == "standalone"
    assert params.get("pref_challs") in (["tls-alpn-01"], "tls-alpn-01")
    assert params.get("tls_alpn_01_port") == str(cli.ca.tlsalpn_port)
    before = leaf(cli, lineage).serial_number
    result = renew_with_saved_settings(cli)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 renewed, 0 not due, 0 failed" in result.stdout + result.stderr
    assert leaf(cli, lineage).serial_number != before
    assert san(leaf(cli, lineage)) == [lineage]


def test_tls_alpn_for_a_name_then_renew(cli: Cli) -> None:
    name = unique_name("alpn")
    cli.ca.add_a(name, [STANDALONE_IP])
    # No --http-01-port: a standalone run that only answers tls-alpn-01 must not need port 80.
    result = cli.run(*tls_alpn_args(cli, STANDALONE_IP), "-d", name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert san(leaf(cli, name)) == [name]
    assert_saved_and_renewed(cli, name)


def test_tls_alpn_for_an_ip_address_then_renew(cli: Cli) -> None:
    # challtestsrv holds Pebble's http-01 port on 127.0.0.1; asking for it must not matter
    # when only tls-alpn-01 is preferred.
    args = tls_alpn_args(cli, "127.0.0.1")
    result = cli.run(*args, "--ip-address", "127.0.0.1", "--http-01-port", str(cli.ca.http01_port))
    assert result.returncode == 0, result.stdout + result.stderr
    cert = leaf(cli, "127.0.0.1")
    assert san(cert) == ["127.0.0.1"]
    assert_saved_and_renewed(cli, "127.0.0.1")
