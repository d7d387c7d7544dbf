"""certsmith's storage and certbot 5.8.0 read and write each other's files.

1. A lineage certsmith wrote is listed correctly by ``certbot certificates``.
2. Renewal confs certsmith writes parse the same with configobj (certbot's parser).
3. A lineage and account certbot obtained from Pebble load in certsmith's stores; certsmith adds
   version 2, certbot still lists it, certbot renews it to version 3 and certsmith follows;
   an account re-saved by certsmith is used by certbot without registering again.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.storage import ALL_FOUR, AccountStore, LineageStore, RenewalConf
from support.certbot_peer import (
    CERTBOT,
    CERTBOT_PYTHON,
    assert_listed,
    certbot_listing,
    configobj_reads,
    pebble_for_certbot,
    run_in,
    standalone_args,
)

pytestmark = [
    pytest.mark.certbot,
    pytest.mark.skipif(not CERTBOT.exists(), reason="certbot interop venv missing"),
]


def run_certbot(base: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return run_in(CERTBOT, base, *args, env=env)


CA_KEY = crypto.generate_private_key()
CA_PEM = crypto.make_self_signed(CA_KEY, [], issuer_cn="Interop CA")


def issue(names: list[Identifier], key: crypto.PrivateKey, days: int = 60) -> bytes:
    return crypto.make_self_signed(key, names, signer=CA_KEY, issuer_cn="Interop CA", days=days)


def test_certbot_lists_certsmith_lineage(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "etc")
    idents = [Identifier.dns("interop.test"), Identifier.dns("www.interop.test")]
    key = crypto.generate_private_key("rsa")
    conf = store.new_conf(
        "interop.test",
        {
            "authenticator": "webroot",
            "server": "https://127.0.0.1:14000/dir",
            "key_type": "rsa",
            "webroot_path": ["/srv/www"],
            "webroot_map": {"interop.test": "/srv/www", "www.interop.test": "/srv/www"},
        },
    )
    store.save_version(
        "interop.test", crypto.private_key_pem(key), issue(idents, key), CA_PEM, conf=conf
    )
    ip_key = crypto.generate_private_key()
    ip_idents = [Identifier.ip("127.0.0.1"), Identifier.dns("ip.test")]
    store.save_version("ip.test", crypto.private_key_pem(ip_key), issue(ip_idents, ip_key), CA_PEM)
    listed = certbot_listing(run_certbot(tmp_path, "certificates"))
    assert sorted(listed) == ["interop.test", "ip.test"]
    assert_listed(listed["interop.test"], store.load("interop.test"))
    assert_listed(listed["ip.test"], store.load("ip.test"))
    assert listed["interop.test"]["Key Type"] == "RSA"


def test_configobj_parses_certsmith_confs_identically(tmp_path: Path) -> None:
    conf = RenewalConf.new(
        "/etc/x/archive/n",
        {kind: f"/etc/x/live/n/{kind}.pem" for kind in ALL_FOUR},
        {
            "authenticator": "webroot",
            "webroot_path": ["/srv/a, b", " lead", "plain"],
            "pref_challs": ["http-01"],
            "empty_list": [],
            "quotes": 'say "hi"',
            "hash": "a#b",
            "both": 'it\'s "x"',
            "blank": "",
            "webroot_map": {"a.test": "/srv/a, b", "*.b.test": "/srv/b"},
        },
        "5.8.0",
    )
    path = tmp_path / "n.conf"
    path.write_text(conf.serialize())
    theirs = configobj_reads(path)
    assert theirs is not None
    ours = RenewalConf.parse(path.read_text())
    params = ours.renewalparams
    expected_params: dict[str, Any] = dict(params.values)
    expected_params["webroot_map"] = dict(params.sections["webroot_map"].values)
    assert theirs["renewalparams"] == expected_params
    assert {k: v for k, v in theirs.items() if k != "renewalparams"} == ours.root.values


@pytest.mark.pebble
def test_certbot_lineage_and_account_round_trip(
    tmp_path: Path, pebble_factory: Callable[..., Any]
) -> None:
    name = "certbot-interop.test"
    pebble = pebble_for_certbot(pebble_factory, name)
    env = {"REQUESTS_CA_BUNDLE": str(pebble.ca_bundle)}
    obtain = [*standalone_args(pebble), "-n"]
    run_certbot(
        tmp_path,
        "certonly",
        "-d",
        name,
        "--agree-tos",
        "--register-unsafely-without-email",
        *obtain,
        env=env,
    )

    store = LineageStore(tmp_path / "etc")
    assert store.names() == [name]
    lineage = store.load(name)
    assert lineage.deployed_version == 1 and lineage.versions == (1,)
    assert lineage.identifiers == (Identifier.dns(name),)
    key = crypto.load_private_key(lineage.private_key_pem())
    assert crypto.key_matches_certificate(key, lineage.certificate())
    assert lineage.conf.renewalparams.get("authenticator") == "standalone"
    assert lineage.conf.renewalparams.get("server") == pebble.directory_url

    accounts = AccountStore(tmp_path / "etc")
    (account,) = accounts.list(pebble.directory_url)
    assert account.uri.startswith(f"https://127.0.0.1:{pebble.acme_port}/")
    assert lineage.conf.renewalparams.get("account") == account.id
    assert "creation_dt" in account.meta

    # certsmith writes version 2; certbot still lists the lineage, now with the new cert.
    new_key = crypto.generate_private_key()
    cert2 = issue([Identifier.dns(name)], new_key, days=30)
    with store.lock(name):
        second = store.save_version(name, crypto.private_key_pem(new_key), cert2, CA_PEM)
    assert second.deployed_version == 2
    listed = certbot_listing(run_certbot(tmp_path, "certificates"))
    assert_listed(listed[name], store.load(name))

    # The account re-saved by certsmith is the one certbot keeps using (no new registration).
    account_dir = accounts.server_dir(pebble.directory_url) / account.id
    for child in account_dir.iterdir():
        child.chmod(0o600)
        child.unlink()
    account_dir.rmdir()
    ident = accounts.save(
        pebble.directory_url, account.key, account.uri, account.body, account.meta
    )
    assert ident == account.id
    run_certbot(
        tmp_path,
        "renew",
        "--cert-name",
        name,
        "--force-renewal",
        "--no-random-sleep-on-renew",
        *obtain,
        env=env,
    )
    assert [a.id for a in accounts.list(pebble.directory_url)] == [account.id]

    # certbot deployed version 3 over certsmith's state record: certsmith follows the links.
    third = LineageStore(tmp_path / "etc").load(name)
    assert third.deployed_version == 3
    info = crypto.inspect_certificate(third.certificate())
    assert info.issuer_cn != "Interop CA"
    third_key = crypto.load_private_key(third.private_key_pem())
    assert crypto.key_matches_certificate(third_key, third.certificate())


@pytest.mark.parametrize("key_type", ["ecdsa", "rsa"])
def test_certbot_loads_certsmith_accounts(tmp_path: Path, key_type: str) -> None:
    accounts = AccountStore(tmp_path)
    url = "https://127.0.0.1:14000/dir"
    body = {"status": "valid", "contact": ["mailto:a@example.test"], "orders": "https://o/1"}
    ident = accounts.save(url, crypto.generate_private_key(key_type), "https://a/acct/7", body)
    code = (
        "import sys, json\n"
        "from acme import messages\n"
        "import josepy\n"
        "from certbot._internal.account import Account\n"
        "d = sys.argv[1]\n"
        "regr = messages.RegistrationResource.json_loads(open(d + '/regr.json').read())\n"
        "key = josepy.JWK.json_loads(open(d + '/private_key.json').read())\n"
        "meta = Account.Meta.json_loads(open(d + '/meta.json').read())\n"
        "acct = Account(regr, key, meta)\n"
        "print(json.dumps([acct.id, regr.uri, regr.body.status, list(regr.body.contact)]))\n"
    )
    result = subprocess.run(
        [str(CERTBOT_PYTHON), "-c", code, str(accounts.server_dir(url) / ident)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout) == [ident, "https://a/acct/7", "valid", body["contact"]]
