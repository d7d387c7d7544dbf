"""dns-01 end to end through the `certsmith` command line.

1. --dns-rfc2136 against a real BIND that is also Pebble's DNS: a wildcard certificate, the TXT
   records removed afterwards, `renew --force-renewal` with the saved settings.
2. Refusals before any order: a credentials file others can read, a wildcard with --standalone.
3. --manual --preferred-challenges dns with auth/cleanup hooks writing to challtestsrv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import pytest
from cryptography import x509

from certsmith import crypto
from certsmith.storage import LineageStore
from support.bind import BindServer, named_path

ROOT = Path(__file__).resolve().parents[2]
CERTSMITH = ROOT / ".venv" / "bin" / "certsmith"

pytestmark = [pytest.mark.pebble]

needs_bind = pytest.mark.skipif(
    named_path() is None, reason="BIND9 `named` not installed: apt-get install -y bind9"
)


def certsmith(base: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the certsmith CLI with folders under ``base``, warnings as errors."""
    folders = ["--config-dir", str(base / "etc"), "--work-dir", str(base / "work")]
    folders += ["--logs-dir", str(base / "logs")]
    return subprocess.run(
        [str(CERTSMITH), *args, *folders, "-n"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def san_names(lineage_dir: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate((lineage_dir / "cert.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(sans.get_values_for_type(x509.DNSName))


def txt_on(bind: BindServer, name: str) -> set[str]:
    response = dns.query.tcp(
        dns.message.make_query(name, "TXT"), bind.host, port=bind.port, timeout=2.0
    )
    return {b"".join(r.strings).decode() for rrset in response.answer for r in rrset}


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[BindServer]:
    # BIND also serves the parent zone "test", so the CAA walk of the pre-flight check gets an
    # answer at every level, as from a real recursive resolver.
    zones: dict[str, list[str]] = {"test": [], "example.test": ["www A 127.0.0.1"]}
    with BindServer(tmp_path / "bind", zones) as server:
        yield server


def credentials_file(path: Path, bind: BindServer, mode: int = 0o600) -> Path:
    path.write_text(
        f"dns_rfc2136_server = {bind.host}\n"
        f"dns_rfc2136_port = {bind.port}\n"
        f"dns_rfc2136_name = {bind.key_name}\n"
        f"dns_rfc2136_secret = {bind.key_secret}\n"
        f"dns_rfc2136_algorithm = {bind.key_algorithm.upper()}\n"
    )
    path.chmod(mode)
    return path


def ca_flags(ca: Any, resolver: str) -> list[str]:
    return [
        "--server",
        ca.directory_url,
        "--ca-bundle",
        str(ca.ca_bundle),
        "--dns-resolver",
        resolver,
        "--agree-tos",
        "--register-unsafely-without-email",
    ]


@needs_bind
@pytest.mark.bind
def test_rfc2136_wildcard_then_renew_with_saved_settings(
    tmp_path: Path, bind: BindServer, pebble_factory: Callable[..., Any]
) -> None:
    ca = pebble_factory(dns_server=bind.address)
    creds = credentials_file(tmp_path / "rfc2136.ini", bind)
    out = ok(
        certsmith(
            tmp_path,
            "certonly",
            "--dns-rfc2136",
            "--dns-rfc2136-credentials",
            str(creds),
            "-d",
            "example.test",
            "-d",
            "*.example.test",
            *ca_flags(ca, bind.address),
        )
    )
    live = tmp_path / "etc" / "live" / "example.test"
    assert san_names(live) == ["*.example.test", "example.test"], out
    assert txt_on(bind, "_acme-challenge.example.test") == set()

    lineage = LineageStore(tmp_path / "etc").load("example.test")
    params = lineage.conf.renewalparams
    assert params.get("authenticator") == "dns-rfc2136"
    assert params.get("dns_rfc2136_credentials") == str(creds)
    assert params.get("certsmith_dns_resolver") == bind.address
    serial1 = crypto.inspect_certificate(lineage.certificate()).serial_hex

    # Nothing but --force-renewal: server, CA bundle, resolver and credentials come from the conf.
    out = ok(certsmith(tmp_path, "renew", "--force-renewal", "--no-random-sleep-on-renew"))
    assert "1 renewed, 0 not due, 0 failed" in out
    renewed = LineageStore(tmp_path / "etc").load("example.test")
    assert renewed.deployed_version == 2
    assert crypto.inspect_certificate(renewed.certificate()).serial_hex != serial1
    assert san_names(live) == ["*.example.test", "example.test"]
    assert txt_on(bind, "_acme-challenge.example.test") == set()
    assert renewed.conf.renewalparams.get("dns_rfc2136_credentials") == str(creds)


@needs_bind
@pytest.mark.bind
def test_credentials_readable_by_others_is_refused_before_anything(
    tmp_path: Path, bind: BindServer, pebble_factory: Callable[..., Any]
) -> None:
    ca = pebble_factory(dns_server=bind.address)
    creds = credentials_file(tmp_path / "rfc2136.ini", bind, mode=0o644)
    result = certsmith(
        tmp_path,
        "certonly",
        "--dns-rfc2136",
        "--dns-rfc2136-credentials",
        str(creds),
        "-d",
        "example.test",
        *ca_flags(ca, bind.address),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "chmod 600" in result.stderr and str(creds) in result.stderr
    assert "Traceback" not in result.stderr
    # No account, no lineage, no renewal conf: at most the lineage's lock file.
    written = [p.relative_to(tmp_path / "etc") for p in files_under(tmp_path / "etc")]
    # Only the lock files (certsmith's per-lineage ones, and certbot's that keeps certbot out).
    assert [p for p in written if p.parts[0] not in (".certsmith-locks", ".certbot.lock")] == []


def test_wildcard_with_standalone_is_refused_before_any_order(tmp_path: Path, pebble: Any) -> None:
    result = certsmith(
        tmp_path,
        "certonly",
        "--standalone",
        "-d",
        "*.wild.test",
        "--http-01-address",
        "127.0.0.2",
        "--http-01-port",
        str(pebble.http01_port),
        *ca_flags(pebble, pebble.dns_address),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    message = result.stderr.lower()
    assert "wildcard" in message and "dns" in message, result.stderr
    assert not (tmp_path / "etc" / "live").exists()
    assert not (tmp_path / "etc" / "accounts").exists()  # refused before registering


HOOK = """\
import json, os, sys, urllib.request
name = os.environ["CERTBOT_DOMAIN"].removeprefix("*.")
body = {{"host": "_acme-challenge." + name + "."}}
if sys.argv[1] == "/set-txt":
    body["value"] = os.environ["CERTBOT_VALIDATION"]
request = urllib.request.Request("{url}" + sys.argv[1], data=json.dumps(body).encode())
urllib.request.urlopen(request, timeout=10).read()
with open("{log}", "a") as log:
    log.write(sys.argv[1] + " " + os.environ["CERTBOT_DOMAIN"] + "\\n")
"""


def test_manual_dns_with_hooks_against_challtestsrv(tmp_path: Path, pebble: Any) -> None:
    log = tmp_path / "hooks.log"
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK.format(url=pebble.challtestsrv_url, log=log))
    python = sys.executable
    name = "manual-dns.test"
    out = ok(
        certsmith(
            tmp_path,
            "certonly",
            "--manual",
            "--preferred-challenges",
            "dns",
            "--manual-auth-hook",
            f"{python} {hook} /set-txt",
            "--manual-cleanup-hook",
            f"{python} {hook} /clear-txt",
            "-d",
            name,
            "-d",
            f"*.{name}",
            # challtestsrv answers SOA queries with NOTIMP, so the pre-flight zone lookup fails.
            "--no-preflight",
            *ca_flags(pebble, pebble.dns_address),
        )
    )
    live = tmp_path / "etc" / "live" / name
    assert san_names(live) == [f"*.{name}", name], out
    # As certbot: CERTBOT_DOMAIN is the wildcard's base name; every auth hook runs before any
    # cleanup hook.
    calls = log.read_text().splitlines()
    assert calls == [f"/set-txt {name}"] * 2 + [f"/clear-txt {name}"] * 2
    host, port = pebble.dns_address.rsplit(":", 1)
    query = dns.message.make_query(f"_acme-challenge.{name}", "TXT")
    assert dns.query.tcp(query, host, port=int(port), timeout=2.0).answer == []
    params = LineageStore(tmp_path / "etc").load(name).conf.renewalparams
    assert params.get("authenticator") == "manual"
    assert params.get("pref_challs") in (["dns-01"], "dns-01")
    assert json.dumps(params.get("manual_auth_hook")).count("/set-txt") == 1
