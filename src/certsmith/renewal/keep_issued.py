"""A certificate the CA issued is never lost to a disk error.

``save_issued`` keeps the issued version aside (``Stores.pending``) before saving it into its
lineage; when the save fails with an operating-system error (ENOSPC, EACCES, EIO...) it raises
``DiskWriteFailed`` naming the cause and where the certificate is kept, a failure of this
lineage only. The kept copy stays until the engine has run the installers and deploy hooks
(``deployed``), so a run killed between the switch and the deploy hook owes a deploy that the
next run makes (``awaits_deploy``). ``install_kept`` is called by the engine under the lineage's
lock before deciding anything: a kept certificate newer than the deployed one is installed
without a new order. A first issuance killed before its lineage existed is finished the same
way by the re-run (``install_kept_first``), under the same name (``unfinished_duplicate``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.errors import DiskWriteFailed, StorageError
from certsmith.renewal.key_change import private_key_type
from certsmith.storage.interface import Stores
from certsmith.storage.lineage_model import Lineage
from certsmith.storage.pending import PendingVersion, describe_os_error, save_failed
from certsmith.storage.renewal_conf import RenewalConf
from certsmith.wording import Said

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

KEPT_REASON = Said(
    "installed the certificate an earlier run obtained but could not save",
    "renewal.reason.installed_kept",
)
DEPLOY_OWED_REASON = Said(
    "deployed the certificate an interrupted run had saved but not yet deployed",
    "renewal.reason.deploy_owed",
)


def save_issued(
    stores: Stores, name: str, version: PendingVersion, conf: RenewalConf | None
) -> Lineage:
    """Save ``version`` as the new version of lineage ``name`` (the caller holds its lock)."""
    kept: Path | None = None
    if stores.pending is not None:
        try:
            kept = stores.pending.save(name, version)
        except OSError as exc:
            log.warning(
                "%s: cannot keep the new certificate aside: %s", name, describe_os_error(exc)
            )
    try:
        return stores.lineages.save_version(
            name, version.key_pem, version.cert_pem, version.chain_pem, version.fullchain_pem, conf
        )
    except OSError as exc:
        raise save_failed(name, exc, kept) from exc


def deployed(stores: Stores, name: str) -> None:
    """The saved version went through the installers and deploy hooks (whatever they said):
    its kept copy is no longer needed. Until then it marks a deploy still owed."""
    if stores.pending is not None:
        stores.pending.discard(name)


def awaits_deploy(stores: Stores, previous: Lineage) -> bool:
    """Whether a run saved and switched to its certificate, then died before the installers
    and deploy hooks ran: the kept copy is the very certificate now deployed."""
    version = stores.pending.load(previous.name) if stores.pending is not None else None
    if version is None:
        return False
    try:
        return crypto.load_certificates(version.cert_pem)[0] == previous.certificate()
    except (ValueError, StorageError):
        return False


def install_kept(
    stores: Stores,
    previous: Lineage,
    identifiers: Sequence[Identifier],
    now: datetime | None = None,
) -> Lineage | None:
    """Install the certificate an earlier run kept for ``previous``'s lineage, if it is for
    ``identifiers`` (the names asked for now), newer than the deployed one and still valid; the
    lineage as saved, else None."""
    pending = stores.pending
    version = pending.load(previous.name) if pending is not None else None
    if pending is None or version is None:
        return None
    try:
        cert = crypto.load_certificates(version.cert_pem)[0]
    except ValueError:
        pending.discard(previous.name)
        return None
    if set(crypto.certificate_identifiers(cert)) != set(identifiers):
        return None  # other names are asked for now; a successful order replaces it
    if _superseded(cert, previous) or cert.not_valid_after_utc <= (now or datetime.now(UTC)):
        pending.discard(previous.name)  # deployed already, older than that, or expired
        return None
    try:
        lineage = save_issued(stores, previous.name, version, None)
    except DiskWriteFailed:
        raise
    except StorageError as exc:  # the kept files do not belong together
        log.warning("%s: discarding the kept certificate: %s", previous.name, exc)
        pending.discard(previous.name)
        return None
    log.warning("%s: %s", previous.name, KEPT_REASON)
    return lineage


def install_kept_first(
    stores: Stores,
    name: str,
    identifiers: Sequence[Identifier],
    ordered_by: tuple[str, str, str],
    conf: RenewalConf,
    now: datetime,
) -> Lineage | None:
    """Save the certificate a first issuance of ``name`` kept before it was killed (no lineage
    exists yet) as the lineage's first version, with ``conf``, if it is what this run would
    order: for exactly ``identifiers``, from the same (server, account id, key type)
    ``ordered_by``, still valid. The lineage as saved, else None (then an order is made)."""
    version = stores.pending.load(name) if stores.pending is not None else None
    if stores.pending is None or version is None or version.key_pem is None:
        return None
    try:
        cert = crypto.load_certificates(version.cert_pem)[0]
        key_type = private_key_type(version.key_pem)
    except ValueError:
        stores.pending.discard(name)
        return None
    if cert.not_valid_after_utc <= now:
        stores.pending.discard(name)
        return None
    if (version.server, version.account, key_type) != ordered_by:
        return None  # another CA, account or key type: the order replaces it
    if set(crypto.certificate_identifiers(cert)) != set(identifiers):
        return None
    try:
        lineage = save_issued(stores, name, version, conf)
    except DiskWriteFailed:
        raise
    except StorageError as exc:  # the kept files do not belong together
        log.warning("%s: discarding the kept certificate: %s", name, exc)
        stores.pending.discard(name)
        return None
    log.warning("%s: %s", name, KEPT_REASON)
    return lineage


def unfinished_duplicate(
    stores: Stores, preferred: str, identifiers: Sequence[Identifier]
) -> str | None:
    """The name (``preferred-NNNN``) a `certonly --duplicate` for ``identifiers`` was creating
    when it was killed: no lineage yet, a kept certificate for these names. The re-run goes on
    there instead of leaving it behind for the next free name."""
    if stores.pending is None:
        return None
    for name in stores.pending.names():
        suffix = name.removeprefix(f"{preferred}-")
        if suffix == name or len(suffix) != 4 or not suffix.isdigit():
            continue
        if stores.lineages.exists(name):
            continue
        version = stores.pending.load(name)
        try:
            cert = crypto.load_certificates(version.cert_pem)[0] if version else None
        except ValueError:
            continue
        if cert is not None and set(crypto.certificate_identifiers(cert)) == set(identifiers):
            return name
    return None


def _superseded(kept: x509.Certificate, previous: Lineage) -> bool:
    """Whether ``kept`` is the deployed certificate or older: one of the lineage's versions up
    to the deployed one, or issued (notBefore) before the deployed one (another client renewed
    the lineage meanwhile). Not by notAfter: a short-lived certificate obtained after a 90-day
    one ends first yet is the newer one (tests/integration/test_crash_points.py: Pebble picks
    a profile at random). A version a killed save wrote above the deployed one is not older."""
    deployed = previous.certificate()
    if kept == deployed or kept.not_valid_before_utc < deployed.not_valid_before_utc:
        return True
    for version in previous.versions:
        if version <= previous.deployed_version:
            with contextlib.suppress(OSError, ValueError, IndexError):
                path = previous.archive_path("cert", version)
                if crypto.load_certificates(path.read_bytes())[0] == kept:
                    return True
    return False
