"""The built-in dns-01 providers end to end through the `certsmith` command line and Pebble.

1. --dns-acme-dns against tests/support/fake_acmedns.py (the acme-dns API, DNS through
   challtestsrv): the first run registers the domain and stops, naming the CNAME to create; once
   the CNAME exists a wildcard certificate is issued and `renew --force-renewal` reuses the
   saved credentials.
2. --dns-duckdns against tests/support/fake_duckdns.py: issuance, then a wrong token.
3. --dns-rfc2136 with `_acme-challenge` delegated by CNAME into another zone of a real BIND.
"""

from __future__ import annotations

import json
import stat
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import Cli
from test_cli_tls_alpn import renew_with_saved_settings

from certsmith.storage import LineageStore
from support.bind import BindServer, named_path
from support.fake_acmedns import FakeAcmeDns
from support.fake_duckdns import FakeDuckDns

pytestmark = pytest.mark.pebble


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Cli:
    return Cli(pebble, tmp_path)


def issue(cli: Cli, plugin: str, creds: Path, *names: str) -> subprocess.CompletedProcess[str]:
    args = ["certonly", f"--{plugin}", f"--{plugin}-credentials", str(creds)]
    for name in names:
        args += ["-d", name]
    return cli.run(*args, "--agree-tos", "--register-unsafely-without-email")


def credentials(path: Path, **options: str) -> Path:
    path.write_text("".join(f"{key} = {value}\n" for key, value in options.items()))
    path.chmod(0o600)
    return path


