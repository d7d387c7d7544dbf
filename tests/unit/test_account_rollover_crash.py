"""Hole 5 of issue 11: a key rollover interrupted at any step leaves an account that works.

The rollover (renewal/rollover.py) is pending key -> keyChange -> promote (save the new folder,
move the confs, delete the old folder). A failure is injected after each step; then the next
user of the account (``settle_rollovers``, as update_account and the renewal sessions call it)
must end with one stored account whose key the CA accepts, its lineages naming it.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith.acme import AcmeClient
from certsmith.acme.jws import AccountKey
from certsmith.errors import StorageError
from certsmith.renewal import rollover
from certsmith.renewal.account import Registration
from certsmith.renewal.ca import CaSessions
from certsmith.renewal.settings import LineageSettings
from certsmith.storage.accounts import PENDING_KEY_FILE, account_id, server_folder
from certsmith.storage.filesystem import file_stores
from certsmith.storage.interface import Stores, find_account
from support.scripted_accounts import AccountCA

NAME = "roll.example"


class Crash(Exception):
    """The injected failure: the process 'dies' here."""


def client(ca: AccountCA, key: object, url: str | None = None) -> AcmeClient:
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return AcmeClient(ca.directory_url, key, account_url=url, transport=ca.transport)


def setup(tmp_path: Path) -> tuple[AccountCA, Stores, str]:
    """A CA with one account, stored, and one lineage naming it."""
    ca = AccountCA()
    stores = file_stores(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())

    async def register() -> str:
        async with client(ca, key) as c:
            return (await c.new_account(terms_agreed=True)).url

    url = asyncio.run(register())
    ident = stores.accounts.save(ca.directory_url, key, url, {"contact": []})
    (tmp_path / "renewal").mkdir()
    conf = f"version = 5.8.0\n\n[renewalparams]\naccount = {ident}\nserver = {ca.directory_url}\n"
    (tmp_path / "renewal" / f"{NAME}.conf").write_text(conf)
    return ca, stores, url


def roll(ca: AccountCA, stores: Stores, new_key: AccountKey) -> None:
    stored = find_account(stores.accounts, ca.directory_url)
    assert stored is not None

    async def run() -> None:
        async with client(ca, stored.key, stored.uri) as c:
            await rollover.roll_over(c, stores, ca.directory_url, stored, new_key)

    asyncio.run(run())


def settle(ca: AccountCA, stores: Stores) -> None:
    asyncio.run(rollover.settle_rollovers(stores, ca.directory_url, lambda k: client(ca, k)))


def assert_one_working_account(ca: AccountCA, stores: Stores, tmp_path: Path, url: str) -> str:
    ids = stores.accounts.ids(ca.directory_url)
    assert len(ids) == 1, ids
    stored = stores.accounts.load(ca.directory_url, ids[0])
    assert stored.uri == url

    async def find() -> str:
        async with client(ca, stored.key) as c:
            return (await c.find_account()).url

    assert asyncio.run(find()) == url  # the CA accepts the stored key for this account
    folder = tmp_path / "accounts" / server_folder(ca.directory_url) / ids[0]
    assert not (folder / PENDING_KEY_FILE).exists()
    conf = (tmp_path / "renewal" / f"{NAME}.conf").read_text()
    assert f"account = {ids[0]}" in conf
    return ids[0]


def crash_on_keychange(monkeypatch: pytest.MonkeyPatch) -> None:
    async def dead(self: AcmeClient, new_key: AccountKey) -> None:
        raise Crash

    monkeypatch.setattr(AcmeClient, "rollover_key", dead)


def crash_after_keychange(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollover, "promote", _raise)


def crash_after_save(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollover, "move_lineages", _raise)


def crash_after_move(monkeypatch: pytest.MonkeyPatch, stores: Stores) -> None:
    monkeypatch.setattr(stores.accounts, "delete", _raise)


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise Crash


STEPS: dict[str, tuple[Callable[..., None], bool]] = {
    # step name: (injection, did the CA switch to the new key?)
    "after the pending key is written": (lambda mp, s: crash_on_keychange(mp), False),
    "after keyChange": (lambda mp, s: crash_after_keychange(mp), True),
    "after the new folder is saved": (lambda mp, s: crash_after_save(mp), True),
    "after the confs are moved": (crash_after_move, True),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_rollover_interrupted_at_each_step_leaves_an_account_that_works(
    tmp_path: Path, step: str
) -> None:
    ca, stores, url = setup(tmp_path)
    old_id = stores.accounts.ids(ca.directory_url)[0]
    new_key = ec.generate_private_key(ec.SECP256R1())
    inject, switched = STEPS[step]
    with pytest.MonkeyPatch.context() as mp:
        inject(mp, stores)
        with pytest.raises(Crash):
            roll(ca, stores, new_key)
    pending = tmp_path / "accounts" / server_folder(ca.directory_url) / old_id / PENDING_KEY_FILE
    assert stat.S_IMODE(pending.stat().st_mode) == 0o400
    assert json.loads(pending.read_text())["kty"] == "EC"
    assert ca.key_changes == (1 if switched else 0)

    settle(ca, stores)

    ident = assert_one_working_account(ca, stores, tmp_path, url)
    assert ident == (account_id(new_key) if switched else old_id)


def test_without_the_settling_an_interrupted_rollover_would_lose_the_account(
    tmp_path: Path,
) -> None:
    """What the pending key guards against: after keyChange the old key is refused."""
    ca, stores, _ = setup(tmp_path)
    new_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.MonkeyPatch.context() as mp:
        crash_after_keychange(mp)
        with pytest.raises(Crash):
            roll(ca, stores, new_key)
    stored = stores.accounts.load(ca.directory_url, stores.accounts.ids(ca.directory_url)[0])
    assert ca.url_of(_jwk(stored.key)) is None  # the stored key alone no longer works


def _jwk(key: Any) -> dict[str, Any]:
    from certsmith.acme import jws

    return jws.jwk(key)


def test_a_renewal_session_settles_an_interrupted_rollover_before_using_the_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, stores, url = setup(tmp_path)
    new_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.MonkeyPatch.context() as mp:
        crash_after_keychange(mp)
        with pytest.raises(Crash):
            roll(ca, stores, new_key)
    env: Any = type("Env", (), {})()
    env.stores, env.transport, env.verify_tls, env.user_agent = stores, ca.transport, True, "t"
    settings = LineageSettings(server=ca.directory_url)

    async def use() -> str:
        sessions = CaSessions(env, Registration())
        try:
            session = await sessions.session(settings)
            assert session.account is not None
            return (await session.client.find_account()).url
        finally:
            await sessions.aclose()

    assert asyncio.run(use()) == url
    assert assert_one_working_account(ca, stores, tmp_path, url) == account_id(new_key)


def test_a_pending_key_that_the_ca_gives_another_account_is_discarded(tmp_path: Path) -> None:
    ca, stores, url = setup(tmp_path)
    other = ec.generate_private_key(ec.SECP256R1())

    async def register_other() -> None:
        async with client(ca, other) as c:
            await c.new_account(terms_agreed=True)

    asyncio.run(register_other())
    old_id = stores.accounts.ids(ca.directory_url)[0]
    stores.accounts.save_pending_key(ca.directory_url, old_id, other)
    settle(ca, stores)
    assert assert_one_working_account(ca, stores, tmp_path, url) == old_id


def test_an_unreadable_pending_key_is_not_tried(tmp_path: Path) -> None:
    ca, stores, url = setup(tmp_path)
    old_id = stores.accounts.ids(ca.directory_url)[0]
    folder = tmp_path / "accounts" / server_folder(ca.directory_url) / old_id
    (folder / PENDING_KEY_FILE).write_text('{"kty": "EC"}')
    assert stores.accounts.pending_key(ca.directory_url, old_id) is None
    settle(ca, stores)
    assert stores.accounts.load(ca.directory_url, old_id).uri == url
    with pytest.raises(StorageError):
        stores.accounts.load(ca.directory_url, "0" * 32)
