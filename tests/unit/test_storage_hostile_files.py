"""Damaged or hostile JSON files under config_dir: never a traceback, always a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from certsmith import crypto
from certsmith.errors import StorageError
from certsmith.storage import AccountStore

PEBBLE = "https://127.0.0.1:14000/dir"
NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("regr.json", NESTED),
        ("private_key.json", NESTED),
        ("meta.json", NESTED),
        ("regr.json", '{"uri": ["https://x/a"]}'),
        ("private_key.json", '{"kty": "RSA", "n": 1, "e": "AQAB"}'),
        ("private_key.json", '{"kty": "EC", "crv": ["P-256"], "x": "", "y": "", "d": ""}'),
        ("private_key.json", '{"kty": "oct", "k": "AAAA"}'),
        ("private_key.json", "[]"),
        ("regr.json", "\udcff".encode("utf-8", "surrogatepass").decode("latin-1")),
    ],
)
def test_malformed_account_files_raise_storage_error(tmp_path: Path, file: str, text: str) -> None:
    store = AccountStore(tmp_path)
    ident = store.save(PEBBLE, crypto.generate_private_key(), "https://127.0.0.1:14000/a/1")
    path = store.server_dir(PEBBLE) / ident / file
    path.chmod(0o600)
    path.write_text(text, encoding="latin-1")
    with pytest.raises(StorageError):
        store.load(PEBBLE, ident)
    assert store.list(PEBBLE) == []  # skipped, not fatal


def test_deeply_nested_state_files_are_ignored(tmp_path: Path) -> None:
    from certsmith.storage.archive import STATE_FILE, read_state
    from certsmith.storage.renewal_state import RenewalStateStore

    (tmp_path / STATE_FILE).write_text(NESTED)
    assert read_state(tmp_path) is None
    states = RenewalStateStore(tmp_path)
    states.root.mkdir()
    states.path.write_text(NESTED)
    assert states.load("x", tmp_path / "cert.pem") is None
