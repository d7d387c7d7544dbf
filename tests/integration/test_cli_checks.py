"""`certsmith caa-check` (a machine contract: one JSON object on stdout, exit 0 allowed /
1 forbidden / 2 error) and `certsmith doctor`, against the tests' own DNS server
(tests/support/dnsserver.py) through --dns-resolver, and Pebble for the CA's CAA identities."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pebble import PebbleCA
from test_cli_e2e import CERTSMITH

from support.dnsserver import DnsServer

pytestmark = pytest.mark.pebble

PEBBLE_ID = "pebble.letsencrypt.org"  # Pebble 2.10's meta.caaIdentities
ACCT = "https://ca.test/acme/acct/42"
SOA = "ns1.zone.test. hostmaster.zone.test. 1 7200 900 1209600 60"
ZONES: dict[str, dict[str, list[str]]] = {
    "zone.test": {"SOA": [SOA], "NS": ["ns1.zone.test."]},
    "plain.zone.test": {"A": ["127.0.0.1"]},  # no CAA anywhere above it
    # A dynamic-DNS provider forbids every CA for all its customers (like test.iptime.org).
    "ddns.zone.test": {"CAA": ['0 issue ";"', '0 issuewild ";"']},
    "myhost.ddns.zone.test": {"A": ["127.0.0.1"]},
    "wild.zone.test": {"CAA": [f'0 issue "{PEBBLE_ID}"', '0 issuewild ";"'], "A": ["127.0.0.1"]},
    "onlywild.zone.test": {"CAA": ['0 issue ";"', f'0 issuewild "{PEBBLE_ID}"']},
    "crit.zone.test": {"CAA": [f'0 issue "{PEBBLE_ID}"', '128 tbs "unknown"']},
    "acct.zone.test": {"CAA": [f'0 issue "{PEBBLE_ID}; accounturi={ACCT}"']},
    "method.zone.test": {"CAA": [f'0 issue "{PEBBLE_ID}; validationmethods=dns-01"']},
    "other.zone.test": {"CAA": ['0 issue "otherca.example"'], "A": ["127.0.0.1"]},
    "ours.zone.test": {"CAA": [f'0 issue "{PEBBLE_ID}"'], "A": ["127.0.0.1"]},
    "broken.zone.test": {"A": ["127.0.0.1"]},
}


@pytest.fixture(scope="module")
def dns_server() -> Iterator[DnsServer]:
    with DnsServer(ZONES) as server:
        server.fail("broken.zone.test", "servfail", "CAA")
        yield server


@dataclass
class Checks:
    ca: PebbleCA
    dns: DnsServer
    root: Path

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            CERTSMITH, *args,
            "--server", self.ca.directory_url, "--ca-bundle", str(self.ca.ca_bundle),
            "--config-dir", str(self.root / "config"), "--work-dir", str(self.root / "work"),
            "--logs-dir", str(self.root / "logs"), "--dns-resolver", self.dns.address, "-n",
        ]  # fmt: skip
        base = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES")}
        result = subprocess.run(
            argv,
            env={**base, "LANG": "C.UTF-8", "PYTHONWARNINGS": "error", **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    def caa(self, name: str, *extra: str, issuer: str | None = PEBBLE_ID) -> tuple[int, Any]:
        """(exit code, the one JSON object on stdout) of caa-check."""
        args = ["caa-check", "-d", name, *extra]
        if issuer is not None:
            args += ["--issuer", issuer]
        result = self.run(*args)
        lines = result.stdout.splitlines()
        assert len(lines) == 1, result.stdout + result.stderr
        data = json.loads(lines[0])
        assert isinstance(data, dict)
        assert {"verdict", "reason", "relevant_domain", "records"} <= set(data)
        assert isinstance(data["reason"], str) and data["reason"]
        return result.returncode, data


@pytest.fixture
def checks(pebble: PebbleCA, dns_server: DnsServer, tmp_path: Path) -> Checks:
    return Checks(pebble, dns_server, tmp_path)


# --- caa-check -----------------------------------------------------------------------------------


def test_no_caa_is_allowed(checks: Checks) -> None:
    code, data = checks.caa("plain.zone.test")
    assert (code, data["verdict"]) == (0, "allowed")
    assert data["records"] == []
    assert data["relevant_domain"] is None


def test_dynamic_dns_provider_forbids_everyone(checks: Checks) -> None:
    code, data = checks.caa("myhost.ddns.zone.test")
    assert (code, data["verdict"]) == (1, "forbidden")
    assert data["relevant_domain"] == "ddns.zone.test"
    assert sorted(data["records"]) == ['0 issue ";"', '0 issuewild ";"']
    assert "ddns.zone.test" in data["reason"]
    code, data = checks.caa("*.myhost.ddns.zone.test")
    assert (code, data["verdict"]) == (1, "forbidden")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wild.zone.test", "allowed"),
        ("*.wild.zone.test", "forbidden"),
        ("onlywild.zone.test", "forbidden"),
        ("*.onlywild.zone.test", "allowed"),
    ],
)
def test_issuewild_decides_for_wildcards(checks: Checks, name: str, expected: str) -> None:
    code, data = checks.caa(name)
    assert data["verdict"] == expected, data
    assert code == {"allowed": 0, "forbidden": 1}[expected]
    assert data["relevant_domain"] == name.removeprefix("*.")


def test_critical_unknown_tag_forbids(checks: Checks) -> None:
    code, data = checks.caa("crit.zone.test")
    assert (code, data["verdict"]) == (1, "forbidden")
    assert "tbs" in data["reason"]


def test_accounturi(checks: Checks) -> None:
    code, data = checks.caa("acct.zone.test", "--account-uri", ACCT)
    assert (code, data["verdict"]) == (0, "allowed")
    code, data = checks.caa("acct.zone.test", "--account-uri", ACCT.replace("42", "43"))
    assert (code, data["verdict"]) == (1, "forbidden")
    assert ACCT in data["reason"]
    code, data = checks.caa("acct.zone.test")  # unknown account: allowed, with a caveat
    assert (code, data["verdict"]) == (0, "allowed")
    assert data["caveat"]


def test_validationmethods(checks: Checks) -> None:
    code, data = checks.caa("method.zone.test", "--method", "dns-01")
    assert (code, data["verdict"]) == (0, "allowed")
    code, data = checks.caa("method.zone.test", "--method", "http-01")
    assert (code, data["verdict"]) == (1, "forbidden")
    assert "http-01" in data["reason"]


def test_servfail_is_an_error(checks: Checks) -> None:
    code, data = checks.caa("broken.zone.test")
    assert (code, data["verdict"]) == (2, "error")
    assert "broken.zone.test" in data["reason"]


def test_issuer_from_the_ca_directory(checks: Checks) -> None:
    code, data = checks.caa("ours.zone.test", issuer=None)
    assert (code, data["verdict"]) == (0, "allowed")
    assert PEBBLE_ID in data["reason"]
    code, data = checks.caa("other.zone.test", issuer=None)
    assert (code, data["verdict"]) == (1, "forbidden")
    assert PEBBLE_ID in data["reason"] and "otherca.example" in data["reason"]


def test_caa_check_usage_errors(checks: Checks) -> None:
    result = checks.run("caa-check", "--issuer", PEBBLE_ID)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "caa-check" in result.stderr


# --- doctor --------------------------------------------------------------------------------------


def test_doctor_json_ok(checks: Checks) -> None:
    result = checks.run("doctor", "-d", "ours.zone.test", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    data = json.loads(lines[0])
    names = [c["name"] for c in data["checks"]]
    assert "caa" in names, names
    assert all(c["identifier"] == "ours.zone.test" for c in data["checks"])
    caa = next(c for c in data["checks"] if c["name"] == "caa")
    assert caa["ok"] is True


def test_doctor_forbidden_caa(checks: Checks) -> None:
    result = checks.run("doctor", "-d", "other.zone.test", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(result.stdout)
    caa = next(c for c in data["checks"] if c["name"] == "caa")
    assert caa["ok"] is False and caa["severity"] == "error"
    assert "otherca.example" in caa["message"]

    text = checks.run("doctor", "-d", "other.zone.test")
    assert text.returncode == 1
    bad = [line for line in text.stdout.splitlines() if "other.zone.test" in line and "CAA" in line]
    assert bad and bad[0].startswith("[ERROR]"), text.stdout


def test_doctor_in_korean(checks: Checks) -> None:
    from certsmith.preflight.messages import load_templates

    result = checks.run("doctor", "-d", "other.zone.test", env={"LANG": "ko_KR.UTF-8"})
    assert result.returncode == 1
    ko = load_templates("ko")["caa.forbidden.not_listed"]
    fixed = [part for part in ko.replace("}", "{").split("{")[::2] if part.strip()]
    line = next(line for line in result.stdout.splitlines() if "CAA" in line)
    assert all(part in line for part in fixed), (line, fixed)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in line)
