"""Lineages on disk: layout, naming, versions, certbot-written lineages, healing, locks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.errors import LineageCorrupt, LockHeld, StorageError, UsageError
from certsmith.storage import ALL_FOUR, LineageStore
from certsmith.storage.archive import STATE_FILE, DeployState, read_state, write_state

CA_KEY = crypto.generate_private_key()
CA_PEM = crypto.make_self_signed(CA_KEY, [], issuer_cn="Test CA")


def issue(*names: str, key: crypto.PrivateKey | None = None) -> tuple[bytes, bytes]:
    """(key PEM, cert PEM) for ``names``, signed by the test CA."""
    key = key or crypto.generate_private_key()
    idents = [Identifier.dns(n) for n in names]
    cert = crypto.make_self_signed(key, idents, signer=CA_KEY, issuer_cn="Test CA")
    return crypto.private_key_pem(key), cert


@pytest.fixture
def store(tmp_path: Path) -> LineageStore:
    return LineageStore(tmp_path / "etc")


def assert_deployable(store: LineageStore, name: str) -> int:
    """All four live links exist, are relative, agree on one version, and key matches cert."""
    live = store.live_root / name
    versions = set()
    for kind in ALL_FOUR:
        link = live / f"{kind}.pem"
        target = os.readlink(link)
        assert (
            target == f"../../archive/{name}/{kind}{target[len(f'../../archive/{name}/{kind}') :]}"
        )
        assert link.exists()
        versions.add(int(Path(target).name[len(kind) : -len(".pem")]))
    assert len(versions) == 1
    key = crypto.load_private_key((live / "privkey.pem").read_bytes())
    cert = crypto.load_certificates((live / "cert.pem").read_bytes())[0]
    assert crypto.key_matches_certificate(key, cert)
    full = crypto.load_certificates((live / "fullchain.pem").read_bytes())
    assert full[0] == cert
    return versions.pop()


def test_new_lineage_layout(store: LineageStore, umask0: None) -> None:
    key, cert = issue("example.com", "www.example.com")
    conf = store.new_conf("example.com", {"authenticator": "standalone", "key_type": "ecdsa"})
    lineage = store.save_version("example.com", key, cert, CA_PEM, conf=conf)
    assert lineage.deployed_version == 1 and lineage.versions == (1,)
    assert lineage.identifiers == (Identifier.dns("example.com"), Identifier.dns("www.example.com"))
    assert lineage.cert_pem == cert
    assert os.readlink(store.live_root / "example.com" / "cert.pem") == (
        "../../archive/example.com/cert1.pem"
    )
    assert (store.archive_root / "example.com" / "fullchain1.pem").read_bytes() == cert + CA_PEM
    assert stat.S_IMODE((store.archive_root / "example.com/privkey1.pem").stat().st_mode) == 0o600
    for directory in (store.config_dir, store.renewal_dir, store.archive_root, store.live_root):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert (store.live_root / "example.com" / "README").is_file()
    assert (store.live_root / "README").is_file()
    assert store.names() == ["example.com"]
    assert lineage.conf.renewalparams.get("authenticator") == "standalone"
    assert lineage.conf.path("fullchain") == str(store.live_root / "example.com/fullchain.pem")
    assert assert_deployable(store, "example.com") == 1


def test_second_version_and_key_reuse(store: LineageStore) -> None:
    key, cert = issue("a.test")
    store.save_version("a.test", key, cert, CA_PEM)
    key2, cert2 = issue("a.test", "b.test")
    second = store.save_version("a.test", key2, cert2, CA_PEM)
    assert second.deployed_version == 2 and second.versions == (2, 1)
    assert second.identifiers[-1] == Identifier.dns("b.test")
    _, cert3 = issue("a.test", key=crypto.load_private_key(key2))
    third = store.save_version("a.test", None, cert3, CA_PEM)
    assert third.deployed_version == 3
    assert third.private_key_pem() == key2
    assert assert_deployable(store, "a.test") == 3


def test_new_key_inherits_group_mode_of_old(store: LineageStore, umask0: None) -> None:
    key, cert = issue("g.test")
    store.save_version("g.test", key, cert, CA_PEM)
    (store.archive_root / "g.test" / "privkey1.pem").chmod(0o640)
    key2, cert2 = issue("g.test")
    store.save_version("g.test", key2, cert2, CA_PEM)
    assert stat.S_IMODE((store.archive_root / "g.test/privkey2.pem").stat().st_mode) == 0o640


def test_mismatched_key_is_refused(store: LineageStore) -> None:
    key, _ = issue("m.test")
    _, other_cert = issue("m.test")
    with pytest.raises(StorageError, match="does not match"):
        store.save_version("m.test", key, other_cert, CA_PEM)
    assert store.names() == []


def test_new_lineage_needs_key(store: LineageStore) -> None:
    _, cert = issue("k.test")
    with pytest.raises(UsageError):
        store.save_version("k.test", None, cert, CA_PEM)


def test_available_name_suffixes(store: LineageStore) -> None:
    assert store.available_name("n.test") == "n.test"
    key, cert = issue("n.test")
    store.save_version("n.test", key, cert, CA_PEM)
    assert store.available_name("n.test") == "n.test-0001"
    store.save_version("n.test-0001", key, cert, CA_PEM)
    assert store.available_name("n.test") == "n.test-0002"
    (store.archive_root / "n.test-0002").mkdir()  # leftovers count as taken
    assert store.available_name("n.test") == "n.test-0003"


@pytest.mark.parametrize("bad", ["", "a/b", ".hidden", "x.conf"])
def test_bad_lineage_names(store: LineageStore, bad: str) -> None:
    with pytest.raises(UsageError):
        store.available_name(bad)


def test_conf_rewrite_keeps_unknown_keys(store: LineageStore) -> None:
    key, cert = issue("c.test")
    store.save_version("c.test", key, cert, CA_PEM)
    path = store.conf_path("c.test")
    path.write_text(path.read_text() + "[certbot_future]\nthing = 1\n")
    lineage = store.load("c.test")
    conf = lineage.conf
    conf.set_renewalparams({"authenticator": "webroot", "webroot_map": {"c.test": "/srv"}})
    key2, cert2 = issue("c.test")
    store.save_version("c.test", key2, cert2, CA_PEM, conf=conf)
    text = path.read_text()
    assert "[certbot_future]\nthing = 1" in text and "[[webroot_map]]\nc.test = /srv" in text


def test_delete(store: LineageStore) -> None:
    key, cert = issue("d.test")
    store.save_version("d.test", key, cert, CA_PEM)
    store.save_version("e.test", key, cert, CA_PEM)
    store.delete("d.test")
    assert store.names() == ["e.test"]
    assert not (store.live_root / "d.test").exists()
    assert not (store.archive_root / "d.test").exists()
    assert (store.live_root / "e.test" / "cert.pem").exists()
    with pytest.raises(LineageCorrupt):
        store.load("d.test")


def make_certbot_lineage(store: LineageStore, name: str, versions: int, linked: int) -> None:
    """A lineage as certbot writes it: no state record, links decide the current version."""
    archive, live = store.archive_root / name, store.live_root / name
    for directory in (store.renewal_dir, archive, live):
        directory.mkdir(parents=True, exist_ok=True)
    for n in range(1, versions + 1):
        key, cert = issue(name, f"v{n}.{name}")
        for kind, data in (("privkey", key), ("cert", cert), ("chain", CA_PEM)):
            (archive / f"{kind}{n}.pem").write_bytes(data)
        (archive / f"fullchain{n}.pem").write_bytes(cert + CA_PEM)
    for kind in ALL_FOUR:
        (live / f"{kind}.pem").symlink_to(f"../../archive/{name}/{kind}{linked}.pem")
    lines = ["version = 2.11.0", f"archive_dir = {archive}"]
    lines += [f"{kind} = {live / (kind + '.pem')}" for kind in ALL_FOUR]
    lines += ["", "[renewalparams]", "authenticator = standalone", "key_type = rsa"]
    store.conf_path(name).write_text("\n".join(lines) + "\n")


def test_reads_certbot_lineage_from_links(store: LineageStore) -> None:
    make_certbot_lineage(store, "cb.test", versions=3, linked=2)
    lineage = store.load("cb.test")
    assert lineage.deployed_version == 2  # not the newest: certbot's links decide
    assert lineage.versions == (3, 2, 1)
    assert Identifier.dns("v2.cb.test") in lineage.identifiers
    assert not (store.archive_root / "cb.test" / STATE_FILE).exists()  # load wrote nothing


def test_heals_certbot_half_switched_links(store: LineageStore) -> None:
    make_certbot_lineage(store, "half.test", versions=2, linked=1)
    (store.live_root / "half.test" / "cert.pem").unlink()
    (store.live_root / "half.test" / "cert.pem").symlink_to("../../archive/half.test/cert2.pem")
    assert store.load("half.test").deployed_version == 2
    assert assert_deployable(store, "half.test") == 2


def test_incomplete_or_mismatched_version_is_never_deployed(store: LineageStore) -> None:
    make_certbot_lineage(store, "bad.test", versions=3, linked=1)
    archive = store.archive_root / "bad.test"
    (archive / "chain3.pem").unlink()  # version 3 incomplete
    (archive / "privkey2.pem").write_bytes(crypto.private_key_pem(crypto.generate_private_key()))
    write_state(archive, DeployState(3, 2, "switching"))
    assert store.load("bad.test").deployed_version == 1
    assert assert_deployable(store, "bad.test") == 1
    assert read_state(archive) == DeployState(1, 2, "deployed")


def test_switching_record_is_rolled_forward(store: LineageStore) -> None:
    make_certbot_lineage(store, "fw.test", versions=2, linked=1)
    live = store.live_root / "fw.test"
    (live / "privkey.pem").unlink()
    (live / "privkey.pem").symlink_to("../../archive/fw.test/privkey2.pem")
    write_state(store.archive_root / "fw.test", DeployState(2, 1, "switching"))
    assert store.load("fw.test").deployed_version == 2
    assert assert_deployable(store, "fw.test") == 2


def test_certbot_renewal_after_certsmith_wins(store: LineageStore) -> None:
    make_certbot_lineage(store, "mix.test", versions=2, linked=2)
    write_state(store.archive_root / "mix.test", DeployState(1, None, "deployed"))
    assert store.load("mix.test").deployed_version == 2


def test_no_deployable_version(store: LineageStore) -> None:
    make_certbot_lineage(store, "none.test", versions=1, linked=1)
    (store.archive_root / "none.test" / "cert1.pem").write_text("garbage")
    with pytest.raises(LineageCorrupt, match="no complete version"):
        store.load("none.test")


def test_heal_removes_temp_files(store: LineageStore) -> None:
    key, cert = issue("t.test")
    store.save_version("t.test", key, cert, CA_PEM)
    stale = store.archive_root / "t.test" / ".cert2.pem.abc.tmp"
    stale.write_text("half")
    assert store.heal("t.test") == 1
    assert not stale.exists()


def test_lock_is_per_lineage_and_exclusive_between_threads(store: LineageStore) -> None:
    results: list[str] = []

    def contender(name: str) -> None:
        try:
            with store.lock(name, blocking=False):
                results.append(f"got {name}")
        except LockHeld as exc:
            results.append(f"held {name}: {exc}")

    with store.lock("one.test"):
        for name in ("one.test", "two.test"):
            thread = threading.Thread(target=contender, args=(name,))
            thread.start()
            thread.join(timeout=5)
    assert results[0].startswith("held one.test") and "one.test" in results[0]
    assert results[1] == "got two.test"
    with store.lock("one.test", blocking=False) as again:
        assert again.held
    assert not again.held


def test_lock_contention_between_processes(store: LineageStore) -> None:
    code = (
        "import sys; from pathlib import Path; from certsmith.storage import LineageStore\n"
        "lock = LineageStore(Path(sys.argv[1])).lock('p.test')\n"
        "print('locked', flush=True); sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(store.config_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "locked\n"
        with pytest.raises(LockHeld):
            store.lock("p.test", blocking=False)
        with pytest.raises(LockHeld):
            store.lock("p.test", timeout=0.1)
        store.lock("q.test", blocking=False).release()
    finally:
        child.communicate("", timeout=10)
    with store.lock("p.test", timeout=5) as lock:
        assert lock.held
