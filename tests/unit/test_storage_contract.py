"""The storage Protocols' contract (storage/interface.py), run against both backends: the file
tree (file_stores) and dicts (memory_stores). A behaviour tested here is one the engine may rely
on whatever backend it was given."""

from __future__ import annotations

import asyncio
import datetime
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.errors import LineageCorrupt, LockHeld, StorageError, UsageError
from certsmith.storage.filesystem import file_stores
from certsmith.storage.interface import Stores
from certsmith.storage.memory import memory_stores
from certsmith.storage.renewal_state import QuickEntry, RenewalState

CA_KEY = crypto.generate_private_key()
CA_PEM = crypto.make_self_signed(CA_KEY, [], issuer_cn="Test CA")
SERVER = "https://acme.example/directory"
OTHER_SERVER = "https://other-ca.example/dir"


def issue(*names: str, key: crypto.PrivateKey | None = None) -> tuple[bytes, bytes]:
    """(key PEM, cert PEM) for ``names``, signed by the test CA."""
    key = key or crypto.generate_private_key()
    idents = [Identifier.dns(n) for n in names]
    cert = crypto.make_self_signed(key, idents, signer=CA_KEY, issuer_cn="Test CA")
    return crypto.private_key_pem(key), cert


@pytest.fixture(params=["file", "memory"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "file":
        yield file_stores(tmp_path / "etc")
    else:
        yield memory_stores()


def save_new(stores: Stores, name: str, *names: str) -> tuple[bytes, bytes]:
    key, cert = issue(*(names or (name,)))
    stores.lineages.save_version(name, key, cert, CA_PEM)
    return key, cert


def state_for(cert_pem: bytes, revision: str) -> RenewalState:
    info = crypto.inspect_certificate(crypto.load_certificates(cert_pem)[0])
    return RenewalState(revision, info.not_before, info.not_after, info.serial, "cert-id")


# --- lineages -------------------------------------------------------------------------------


def test_new_lineage_round_trips_cert_identifiers_version_and_key(stores: Stores) -> None:
    lineages = stores.lineages
    key, cert = issue("example.com", "www.example.com")
    conf = lineages.new_conf("example.com", {"authenticator": "standalone"})
    saved = lineages.save_version("example.com", key, cert, CA_PEM, conf=conf)
    loaded = lineages.load("example.com")
    for lineage in (saved, loaded):
        assert lineage.name == "example.com"
        assert lineage.deployed_version == 1 and lineage.versions == (1,)
        assert lineage.cert_pem == cert
        assert lineage.identifiers == (
            Identifier.dns("example.com"),
            Identifier.dns("www.example.com"),
        )
        assert lineage.private_key_pem() == key
        assert lineage.conf.renewalparams.get("authenticator") == "standalone"
        assert lineage.live_paths == lineages.live_paths("example.com")
        assert lineage.conf.path("fullchain") == str(lineage.live_paths["fullchain"])
    assert lineages.read_live_cert("example.com") == cert
    assert lineages.heal("example.com") == 1
    assert not lineages.update_interrupted("example.com", lineages.read_conf("example.com"))
    assert lineages.revision("example.com") is not None


def test_second_version_is_deployed_and_changes_the_revision(stores: Stores) -> None:
    lineages = stores.lineages
    save_new(stores, "example.com")
    first = lineages.revision("example.com")
    key2, cert2 = issue("example.com")
    lineage = lineages.save_version("example.com", key2, cert2, CA_PEM)
    assert lineage.deployed_version == 2 and lineage.versions == (2, 1)
    assert lineages.load("example.com").cert_pem == cert2
    assert lineages.read_live_cert("example.com") == cert2
    assert lineages.load("example.com").private_key_pem() == key2
    second = lineages.revision("example.com")
    assert second is not None and second != first
    assert lineages.revision("example.com") == second  # stable while nothing is saved


def test_key_none_reuses_the_deployed_key(stores: Stores) -> None:
    key, _ = save_new(stores, "example.com")
    _, cert2 = issue("example.com", key=crypto.load_private_key(key))
    lineage = stores.lineages.save_version("example.com", None, cert2, CA_PEM)
    assert lineage.deployed_version == 2
    assert lineage.private_key_pem() == key
    assert stores.lineages.load("example.com").cert_pem == cert2


def test_new_lineage_without_a_key_is_a_usage_error(stores: Stores) -> None:
    _, cert = issue("example.com")
    with pytest.raises(UsageError):
        stores.lineages.save_version("example.com", None, cert, CA_PEM)
    assert not stores.lineages.exists("example.com")


def test_mismatched_key_is_refused_and_nothing_changes(stores: Stores) -> None:
    lineages = stores.lineages
    _, cert1 = save_new(stores, "example.com")
    revision = lineages.revision("example.com")
    other_key, _ = issue("example.com")
    _, cert2 = issue("example.com")
    with pytest.raises(StorageError):
        lineages.save_version("example.com", other_key, cert2, CA_PEM)
    # key None reuses the deployed key, which does not match cert2 either
    with pytest.raises(StorageError):
        lineages.save_version("example.com", None, cert2, CA_PEM)
    lineage = lineages.load("example.com")
    assert lineage.deployed_version == 1 and lineage.cert_pem == cert1
    assert lineages.revision("example.com") == revision


def test_fullchain_not_starting_with_the_cert_is_refused(stores: Stores) -> None:
    key, cert = issue("example.com")
    with pytest.raises(StorageError):
        stores.lineages.save_version("example.com", key, cert, CA_PEM, CA_PEM + cert)
    assert not stores.lineages.exists("example.com")


def test_names_exists_and_delete(stores: Stores) -> None:
    lineages = stores.lineages
    assert lineages.names() == []
    save_new(stores, "b.example")
    save_new(stores, "a.example")
    assert lineages.names() == ["a.example", "b.example"]
    assert lineages.exists("a.example") and not lineages.exists("c.example")
    with lineages.lock("a.example"):
        lineages.delete("a.example")
    assert lineages.names() == ["b.example"]
    assert not lineages.exists("a.example")
    with pytest.raises(LineageCorrupt):
        lineages.load("a.example")
    assert lineages.load("b.example").deployed_version == 1


def test_missing_lineage_raises_lineage_corrupt(stores: Stores) -> None:
    for read in (stores.lineages.read_conf, stores.lineages.load, stores.lineages.read_live_cert):
        with pytest.raises(LineageCorrupt, match=r"No certificate named 'nope\.example'"):
            read("nope.example")


def test_recreated_lineage_starts_again_at_version_one(stores: Stores) -> None:
    lineages = stores.lineages
    save_new(stores, "example.com")
    save_new(stores, "example.com")
    lineages.delete("example.com")
    _, cert = save_new(stores, "example.com")
    lineage = lineages.load("example.com")
    assert lineage.deployed_version == 1 and lineage.versions == (1,)
    assert lineage.cert_pem == cert


@pytest.mark.parametrize("name", ["", "a/b", ".hidden", "x.conf"])
def test_bad_lineage_names_are_usage_errors(stores: Stores, name: str) -> None:
    key, cert = issue("example.com")
    with pytest.raises(UsageError):
        stores.lineages.save_version(name, key, cert, CA_PEM)
    with pytest.raises(UsageError):
        stores.lineages.lock(name)


def test_write_conf_replaces_settings_without_a_new_revision(stores: Stores) -> None:
    lineages = stores.lineages
    save_new(stores, "example.com")
    revision = lineages.revision("example.com")
    conf = lineages.read_conf("example.com")
    conf.set_renewalparams({"authenticator": "webroot", "webroot_map": {"example.com": "/srv"}})
    lineages.write_conf("example.com", conf)
    again = lineages.read_conf("example.com")
    assert again.renewalparams.get("authenticator") == "webroot"
    assert again.renewalparams.section("webroot_map").get("example.com") == "/srv"
    assert lineages.load("example.com").deployed_version == 1
    assert lineages.revision("example.com") == revision


def test_read_conf_returns_a_copy(stores: Stores) -> None:
    save_new(stores, "example.com")
    conf = stores.lineages.read_conf("example.com")
    conf.set_renewalparams({"authenticator": "manual"})
    assert stores.lineages.read_conf("example.com").renewalparams.get("authenticator") is None


def test_save_with_conf_sets_the_lineage_paths(stores: Stores) -> None:
    lineages = stores.lineages
    save_new(stores, "example.com")
    conf = lineages.read_conf("example.com")
    conf.root.set("cert", "/somewhere/else.pem")
    conf.root.remove("version")
    key, cert = issue("example.com")
    lineage = lineages.save_version("example.com", key, cert, CA_PEM, conf=conf)
    stored = lineages.read_conf("example.com")
    assert stored.path("cert") == str(lineage.live_paths["cert"])
    assert stored.get("version")
    assert stored.get("archive_dir") == str(lineage.archive_dir)


def test_available_name_appends_certbot_suffixes(stores: Stores) -> None:
    lineages = stores.lineages
    assert lineages.available_name("example.com") == "example.com"
    save_new(stores, "example.com")
    assert lineages.available_name("example.com") == "example.com-0001"
    save_new(stores, "example.com-0001", "example.com")
    assert lineages.available_name("example.com") == "example.com-0002"
    assert lineages.available_name("other.example") == "other.example"


# --- locks ----------------------------------------------------------------------------------


def test_lock_is_exclusive_per_lineage(stores: Stores) -> None:
    lineages = stores.lineages
    lease = lineages.lock("example.com", blocking=False)
    assert lease.held
    lease.refresh()  # held: no error
    with pytest.raises(LockHeld):
        lineages.lock("example.com", blocking=False)
    with lineages.lock("other.example", blocking=False) as other:
        assert other.held
    assert not other.held
    lease.release()
    assert not lease.held
    with pytest.raises(LockHeld):
        lease.refresh()
    lease.release()  # releasing twice is harmless
    with lineages.lock("example.com", blocking=False) as again:
        assert again.held
    with lineages.lock("other.example", blocking=False):  # released by leaving the block
        pass


def test_blocking_lock_gives_up_after_the_timeout(stores: Stores) -> None:
    with stores.lineages.lock("example.com"):
        start = time.monotonic()
        with pytest.raises(LockHeld):
            stores.lineages.lock("example.com", timeout=0.2)
        assert time.monotonic() - start >= 0.15


def test_blocking_lock_waits_for_another_thread(stores: Stores) -> None:
    lineages = stores.lineages
    held = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with lineages.lock("example.com"):
            held.set()
            time.sleep(0.2)
            order.append("released")

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(5)
    with pytest.raises(LockHeld):
        lineages.lock("example.com", blocking=False)
    with lineages.lock("example.com", timeout=10):
        order.append("acquired")
    thread.join(5)
    assert order == ["released", "acquired"]


async def test_lock_excludes_other_asyncio_tasks(stores: Stores) -> None:
    lineages = stores.lineages
    results: list[str] = []

    async def try_lock() -> None:
        try:
            lineages.lock("example.com", blocking=False).release()
            results.append("acquired")
        except LockHeld:
            results.append("busy")

    with lineages.lock("example.com"):
        await asyncio.create_task(try_lock())
    await asyncio.create_task(try_lock())
    assert results == ["busy", "acquired"]


# --- accounts -------------------------------------------------------------------------------


def test_accounts_save_load_list_and_delete(stores: Stores) -> None:
    accounts = stores.accounts
    assert accounts.ids(SERVER) == [] and accounts.list(SERVER) == []
    key_a, key_b = crypto.generate_private_key(), crypto.generate_private_key()
    id_a = accounts.save(SERVER, key_a, "https://acme.example/acct/a", {"status": "valid"})
    id_b = accounts.save(SERVER, key_b, "https://acme.example/acct/b")
    assert accounts.ids(SERVER) == sorted([id_a, id_b])
    assert [a.id for a in accounts.list(SERVER)] == sorted([id_a, id_b])
    assert accounts.ids(OTHER_SERVER) == []
    loaded = accounts.load(SERVER, id_a)
    assert loaded.id == id_a and loaded.uri == "https://acme.example/acct/a"
    assert loaded.body == {"status": "valid"}
    assert crypto.private_key_pem(loaded.key) == crypto.private_key_pem(key_a)
    assert "creation_dt" in loaded.meta
    accounts.update_regr(SERVER, id_a, "https://acme.example/acct/a2", {"status": "deactivated"})
    updated = accounts.load(SERVER, id_a)
    assert updated.uri == "https://acme.example/acct/a2"
    assert updated.body == {"status": "deactivated"}
    accounts.delete(SERVER, id_a)
    assert accounts.ids(SERVER) == [id_b]
    with pytest.raises(StorageError):
        accounts.load(SERVER, id_a)
    with pytest.raises(StorageError):
        accounts.delete(SERVER, id_a)


def test_saving_an_account_again_keeps_its_key_and_creation_meta(stores: Stores) -> None:
    accounts = stores.accounts
    key = crypto.generate_private_key()
    created = datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    ident = accounts.save(SERVER, key, "https://acme.example/acct/1", now=created, hostname="h1")
    same_key = crypto.load_private_key(crypto.private_key_pem(key))
    assert accounts.save(SERVER, same_key, "https://acme.example/acct/2") == ident
    account = accounts.load(SERVER, ident)
    assert accounts.ids(SERVER) == [ident]
    assert account.uri == "https://acme.example/acct/2"
    assert account.meta == {"creation_dt": "2020-01-02T03:04:05Z", "creation_host": "h1"}
    assert crypto.private_key_pem(account.key) == crypto.private_key_pem(key)


def test_account_body_is_not_shared_with_the_caller(stores: Stores) -> None:
    body = {"contact": ["mailto:a@example.com"]}
    ident = stores.accounts.save(SERVER, crypto.generate_private_key(), "https://u", body)
    body["contact"].append("mailto:b@example.com")
    stores.accounts.load(SERVER, ident).body["contact"].append("mailto:c@example.com")
    assert stores.accounts.load(SERVER, ident).body == {"contact": ["mailto:a@example.com"]}


# --- renewal state cache --------------------------------------------------------------------


def test_state_cache_answers_only_for_its_revision(stores: Stores) -> None:
    _, cert = save_new(stores, "example.com")
    revision = stores.lineages.revision("example.com")
    assert revision is not None
    assert stores.states.load("example.com", revision) is None
    state = state_for(cert, revision)
    stores.states.save("example.com", state)
    assert stores.states.load("example.com", revision) == state
    assert stores.states.load("example.com", revision + "x") is None
    assert stores.states.load("example.com", None) is None
    assert stores.states.load("other.example", revision) is None

    key2, cert2 = issue("example.com")
    stores.lineages.save_version("example.com", key2, cert2, CA_PEM)
    new_revision = stores.lineages.revision("example.com")
    assert stores.states.load("example.com", new_revision) is None
    stores.states.save("example.com", state_for(cert2, str(new_revision)))
    assert stores.states.load("example.com", new_revision) is not None
    assert stores.states.load("example.com", revision) is None


def test_state_cache_delete_and_hand_over_entries(stores: Stores) -> None:
    states = stores.states
    state = state_for(issue("example.com")[1], "rev-1").with_ari({"suggestedWindow": {}})
    states.save("example.com", state)
    handed = states.entries(["example.com", "untouched.example"])
    assert list(handed) == ["example.com"]
    states.flush()
    states.delete("example.com")
    assert states.load("example.com", "rev-1") is None
    states.merge(handed)
    assert states.load("example.com", "rev-1") == state
    states.flush()
    assert states.load("example.com", "rev-1") == state


def test_state_cache_quick_entry_round_trips_with_and_without_the_report_columns(
    stores: Stores,
) -> None:
    state = state_for(issue("example.com")[1], "rev-1")
    reported = QuickEntry("c-1", "loc", "rev-1", 10.0, math.inf, "/live/a/fullchain.pem", 2e9)
    older = QuickEntry("c-1", "loc", "rev-1", 10.0, 20.0)  # saved before the report columns
    stores.states.save("a.example", replace(state, quick=reported))
    stores.states.save("b.example", replace(state, quick=older))
    stores.states.flush()
    assert stores.states.quick("a.example") == reported
    assert stores.states.quick("b.example") == older
    assert stores.states.load("a.example", "rev-1") == replace(state, quick=reported)


def test_revision_of_a_missing_lineage_is_none(stores: Stores) -> None:
    assert stores.lineages.revision("nope.example") is None


def test_recreated_lineage_gets_a_new_revision(stores: Stores) -> None:
    save_new(stores, "example.com")
    old = stores.lineages.revision("example.com")
    stores.lineages.delete("example.com")
    save_new(stores, "example.com")
    assert stores.lineages.revision("example.com") != old
