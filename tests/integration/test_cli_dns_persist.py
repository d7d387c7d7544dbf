"""dns-persist-01 and dns-account-01 end to end, through the `certsmith` command line.

1. dns-persist-01 against Pebble 2.10 with challtestsrv serving the standing record: the record
   from `persist-record --json` published once (challtestsrv's /set-txt), then issuance and
   three forced renewals with no DNS write in between (challtestsrv logs every TXT it adds).
2. The pre-flight refuses, before any order, a record for another account and a wildcard
   without policy=wildcard, each in one sentence.
3. dns-account-01 through RFC 2136 (real BIND): two accounts validate the same name at the same
   time, each at its own `_<label>._acme-challenge` name.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli_dns01 import CERTSMITH, ca_flags, certsmith, credentials_file, ok, san_names

from certsmith import crypto
from certsmith.challenges.dns_account import account_label
from certsmith.storage import LineageStore
from support.bind import BindServer, named_path

pytestmark = [pytest.mark.pebble, pytest.mark.pebble_new]

needs_bind = pytest.mark.skipif(
    named_path() is None, reason="BIND9 `named` not installed: apt-get install -y bind9"
)


def txt_writes(ca: Any, host: str) -> int:
    """How many TXT values challtestsrv was told to add at ``host`` (it logs each one)."""
    log = (ca.workdir / "challtestsrv.log").read_text(errors="replace")
    wanted = f'Added TXT response for Host "{host}.'
    return sum(1 for line in log.splitlines() if wanted in line)


def publish(ca: Any, records: list[dict[str, str]]) -> None:
    for record in records:
        ca.challtest("/set-txt", {"host": record["name"] + ".", "value": record["value"]})


def persist_records(base: Path, ca: Any, *args: str) -> list[dict[str, str]]:
    out = certsmith(base, "persist-record", "--json", *args, *ca_flags(ca, ca.dns_address))
    assert out.returncode == 0, out.stderr
    records = json.loads(out.stdout)
    assert isinstance(records, list)
    return records


def test_issuance_and_three_renewals_change_no_dns(tmp_path: Path, pebble: Any) -> None:
    name = "persist-renew.example.test"
    records = persist_records(tmp_path, pebble, "-d", name)
    assert [r["name"] for r in records] == [f"_validation-persist.{name}"]
    account = json.loads(next((tmp_path / "etc" / "accounts").rglob("regr.json")).read_text())[
        "uri"
    ]
    assert records[0]["value"] == f"pebble.letsencrypt.org; accounturi={account}"
    publish(pebble, records)

    out = ok(certsmith(tmp_path, "certonly", "-a", "dns-persist", "-d", name,
                       *ca_flags(pebble, pebble.dns_address)))  # fmt: skip
    assert "Successfully received certificate" in out
    live = tmp_path / "etc" / "live" / name
    assert san_names(live) == [name]
    conf = LineageStore(tmp_path / "etc").load(name).conf.renewalparams
    assert conf.get("authenticator") == "dns-persist"

    serials = {
        crypto.inspect_certificate(
            LineageStore(tmp_path / "etc").load(name).certificate()
        ).serial_hex
    }
    for _ in range(3):
        out = ok(certsmith(tmp_path, "renew", "--force-renewal", "--no-random-sleep-on-renew"))
        assert "1 renewed, 0 not due, 0 failed" in out
        lineage = LineageStore(tmp_path / "etc").load(name)
        serials.add(crypto.inspect_certificate(lineage.certificate()).serial_hex)
    assert len(serials) == 4 and lineage.deployed_version == 4
    # One TXT write in all: ours, before the first order. None by certsmith, at any name.
    assert txt_writes(pebble, f"_validation-persist.{name}") == 1
    assert txt_writes(pebble, f"_acme-challenge.{name}") == 0


def test_preflight_refuses_another_accounts_record_before_any_order(
    tmp_path: Path, pebble: Any
) -> None:
    name = "persist-other.example.test"
    records = persist_records(tmp_path / "one", pebble, "-d", name)
    publish(pebble, records)  # names account one
    argv = ["certonly", "-a", "dns-persist", "-d", name, *ca_flags(pebble, pebble.dns_address)]
    # No account here yet: none could be named by the record, and none is registered for it.
    result = certsmith(tmp_path / "two", *argv)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No ACME account is registered with this CA yet" in result.stderr
    assert not (tmp_path / "two" / "etc" / "accounts").exists()
    # Account two exists (persist-record registered it): the record names account one.
    two = persist_records(tmp_path / "two", pebble, "-d", name)[0]["value"]
    result = certsmith(tmp_path / "two", *argv)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no order was created" in result.stderr
    assert "names the ACME account" in result.stderr and "not the account in use" in result.stderr
    assert records[0]["value"].split("accounturi=")[1] in result.stderr
    assert two.split("accounturi=")[1] in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "two" / "etc" / "live" / name).exists()


def test_wildcard_needs_policy_wildcard_and_works_with_it(tmp_path: Path, pebble: Any) -> None:
    name = "persist-wild.example.test"
    flags = ca_flags(pebble, pebble.dns_address)
    publish(pebble, persist_records(tmp_path, pebble, "-d", name))  # no policy
    result = certsmith(tmp_path, "certonly", "-a", "dns-persist", "-d", f"*.{name}", *flags)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "has no policy=wildcard" in result.stderr and "no order was created" in result.stderr

    wildcard = persist_records(tmp_path, pebble, "-d", name, "--wildcard")
    assert wildcard[0]["value"].endswith("; policy=wildcard")
    pebble.challtest("/clear-txt", {"host": f"_validation-persist.{name}."})
    publish(pebble, wildcard)
    ok(certsmith(tmp_path, "certonly", "-a", "dns-persist", "-d", f"*.{name}", "-d", name, *flags))
    assert san_names(tmp_path / "etc" / "live" / name) == [
        f"*.{name}",
        name,
    ]


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[BindServer]:
    zones: dict[str, list[str]] = {"test": [], "example.test": ["www A 127.0.0.1"]}
    with BindServer(tmp_path / "bind", zones) as server:
        yield server


@needs_bind
@pytest.mark.bind
def test_dns_account_01_two_accounts_validate_one_name_at_once(
    tmp_path: Path, bind: BindServer, pebble_factory: Callable[..., Any]
) -> None:
    ca = pebble_factory(dns_server=bind.address)
    creds = credentials_file(tmp_path / "rfc2136.ini", bind)
    name = "shared.example.test"
    procs = []
    for who in ("one", "two"):
        base = tmp_path / who
        folders = ["--config-dir", str(base / "etc"), "--work-dir", str(base / "work")]
        folders += ["--logs-dir", str(base / "logs")]
        argv = [str(CERTSMITH), "certonly", "--dns-rfc2136", "--dns-rfc2136-credentials",
                str(creds), "--preferred-challenges", "dns-account-01", "-d", name,
                *ca_flags(ca, bind.address), *folders, "-n", "-v"]  # fmt: skip
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    labels = []
    for who, proc in zip(("one", "two"), procs, strict=True):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (out + err).decode()
        assert san_names(tmp_path / who / "etc" / "live" / name) == [name]
        regr = next((tmp_path / who / "etc" / "accounts").rglob("regr.json"))
        labels.append(account_label(json.loads(regr.read_text())["uri"]))
        log = (tmp_path / who / "logs" / "letsencrypt.log").read_text()
        assert f"publishing TXT {labels[-1]}._acme-challenge.{name}" in log
    assert labels[0] != labels[1]
