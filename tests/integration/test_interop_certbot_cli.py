"""certsmith's command line and certbot 5.8.0 renew each other's lineages in one --config-dir.

1. certbot obtains (standalone, Pebble); `certsmith renew --force-renewal` renews it to version 2
   with a new key and certbot still lists it; `certbot renew --force-renewal` makes version 3 and
   `certsmith certificates --json` shows it.
2. certsmith obtains; `certbot certificates` lists it; `certbot renew --force-renewal` renews it
   with certsmith's account and renewal conf (which carries certsmith_* keys).
3. Renewal conf values (hooks with quotes, lists, comments) read as configobj reads them.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certsmith import crypto
from certsmith.errors import LineageCorrupt
from certsmith.storage import AccountStore, LineageStore, RenewalConf
from support.certbot_peer import (
    CERTBOT,
    CERTSMITH,
    STANDALONE_ADDRESS,
    assert_listed,
    certbot_listing,
    configobj_reads,
    listed_names,
    pebble_for_certbot,
    run_in,
    standalone_args,
)

pytestmark = [
    pytest.mark.certbot,
    pytest.mark.pebble,
    pytest.mark.skipif(not CERTBOT.exists(), reason="certbot interop venv missing"),
]

FORCE_RENEW = ("renew", "--force-renewal", "--no-random-sleep-on-renew")
REGISTER = ("--agree-tos", "--register-unsafely-without-email")


def run(tool: Path, base: Path, pebble: Any, *args: str, stdout_only: bool = False) -> str:
    """Run certbot or certsmith with the shared folders; fail the test on a non-zero exit.

    certsmith runs with -v so a failure shows the detail."""
    env = {
        "REQUESTS_CA_BUNDLE": str(pebble.ca_bundle),
        "PYTHONWARNINGS": "error" if tool == CERTSMITH else "ignore",
    }
    extra = ("-v",) if tool == CERTSMITH else ()
    return run_in(tool, base, *args, env=env, extra=extra, stdout_only=stdout_only)


def certsmith_ca_args(pebble: Any) -> list[str]:
    """What certsmith needs on the command line to trust and resolve like ``pebble``."""
    return ["--ca-bundle", str(pebble.ca_bundle), "--dns-resolver", pebble.dns_address]


def certbot_lists_only(base: Path, pebble: Any, name: str) -> dict[str, str]:
    """``certbot certificates`` lists ``name`` alone, as certsmith sees its deployed version."""
    listed = certbot_listing(run(CERTBOT, base, pebble, "certificates"))
    assert list(listed) == [name]
    assert listed_names(listed[name]) == [name]
    assert_listed(listed[name], LineageStore(base / "etc").load(name))
    return listed[name]


def live_key_pem(base: Path, name: str) -> bytes:
    return (base / "etc" / "live" / name / "privkey.pem").read_bytes()


def test_certsmith_renews_certbot_lineage_then_certbot_again(
    tmp_path: Path, pebble_factory: Callable[..., Any]
) -> None:
    name = "cb-first.test"
    pebble = pebble_for_certbot(pebble_factory, name)
    obtain = [*standalone_args(pebble), *REGISTER, "-n"]
    run(CERTBOT, tmp_path, pebble, "certonly", "-d", name, *obtain)
    store = LineageStore(tmp_path / "etc")
    first = store.load(name)
    assert first.versions == (1,)
    params = first.conf.renewalparams
    assert params.get("authenticator") == "standalone"
    assert params.get("http01_address") == STANDALONE_ADDRESS
    key1 = live_key_pem(tmp_path, name)
    serial1 = crypto.inspect_certificate(first.certificate()).serial_hex

    # certsmith renews with certbot's stored settings; the CA bundle is given on the command line.
    out = run(CERTSMITH, tmp_path, pebble, *FORCE_RENEW, *certsmith_ca_args(pebble), "-n")
    assert "1 renewed, 0 not due, 0 failed" in out
    second = LineageStore(tmp_path / "etc").load(name)
    assert second.versions == (2, 1) and second.deployed_version == 2
    for kind, link in second.live_paths.items():
        assert os.readlink(link).endswith(f"{kind}2.pem"), (kind, os.readlink(link))
    key2 = live_key_pem(tmp_path, name)
    assert key2 != key1  # certbot's default reuse_key = False
    key = crypto.load_private_key(key2)
    assert crypto.key_matches_certificate(key, second.certificate())
    serial2 = crypto.inspect_certificate(second.certificate()).serial_hex
    assert serial2 != serial1
    kept = second.conf.renewalparams
    assert kept.get("account") == params.get("account")
    for field in ("authenticator", "server", "http01_port", "http01_address", "config_dir"):
        assert kept.get(field) == params.get(field), field  # config_dir: a key we keep as is

    certbot_lists_only(tmp_path, pebble, name)

    run(CERTBOT, tmp_path, pebble, *FORCE_RENEW, "-n")
    third = LineageStore(tmp_path / "etc").load(name)
    assert third.deployed_version == 3
    info3 = crypto.inspect_certificate(third.certificate())
    assert info3.serial_hex not in {serial1, serial2}
    shown = json.loads(run(CERTSMITH, tmp_path, pebble, "certificates", "--json", stdout_only=True))
    (entry,) = shown["certificates"]
    assert entry["name"] == name
    assert entry["serial"] == info3.serial_hex
    assert entry["status"] == "valid"
    assert entry["identifiers"] == [name]
    not_after = datetime.datetime.fromisoformat(entry["not_after"].replace("Z", "+00:00"))
    assert not_after == info3.not_after


def test_certbot_lists_and_renews_certsmith_lineage(
    tmp_path: Path, pebble_factory: Callable[..., Any]
) -> None:
    name = "cs-first.test"
    pebble = pebble_for_certbot(pebble_factory, name)
    obtain = [*standalone_args(pebble), *certsmith_ca_args(pebble), *REGISTER, "-n"]
    run(CERTSMITH, tmp_path, pebble, "certonly", "-d", name, *obtain)
    store = LineageStore(tmp_path / "etc")
    first = store.load(name)
    params = first.conf.renewalparams
    assert params.get("certsmith_ca_bundle") == str(pebble.ca_bundle)  # extra key certbot sees
    (account,) = AccountStore(tmp_path / "etc").list(pebble.directory_url)
    assert params.get("account") == account.id
    serial1 = crypto.inspect_certificate(first.certificate()).serial_hex

    assert certbot_lists_only(tmp_path, pebble, name)["Key Type"] == "ECDSA"

    out = run(CERTBOT, tmp_path, pebble, *FORCE_RENEW, "-n")
    assert "renewed" in out.lower() or "success" in out.lower(), out
    second = LineageStore(tmp_path / "etc").load(name)
    assert second.deployed_version == 2
    assert crypto.inspect_certificate(second.certificate()).serial_hex != serial1
    # certbot used certsmith's account: no second registration.
    assert [a.id for a in AccountStore(tmp_path / "etc").list(pebble.directory_url)] == [account.id]
    assert second.conf.renewalparams.get("account") == account.id
    key = crypto.load_private_key(live_key_pem(tmp_path, name))
    assert crypto.key_matches_certificate(key, second.certificate())
    certbot_lists_only(tmp_path, pebble, name)

    # certbot rewrote [renewalparams] without certsmith's keys: certsmith renews the result.
    out = run(CERTSMITH, tmp_path, pebble, *FORCE_RENEW, *certsmith_ca_args(pebble))
    assert "1 renewed, 0 not due, 0 failed" in out
    assert LineageStore(tmp_path / "etc").load(name).deployed_version == 3


RAW_VALUES = [
    'echo "deploy $RENEWED_LINEAGE" >> /tmp/hooks.log',  # what `--deploy-hook` often holds
    "systemctl reload nginx # reload",
    "a'b",
    'a, "b, c", d',
    'x"y, z',
    "one,",
    ",",
    '""',
    "'it''s'",
    "   spaced out   ",
    "#only a comment",
    '"a"b", c,',
]
BAD_VALUES = ['"a" b', "a,,b", '"open', ", a"]


def test_renewal_conf_values_read_as_configobj_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "n.conf"
    for raw in RAW_VALUES:
        path.write_text(f"[renewalparams]\nk = {raw}\n")
        theirs = configobj_reads(path)
        assert theirs is not None, raw
        ours = RenewalConf.parse(path.read_text()).renewalparams.values
        assert ours == theirs["renewalparams"], raw
        # ... and certsmith writes it back so configobj reads the same value again.
        path.write_text(RenewalConf.parse(path.read_text()).serialize())
        assert configobj_reads(path) == theirs, raw
    for raw in BAD_VALUES:
        path.write_text(f"[renewalparams]\nk = {raw}\n")
        assert configobj_reads(path) is None, raw
        with pytest.raises(LineageCorrupt):
            RenewalConf.parse(path.read_text())
