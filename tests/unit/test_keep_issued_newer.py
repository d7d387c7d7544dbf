"""Which kept certificate is newer than the deployed one (renewal/keep_issued.py install_kept).

Found by tests/integration/test_crash_points.py: Pebble picks a profile at random, so a renewal
killed after its certificate was kept could get a 6-day certificate after a 90-day one; judged
by its end date it looked older and was dropped, and the next run served the old one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith import crypto
from certsmith.renewal.keep_issued import awaits_deploy, deployed as mark_deployed, install_kept
from certsmith.storage.filesystem import file_stores
from certsmith.storage.interface import Stores
from certsmith.storage.lineage_model import Lineage
from certsmith.storage.pending import PendingVersion
from support.scripted_acme import cn_name, make_cert

NAME = "kept.example"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CA_KEY = ec.generate_private_key(ec.SECP256R1())


def version(not_before: datetime, days: int) -> PendingVersion:
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName(NAME)])
    cert = make_cert(
        cn_name(NAME), "Test CA", key.public_key(), CA_KEY,
        not_before=not_before, lifetime=timedelta(days=days), extensions=[san],
    )  # fmt: skip
    chain = make_cert(
        cn_name("Test CA"), "Test CA", CA_KEY.public_key(), CA_KEY,
        not_before=not_before, lifetime=timedelta(days=3650),
    )  # fmt: skip
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    chain_pem = chain.public_bytes(serialization.Encoding.PEM)
    return PendingVersion(crypto.private_key_pem(key), cert_pem, chain_pem, cert_pem + chain_pem)


def deployed(tmp_path: Path, saved: PendingVersion) -> tuple[Stores, Lineage]:
    stores = file_stores(tmp_path)
    lineages = stores.lineages
    with lineages.lock(NAME):
        lineage = lineages.save_version(
            NAME, saved.key_pem, saved.cert_pem, saved.chain_pem, saved.fullchain_pem
        )
    return stores, lineage


def test_a_kept_short_lived_certificate_issued_after_a_90_day_one_is_installed(
    tmp_path: Path,
) -> None:
    stores, lineage = deployed(tmp_path, version(NOW - timedelta(days=1), 90))
    assert stores.pending is not None
    kept = version(NOW, 6)  # ends 83 days before the deployed one, yet issued after it
    stores.pending.save(NAME, kept)
    with stores.lineages.lock(NAME):
        installed = install_kept(stores, lineage, lineage.identifiers, NOW)
    assert installed is not None and installed.deployed_version == 2
    assert installed.cert_pem == kept.cert_pem
    # Kept until the deploy step ran: a kill before it leaves a deploy owed to the next run.
    assert awaits_deploy(stores, installed)
    mark_deployed(stores, NAME)
    assert stores.pending.load(NAME) is None and not awaits_deploy(stores, installed)


def test_a_kept_copy_of_another_certificate_owes_no_deploy(tmp_path: Path) -> None:
    stores, lineage = deployed(tmp_path, version(NOW - timedelta(days=1), 90))
    assert stores.pending is not None and not awaits_deploy(stores, lineage)
    stores.pending.save(NAME, version(NOW, 90))  # saved aside, never switched to
    assert not awaits_deploy(stores, lineage)


def test_a_kept_certificate_issued_before_the_deployed_one_is_dropped(tmp_path: Path) -> None:
    stores, lineage = deployed(tmp_path, version(NOW - timedelta(days=1), 6))
    assert stores.pending is not None
    stores.pending.save(NAME, version(NOW - timedelta(days=2), 90))  # ends later, issued earlier
    with stores.lineages.lock(NAME):
        assert install_kept(stores, lineage, lineage.identifiers, NOW) is None
    assert stores.pending.load(NAME) is None
    assert stores.lineages.load(NAME).deployed_version == 1
