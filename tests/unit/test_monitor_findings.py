"""Each finding of `certsmith check` from certificates made with cryptography (no network), the
served-chain parser over a real loopback TLS 1.2 handshake, and the Prometheus text."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.monitor.check import prometheus_text, run_check, write_prometheus
from certsmith.monitor.compare import (
    OnDisk,
    chain_problem,
    choose_lineage,
    covers,
    disk_findings,
    read_lineage,
    served_findings,
)
from certsmith.monitor.findings import Code, Finding, Severity, worst
from certsmith.monitor.served import ServedChain, fetch_chain
from certsmith.storage.filesystem import file_stores
from certsmith.storage.history import Problem, RunRecord
from certsmith.storage.interface import Stores

NOW = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
ROOT_KEY = crypto.generate_private_key()
INTER_KEY = crypto.generate_private_key()
INTER = x509.load_pem_x509_certificate(
    crypto.make_self_signed(INTER_KEY, [], issuer_cn="Root", signer=ROOT_KEY)
)
OTHER_KEY = crypto.generate_private_key()
OTHER_INTER = x509.load_pem_x509_certificate(
    crypto.make_self_signed(OTHER_KEY, [], issuer_cn="Other")
)


def leaf(
    *names: str, key: crypto.PrivateKey | None = None, start: datetime.datetime | None = None,
    days: int = 90, signer: crypto.PrivateKey = INTER_KEY,
) -> tuple[crypto.PrivateKey, x509.Certificate]:  # fmt: skip
    key = key or crypto.generate_private_key()
    pem = crypto.make_self_signed(
        key, [Identifier.dns(n) for n in names],
        not_before=start or NOW - datetime.timedelta(days=10), days=days,
        issuer_cn="Root", signer=signer,
    )  # fmt: skip
    return key, x509.load_pem_x509_certificate(pem)


def on_disk(cert: x509.Certificate, renew_at: datetime.datetime | None = None) -> OnDisk:
    names = tuple(i.value for i in crypto.certificate_identifiers(cert))
    return OnDisk("site", names, cert, (INTER,), renew_at)


def codes(findings: list[Finding]) -> list[Code]:
    return [f.code for f in findings]


def test_served_certificate_equal_to_disk_with_its_chain_has_no_finding() -> None:
    _, cert = leaf("a.example", "www.a.example")
    found = served_findings(on_disk(cert), [cert, INTER], True, "h:443", "a.example", NOW)
    assert found == []


def test_an_older_served_version_is_stale_and_critical() -> None:
    _, old = leaf("a.example", start=NOW - datetime.timedelta(days=60))
    _, new = leaf("a.example", start=NOW - datetime.timedelta(days=1))
    found = served_findings(on_disk(new), [old, INTER], True, "h:443", "a.example", NOW)
    assert codes(found) == [Code.STALE]
    assert found[0].facts["served_serial"] == format(old.serial_number, "x")
    assert worst(found) is Severity.CRITICAL


def test_another_certificate_with_another_key_is_a_key_mismatch() -> None:
    _, mine = leaf("a.example")
    _, theirs = leaf("a.example", start=NOW)  # newer, other key: not an old version
    found = served_findings(on_disk(mine), [theirs, INTER], True, "h:443", None, NOW)
    assert codes(found) == [Code.KEY_MISMATCH]


def test_names_the_served_certificate_lacks_are_listed() -> None:
    key, cert = leaf("a.example", "b.example")
    _, served = leaf("a.example", key=key)
    found = served_findings(on_disk(cert), [served, INTER], True, "h:443", "c.example", NOW)
    missing = [f for f in found if f.code is Code.NAMES_MISSING]
    assert missing[0].facts["missing"] == ["b.example", "c.example"]


def test_leaf_without_its_intermediate_is_a_chain_that_does_not_verify() -> None:
    _, cert = leaf("a.example")
    found = served_findings(on_disk(cert), [cert], True, "h:443", "a.example", NOW)
    assert codes(found) == [Code.CHAIN_INVALID]
    assert "no intermediate" in found[0].facts["error"]


def test_chain_problems_wrong_order_and_foreign_issuer() -> None:
    _, cert = leaf("a.example")
    assert chain_problem([cert, INTER], [INTER]) == ""
    assert "not issued by" in chain_problem([cert, OTHER_INTER], [INTER])
    _, foreign = leaf("a.example", signer=OTHER_KEY)
    assert chain_problem([foreign, OTHER_INTER], [INTER]) != ""


def test_only_the_leaf_known_skips_the_chain_check() -> None:
    _, cert = leaf("a.example")
    assert served_findings(on_disk(cert), [cert], False, "h:443", "a.example", NOW) == []


def test_expired_on_disk_is_critical_and_past_the_renewal_moment_is_a_warning() -> None:
    _, gone = leaf("a.example", start=NOW - datetime.timedelta(days=100), days=90)
    assert codes(disk_findings(on_disk(gone), NOW)) == [Code.EXPIRED]
    _, cert = leaf("a.example", start=NOW - datetime.timedelta(days=70), days=90)
    late = disk_findings(on_disk(cert, renew_at=NOW - datetime.timedelta(days=5)), NOW)
    assert codes(late) == [Code.EXPIRING] and late[0].severity is Severity.WARNING
    assert late[0].facts["days_left"] == 20
    fine = on_disk(cert, renew_at=NOW + datetime.timedelta(days=1))
    assert disk_findings(fine, NOW) == []
    assert codes(disk_findings(fine, NOW, warn_days=30)) == [Code.EXPIRING]
    assert disk_findings(on_disk(cert, renew_at=NOW), NOW, warn_days=10) == []


def test_a_failed_last_run_is_a_warning_with_its_reason() -> None:
    _, cert = leaf("a.example")
    record = RunRecord(NOW, 1.0, 1, failed=(Problem("site", "the CA said no"),))
    found = disk_findings(on_disk(cert), NOW, last_run=(record, "failed"))
    assert codes(found) == [Code.LAST_RUN_FAILED]
    assert found[0].facts["reason"] == "the CA said no"


def test_wildcards_cover_one_label_and_lineage_choice() -> None:
    assert covers(["*.a.example"], "www.a.example")
    assert not covers(["*.a.example"], "x.www.a.example")
    assert not covers(["*.a.example"], "a.example")
    _, one = leaf("a.example")
    _, two = leaf("b.example", "c.example")
    disks = [on_disk(one), OnDisk("two", ("b.example", "c.example"), two, (), None)]
    assert choose_lineage(disks, "c.example", []) is disks[1]
    assert choose_lineage(disks, None, ["b.example"]) is disks[1]
    assert choose_lineage(disks, "z.example", []) is None


def test_unreachable_endpoint_and_prometheus_text_written_atomically(tmp_path: Path) -> None:
    stores = file_stores(tmp_path / "cfg")
    key, cert = leaf("a.example")
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = cert.public_bytes(Encoding.PEM)
    stores.lineages.save_version(
        "site", crypto.private_key_pem(key), pem, INTER.public_bytes(Encoding.PEM)
    )
    assert stores.history is not None
    stores.history.append(RunRecord(NOW, 2.0, 1, failed=(Problem("site", "boom"),)))

    def refuse(host: str, port: int, sni: str | None) -> ServedChain:
        return ServedChain((), False, "", error="connection refused")

    report = run_check(stores, [("127.0.0.1", 9)], now=NOW, fetch=refuse)
    assert [f.code for f in report.findings] == [Code.LAST_RUN_FAILED, Code.UNREACHABLE]
    assert report.severity is Severity.CRITICAL
    text = prometheus_text(report)
    assert 'certsmith_last_renewal_success{lineage="site"} 0' in text
    assert "certsmith_last_run_success 0" in text
    assert 'certsmith_served_matches_disk{lineage="",endpoint="127.0.0.1:9"} 0' in text
    assert "certsmith_check_status 2" in text
    target = tmp_path / "m.prom"
    write_prometheus(target, text)
    assert target.read_text() == text and list(tmp_path.glob(".m.prom*")) == []


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, x509.Certificate]]:
    key, cert = leaf("srv.example")
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "full.pem").write_bytes(
        cert.public_bytes(Encoding.PEM) + INTER.public_bytes(Encoding.PEM)
    )
    (tmp_path / "key.pem").write_bytes(crypto.private_key_pem(key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "full.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            raw, _ = listener.accept()
        except OSError:
            return
        raw.settimeout(10)
        try:
            with ctx.wrap_socket(raw, server_side=True):
                pass
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, cert
    listener.close()
    thread.join(timeout=10)


def test_fetch_chain_reads_leaf_and_intermediate_over_loopback_tls(
    tls_server: tuple[int, x509.Certificate],
) -> None:
    port, cert = tls_server
    served = fetch_chain("127.0.0.1", port, "srv.example", timeout=10)
    assert served.error is None and served.complete
    assert [x509.load_der_x509_certificate(d) for d in served.certificates] == [cert, INTER]


def test_fetch_chain_of_a_closed_port_is_an_error_not_an_exception() -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    served = fetch_chain("127.0.0.1", port, None, timeout=5)
    assert served.error is not None and served.certificates == ()


def test_two_versions_issued_in_the_same_second_still_count_as_stale() -> None:
    start = NOW - datetime.timedelta(days=1)
    _, old = leaf("a.example", start=start)
    _, new = leaf("a.example", start=start)
    found = served_findings(on_disk(new), [old, INTER], True, "h:443", "a.example", NOW)
    assert codes(found) == [Code.STALE]


def on_disk_of(stores: Stores) -> OnDisk:
    disk = read_lineage(stores, "site", NOW)
    assert isinstance(disk, OnDisk)
    return disk


def test_a_past_ari_window_on_disk_is_a_warning_long_before_expiry(tmp_path: Path) -> None:
    """The CA said "renew now" (a window already passed, e.g. before a mass revocation): `check`
    warns as `renew` would act, though the certificate has 80 days left."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from certsmith.renewal.ari_cache import AriCacheRecord
    from certsmith.storage.renewal_state import RenewalState

    stores = file_stores(tmp_path / "cfg")
    key, cert = leaf("a.example")
    stores.lineages.save_version(
        "site", crypto.private_key_pem(key), cert.public_bytes(Encoding.PEM),
        INTER.public_bytes(Encoding.PEM),
    )  # fmt: skip
    assert codes(disk_findings(on_disk_of(stores), NOW)) == []
    past = (NOW - datetime.timedelta(days=2), NOW - datetime.timedelta(days=1))
    record = AriCacheRecord("id", NOW + datetime.timedelta(hours=6), NOW, past)

    def remember(serial: int) -> None:
        state = RenewalState(
            stores.lineages.revision("site"), cert.not_valid_before_utc,
            cert.not_valid_after_utc, serial, "id", record.to_json(),
        )  # fmt: skip
        stores.states.save("site", state)
        stores.states.flush()

    remember(cert.serial_number + 1)  # an answer about another certificate does not count
    assert codes(disk_findings(on_disk_of(stores), NOW)) == []
    remember(cert.serial_number)
    disk = on_disk_of(stores)
    assert disk.renew_at is not None and disk.renew_at <= NOW
    assert codes(disk_findings(disk, NOW)) == [Code.EXPIRING]