def dns_names(cli: Cli, lineage: str) -> list[str]:
    pem = (cli.config_dir / "live" / lineage / "cert.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(sans.get_values_for_type(x509.DNSName))


def txt_at(address: str, name: str) -> set[str]:
    host, port = address.rsplit(":", 1)
    query = dns.message.make_query(name, "TXT")
    response = dns.query.tcp(query, host, port=int(port), timeout=2.0)
    txt = [rrset for rrset in response.answer if rrset.rdtype == dns.rdatatype.TXT]
    return {b"".join(r.strings).decode() for rrset in txt for r in rrset}


def serial(cli: Cli, lineage: str) -> int:
    pem = (cli.config_dir / "live" / lineage / "cert.pem").read_bytes()
    return x509.load_pem_x509_certificate(pem).serial_number


# --- acme-dns ------------------------------------------------------------------------------------


@pytest.fixture
def acmedns(cli: Cli) -> Iterator[FakeAcmeDns]:
    with FakeAcmeDns(challtest=cli.ca.challtest) as api:
        yield api


def acmedns_credentials(api: FakeAcmeDns, folder: Path) -> tuple[Path, Path]:
    """A credentials file for ``api`` and the registration file it names (not yet written)."""
    registrations = folder / "acmedns.json"
    creds = credentials(
        folder / "acmedns.ini",
        dns_acmedns_api_url=api.url,
        dns_acmedns_registration_file=str(registrations),
    )
    return creds, registrations


def test_acme_dns_registers_then_issues_and_renews(
    cli: Cli, acmedns: FakeAcmeDns, tmp_path: Path
) -> None:
    name = f"acmedns-{uuid.uuid4().hex[:8]}.cli.test"
    creds, registrations = acmedns_credentials(acmedns, tmp_path)

    # First use: registers the domain, says which CNAME to create, and stops.
    first = issue(cli, "dns-acme-dns", creds, name, f"*.{name}")
    assert first.returncode == 1, first.stdout + first.stderr
    assert len(acmedns.accounts) == 1 and acmedns.updates == []
    account = next(iter(acmedns.accounts.values()))
    record = f"_acme-challenge.{name}. CNAME {account.fulldomain}."
    assert record in first.stderr, first.stderr
    assert stat.S_IMODE(registrations.stat().st_mode) == 0o600
    saved = json.loads(registrations.read_text())
    assert saved[name]["fulldomain"] == account.fulldomain
    assert saved[name]["password"] == account.password
    assert not (cli.config_dir / "live" / name).exists()

    cli.ca.challtest(
        "/set-cname", {"host": f"_acme-challenge.{name}.", "target": account.fulldomain + "."}
    )
    try:
        second = issue(cli, "dns-acme-dns", creds, name, f"*.{name}")
        assert second.returncode == 0, second.stdout + second.stderr
        assert dns_names(cli, name) == sorted([name, f"*.{name}"])
        # Both values of the order at the fulldomain, as acme-dns keeps the last two.
        values = acmedns.values(account.subdomain)
        assert len(acmedns.updates) == 2 and len(set(values)) == 2
        assert txt_at(cli.ca.dns_address, f"_acme-challenge.{name}") == set(values)
        conf = LineageStore(cli.config_dir).load(name).conf.renewalparams
        assert conf.get("authenticator") == "dns-acme-dns"
        assert conf.get("dns_acme_dns_credentials") == str(creds)
        first_serial = serial(cli, name)

        # --no-preflight: challtestsrv answers no SOA, so the pre-flight DNS check cannot pass.
        renewed = renew_with_saved_settings(cli)
        assert renewed.returncode == 0, renewed.stdout + renewed.stderr
        assert "1 renewed, 0 not due, 0 failed" in renewed.stdout + renewed.stderr
        assert serial(cli, name) != first_serial
        assert len(acmedns.accounts) == 1  # no second registration
        assert len(acmedns.updates) == 4
        assert acmedns.values(account.subdomain) == [txt for _, txt in acmedns.updates[2:]]
    finally:
        cli.ca.challtest("/clear-cname", {"host": f"_acme-challenge.{name}."})


def test_acme_dns_registered_domain_without_cname_stops_quickly(
    cli: Cli, acmedns: FakeAcmeDns, tmp_path: Path
) -> None:
    name = f"acmedns-{uuid.uuid4().hex[:8]}.cli.test"
    creds, _ = acmedns_credentials(acmedns, tmp_path)
    assert issue(cli, "dns-acme-dns", creds, name).returncode == 1
    # Run again without creating the CNAME: a clear error, no wait for propagation.
    again = issue(cli, "dns-acme-dns", creds, name)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"_acme-challenge.{name}. CNAME" in again.stderr and "does not exist" in again.stderr
    assert len(acmedns.accounts) == 1 and acmedns.updates == []


# --- DuckDNS -------------------------------------------------------------------------------------


def test_duckdns_issues_and_a_wrong_token_fails_cleanly(cli: Cli, tmp_path: Path) -> None:
    sub = f"dd{uuid.uuid4().hex[:8]}"
    name = f"{sub}.duckdns.org"
    token = str(uuid.uuid4())
    with FakeDuckDns(challtest=cli.ca.challtest, tokens={sub: token}) as api:
        good = credentials(
            tmp_path / "duckdns.ini", dns_duckdns_token=token, dns_duckdns_base_url=api.url
        )
        result = issue(cli, "dns-duckdns", good, name)
        assert result.returncode == 0, result.stdout + result.stderr
        assert dns_names(cli, name) == [name]
        assert [(r.clear, r.answer) for r in api.requests] == [(False, "OK"), (True, "OK")]
        assert api.txt == {}
        assert txt_at(cli.ca.dns_address, f"_acme-challenge.{name}") == set()
        conf = LineageStore(cli.config_dir).load(name).conf.renewalparams
        assert conf.get("dns_duckdns_credentials") == str(good)

        api.requests.clear()
        wrong_token = "wrong-" + uuid.uuid4().hex
        bad = credentials(
            tmp_path / "bad.ini", dns_duckdns_token=wrong_token, dns_duckdns_base_url=api.url
        )
        other = f"dd{uuid.uuid4().hex[:8]}"
        api.tokens[other] = token
        failed = issue(cli, "dns-duckdns", bad, f"{other}.duckdns.org")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "DuckDNS refused" in failed.stderr and "token" in failed.stderr
        assert wrong_token not in failed.stdout + failed.stderr
        # The cleanup ran (clear=true) although the write had failed.
        assert [(r.subdomain, r.clear) for r in api.requests] == [(other, False), (other, True)]
        assert not (cli.config_dir / "live" / f"{other}.duckdns.org").exists()


def test_duckdns_token_on_the_command_line_is_refused_not_ignored(cli: Cli, tmp_path: Path) -> None:
    result = cli.run(
        "certonly", "--dns-duckdns", "--dns-duckdns-token", "t0ken", "-d", "x.duckdns.org",
        "--agree-tos", "--register-unsafely-without-email", timeout=20,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--dns-duckdns-credentials" in result.stderr and "t0ken" not in result.stderr
    assert not cli.config_dir.exists() or list(cli.config_dir.rglob("*.conf")) == []


# --- RFC 2136 with a CNAME-delegated _acme-challenge ---------------------------------------------


class ResolvingBind(BindServer):
    """BIND that also resolves for its clients, so it follows a CNAME from one of its zones
    into another (authoritative-only BIND answers with the bare CNAME, and Pebble's resolver
    does not chase it). Anything not in its zones goes to a dead loopback port, never out."""

    def _write_config(self) -> Path:
        path = super()._write_config()
        resolving = (
            "recursion yes; allow-recursion { 127.0.0.0/8; }; max-cache-size 8m; "
            "forward only; forwarders { 127.0.0.1 port 9; };"
        )
        path.write_text(path.read_text().replace("recursion no;", resolving))
        return path


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[BindServer]:
    zones = {
        "test": [],
        "example.test": ["_acme-challenge.www CNAME www.delegated.test."],
        "delegated.test": [],
    }
    with ResolvingBind(tmp_path / "bind", zones) as server:
        yield server


@pytest.mark.bind
@pytest.mark.skipif(named_path() is None, reason="BIND9 `named` not installed")
def test_rfc2136_writes_where_the_cname_points(
    tmp_path: Path, bind: BindServer, pebble_factory: Callable[..., Any]
) -> None:
    ca = pebble_factory(dns_server=bind.address)
    creds = credentials(
        tmp_path / "rfc2136.ini",
        dns_rfc2136_server=bind.host,
        dns_rfc2136_port=str(bind.port),
        dns_rfc2136_name=bind.key_name,
        dns_rfc2136_secret=bind.key_secret,
        dns_rfc2136_algorithm=bind.key_algorithm.upper(),
    )
    runner = Cli(ca, tmp_path)
    result = issue(runner, "dns-rfc2136", creds, "www.example.test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert dns_names(runner, "www.example.test") == ["www.example.test"]
    # The value was added in the zone the CNAME points into, and removed from there afterwards.
    updates = [line for line in bind.log_path.read_text().splitlines() if "updating zone" in line]
    assert any(
        "'delegated.test/IN': adding an RR at 'www.delegated.test' TXT" in u for u in updates
    )
    assert any(
        "'delegated.test/IN': deleting an RR at www.delegated.test TXT" in u for u in updates
    )
    assert not any("example.test/IN" in u for u in updates), updates
    assert txt_at(bind.address, "www.delegated.test") == set()
