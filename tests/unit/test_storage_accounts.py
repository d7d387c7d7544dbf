"""ACME accounts in certbot's layout (certsmith.storage.accounts)."""

from __future__ import annotations

import datetime
import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith import crypto
from certsmith.errors import StorageError
from certsmith.storage import AccountStore, account_id, key_from_jwk, private_jwk, server_folder

LE = "https://acme-v02.api.letsencrypt.org/directory"
PEBBLE = "https://127.0.0.1:14000/dir"
# RFC 7515 appendix A.3: an ECDSA P-256 private JWK.
RFC7515_EC = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
}


def test_server_folder_is_netloc_plus_path() -> None:
    assert server_folder(LE) == "acme-v02.api.letsencrypt.org/directory"
    assert server_folder(PEBBLE) == "127.0.0.1:14000/dir"


@pytest.mark.parametrize("url", ["https://x/../../etc", "not a url", "https://a/./b"])
def test_server_folder_rejects_escapes(url: str) -> None:
    with pytest.raises(StorageError):
        server_folder(url)


def test_rfc7515_jwk_round_trips() -> None:
    key = key_from_jwk(RFC7515_EC)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert private_jwk(key) == RFC7515_EC


@pytest.mark.parametrize("kind", ["rsa", "p384", "p521"])
def test_jwk_round_trip(kind: str) -> None:
    if kind == "rsa":
        key = crypto.generate_private_key("rsa")
    else:
        curve = {"p384": "secp384r1", "p521": "secp521r1"}[kind]
        key = crypto.generate_private_key(elliptic_curve=curve)
    jwk = private_jwk(key)
    assert crypto.private_key_pem(key_from_jwk(jwk)) == crypto.private_key_pem(key)
    if kind == "p521":
        assert len(jwk["d"]) == 88  # 66 bytes, fixed width as josepy writes
    if kind == "rsa":
        assert set(jwk) == {"kty", "n", "e", "d", "p", "q", "dp", "dq", "qi"}
        assert jwk["e"] == "AQAB"


def test_jwk_without_crt_members_still_loads() -> None:
    key = crypto.generate_private_key("rsa")
    jwk = {k: v for k, v in private_jwk(key).items() if k not in ("dp", "dq", "qi")}
    assert crypto.private_key_pem(key_from_jwk(jwk)) == crypto.private_key_pem(key)


@pytest.mark.parametrize(
    "jwk",
    [
        {},
        {"kty": "oct", "k": "AA"},
        {"kty": "EC", "crv": "P-999"},
        {**RFC7515_EC, "x": RFC7515_EC["y"]},
        {**RFC7515_EC, "d": "AA"},
    ],
)
def test_bad_jwk(jwk: dict[str, str]) -> None:
    with pytest.raises(StorageError):
        key_from_jwk(jwk)


def test_account_id_is_md5_of_spki_pem() -> None:
    key = key_from_jwk(RFC7515_EC)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert account_id(key) == hashlib.md5(pem).hexdigest()


def test_save_load_list_delete(tmp_path: Path, umask0: None) -> None:
    store = AccountStore(tmp_path)
    key = crypto.generate_private_key()
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=datetime.UTC)
    ident = store.save(
        PEBBLE,
        key,
        "https://127.0.0.1:14000/my-account/1",
        {"status": "valid", "contact": []},
        now=when,
        hostname="host.test",
    )
    directory = tmp_path / "accounts" / "127.0.0.1:14000" / "dir" / ident
    assert ident == account_id(key)
    assert stat.S_IMODE((directory / "private_key.json").stat().st_mode) == 0o400
    for folder in (tmp_path / "accounts", directory):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert json.loads((directory / "meta.json").read_text()) == {
        "creation_dt": "2026-01-02T03:04:05Z",
        "creation_host": "host.test",
    }
    assert json.loads((directory / "regr.json").read_text()) == {
        "body": {"status": "valid", "contact": []},
        "uri": "https://127.0.0.1:14000/my-account/1",
    }
    loaded = store.load(PEBBLE, ident)
    assert loaded.uri.endswith("/my-account/1") and loaded.body["status"] == "valid"
    assert crypto.private_key_pem(loaded.key) == crypto.private_key_pem(key)
    other = store.save(PEBBLE, crypto.generate_private_key("rsa"), "https://127.0.0.1:14000/a/2")
    assert sorted(a.id for a in store.list(PEBBLE)) == sorted([ident, other])
    assert store.list(LE) == []
    assert store.save(PEBBLE, key, "https://127.0.0.1:14000/my-account/1") == ident
    assert store.load(PEBBLE, ident).meta["creation_host"] == "host.test"  # meta kept
    store.update_regr(PEBBLE, ident, "https://127.0.0.1:14000/my-account/1", {"status": "x"})
    assert store.load(PEBBLE, ident).body == {"status": "x"}
    store.delete(PEBBLE, ident)
    assert [a.id for a in store.list(PEBBLE)] == [other]
    with pytest.raises(StorageError, match="No account"):
        store.load(PEBBLE, ident)


def test_broken_account_is_skipped_by_list(tmp_path: Path) -> None:
    store = AccountStore(tmp_path)
    good = store.save(PEBBLE, crypto.generate_private_key(), "https://127.0.0.1:14000/a/1")
    bad = store.save(PEBBLE, crypto.generate_private_key(), "https://127.0.0.1:14000/a/2")
    (store.server_dir(PEBBLE) / bad / "regr.json").write_text("{not json")
    assert [a.id for a in store.list(PEBBLE)] == [good]


def test_key_of_another_account_is_refused(tmp_path: Path) -> None:
    store = AccountStore(tmp_path)
    one = store.save(PEBBLE, crypto.generate_private_key(), "https://127.0.0.1:14000/a/1")
    two = store.save(PEBBLE, crypto.generate_private_key(), "https://127.0.0.1:14000/a/2")
    target = store.server_dir(PEBBLE) / one / "private_key.json"
    target.chmod(0o600)
    target.write_text((store.server_dir(PEBBLE) / two / "private_key.json").read_text())
    with pytest.raises(StorageError, match="another account"):
        store.load(PEBBLE, one)


def test_v01_accounts_are_found_for_v02(tmp_path: Path) -> None:
    store = AccountStore(tmp_path)
    v01 = "https://acme-v01.api.letsencrypt.org/directory"
    ident = store.save(v01, crypto.generate_private_key(), "https://acme-v01/acct/1")
    assert [a.id for a in store.list(LE)] == [ident]


@pytest.mark.parametrize("bad", ["", "../x", ".hidden"])
def test_bad_account_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(StorageError):
        AccountStore(tmp_path).load(PEBBLE, bad)
