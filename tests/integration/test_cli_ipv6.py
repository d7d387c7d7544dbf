"""An IPv6 IP-address certificate (RFC 8738) for ::1 through the `certsmith` command line and
Pebble, by http-01 and by tls-alpn-01 (RFC 8737).

Pebble validates an ip identifier by connecting to the address itself, here [::1]. challtestsrv's
http-01 responder listens on 127.0.0.1 only, so [::1]:<http01_port> is free for certsmith's own.
For tls-alpn-01 the SNI is the reverse-lookup name (RFC 8738 section 6), 1.0.0...0.ip6.arpa.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import Cli
from test_cli_tls_alpn import renew_with_saved_settings

from certsmith.storage import LineageStore


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


pytestmark = [
    pytest.mark.pebble,
    pytest.mark.pebble_new,  # IP identifiers need Pebble's shortlived profile
    pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback ::1"),
]

V6 = "::1"
REVERSE_NAME = ipaddress.ip_address(V6).reverse_pointer  # 1.0.0.(...).0.ip6.arpa
SHORTLIVED_NOTE = "IP addresses need the CA's 'shortlived' profile; using it."


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Cli:
    return Cli(pebble, tmp_path)


def ipv6_args(cli: Cli, *extra: str) -> list[str]:
    return [
        "certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email",
        "--ip-address", V6, "--http-01-address", V6, *extra, "-v",
    ]  # fmt: skip


def assert_ipv6_certificate(cli: Cli) -> x509.Certificate:
    """live/::1 holds a short-lived certificate whose only SAN is IPAddress ::1."""
    live = cli.config_dir / "live" / V6  # certbot names the lineage after the first identifier
    assert [p.name for p in (cli.config_dir / "live").iterdir() if p.is_dir()] == [V6]
    cert = x509.load_pem_x509_certificate((live / "cert.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.IPv6Address(V6)]
    assert san.get_values_for_type(x509.DNSName) == []
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.days <= 7  # Pebble's shortlived profile: 6 days
    return cert


def test_ipv6_address_by_http_01(cli: Cli) -> None:
    port = str(cli.ca.http01_port)
    result = cli.run(*ipv6_args(cli, "--http-01-port", port))
    assert result.returncode == 0, result.stdout + result.stderr
    assert SHORTLIVED_NOTE in result.stderr
    assert f"live/{V6}/fullchain.pem" in result.stdout
    first = assert_ipv6_certificate(cli)
    # certsmith's responder answered on [::1], and Pebble asked it there.
    assert f"listening on [{V6}]:{port}" in result.stderr
    assert f"from {V6} -> 200" in result.stderr
    params = LineageStore(cli.config_dir).load(V6).conf.renewalparams
    assert params.get("authenticator") == "standalone"
    assert params.get("http01_address") == V6
    assert params.get("http01_port") == port
    # `renew` given only the folders finds ::1, its address and port in the renewal conf.
    renewed = renew_with_saved_settings(cli)
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert "1 renewed, 0 not due, 0 failed" in renewed.stdout
    assert assert_ipv6_certificate(cli).serial_number != first.serial_number


def test_ipv6_address_by_tls_alpn_01(cli: Cli) -> None:
    port = str(cli.ca.tlsalpn_port)
    extra = ("--preferred-challenges", "tls-alpn-01", "--tls-alpn-01-port", port)
    result = cli.run(*ipv6_args(cli, *extra))
    assert result.returncode == 0, result.stdout + result.stderr
    assert SHORTLIVED_NOTE in result.stderr
    assert_ipv6_certificate(cli)
    assert f"listening on [{V6}]:{port}" in result.stderr
    # The CA's ClientHello named the RFC 8738 reverse name, and that is what was served.
    assert f"served the challenge certificate for '{REVERSE_NAME}' to {V6}" in result.stderr
    assert "http-01 server" not in result.stderr  # only tls-alpn-01 was answered
    params = LineageStore(cli.config_dir).load(V6).conf.renewalparams
    assert params.get("pref_challs") in (["tls-alpn-01"], "tls-alpn-01")
    assert params.get("tls_alpn_01_port") == port
