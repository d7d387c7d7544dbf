"""The rules of `certsmith check`: a lineage on disk, and what an endpoint serves, to findings.

    OnDisk            one lineage as deployed: certificate, chain, renewal moment, last run
    read_lineage      OnDisk from the stores (read only: no heal, no lock, no private key)
    disk_findings     expired / expiring / last_run_failed for the certificate on disk
    served_findings   stale / key_mismatch / names_missing / chain_invalid / expired / expiring
                      for a served chain, compared with the lineage
    choose_lineage    the lineage an endpoint should serve (its server name, else its names)

Pure functions of their inputs (``now`` passed in); the TLS handshake is served.py's.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from certsmith import crypto
from certsmith.errors import CertsmithError
from certsmith.monitor.findings import Code, Finding
from certsmith.renewal.check import ari_record
from certsmith.renewal.policy import certificate_rng, decide, parse_renew_before_expiry
from certsmith.storage.history import RunRecord
from certsmith.storage.interface import Stores
from certsmith.storage.renewal_conf import RenewalConf

DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class OnDisk:
    name: str
    names: tuple[str, ...]
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # the lineage's chain.pem, issuer first
    renew_at: datetime.datetime | None  # when `renew` would renew it (its rule and ARI window)


def read_lineage(stores: Stores, name: str, now: datetime.datetime) -> OnDisk | Finding:
    """The lineage ``name`` as deployed, or an ``unreadable`` finding."""
    store = stores.lineages
    try:
        conf = store.read_conf(name)
        cert = crypto.load_certificates(store.read_live_cert(name, conf))[0]
        chain_path = store.live_paths(name)["chain"]
        chain = tuple(crypto.load_certificates(chain_path.read_bytes()))
    except (CertsmithError, OSError, ValueError, IndexError) as exc:
        return Finding(Code.UNREADABLE, name, facts={"error": str(exc) or type(exc).__name__})
    before = conf.get("renew_before_expiry")
    try:
        decision = decide(
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
            now,
            ari_window=_ari_window(stores, name, conf, cert),
            renew_before_expiry=parse_renew_before_expiry(before) if before else None,
            rng=certificate_rng(cert.serial_number),
        )
        renew_at = decision.renew_at
    except CertsmithError:
        renew_at = None
    names = tuple(i.value for i in crypto.certificate_identifiers(cert))
    return OnDisk(name, names, cert, chain, renew_at)


def _ari_window(
    stores: Stores, name: str, conf: RenewalConf, cert: x509.Certificate
) -> tuple[datetime.datetime, datetime.datetime] | None:
    """The CA's last suggested window for this very certificate, as `renew` last saw it, so
    `check` warns when `renew` should have acted (a CA's "renew now" included)."""
    state = stores.states.load(name, stores.lineages.revision(name, conf))  # conf read once
    if state is None or state.serial != cert.serial_number:
        return None
    record = ari_record(state)
    return record.window if record else None


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat()


def days_left(cert: x509.Certificate, now: datetime.datetime) -> float:
    return round((cert.not_valid_after_utc - now) / DAY, 2)


def _expiry(
    cert: x509.Certificate,
    renew_at: datetime.datetime | None,
    now: datetime.datetime,
    warn_days: float | None,
    lineage: str,
    endpoint: str | None,
) -> list[Finding]:
    not_after = cert.not_valid_after_utc
    if now >= not_after:
        return [Finding(Code.EXPIRED, lineage, endpoint, {"not_after": _iso(not_after)})]
    late = renew_at is not None and now >= renew_at
    if warn_days is not None:
        late = not_after - now <= datetime.timedelta(days=warn_days)
    if not late:
        return []
    facts = {
        "not_after": _iso(not_after),
        "days_left": days_left(cert, now),
        "renew_at": _iso(renew_at) if renew_at else None,
    }
    return [Finding(Code.EXPIRING, lineage, endpoint, facts)]


def disk_findings(
    disk: OnDisk,
    now: datetime.datetime,
    warn_days: float | None = None,
    last_run: tuple[RunRecord, str] | None = None,
) -> list[Finding]:
    """``warn_days`` replaces the lineage's own renewal moment as the warning threshold."""
    found = _expiry(disk.cert, disk.renew_at, now, warn_days, disk.name, None)
    if last_run is not None and last_run[1] == "failed":
        record = last_run[0]
        facts = {"started": _iso(record.started), "reason": record.reason_for(disk.name)}
        found.append(Finding(Code.LAST_RUN_FAILED, disk.name, facts=facts))
    return found


def covers(cert_names: Sequence[str], name: str) -> bool:
    """Whether a certificate naming ``cert_names`` is valid for ``name`` (one-label wildcards)."""
    name = name.lower().rstrip(".")
    for pattern in cert_names:
        pattern = pattern.lower()
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _public(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def chain_problem(served: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]) -> str:
    """Empty when every served certificate is issued by the next one, at least one issuer is
    served with the leaf, and the last one served is in the lineage's chain (``anchors``) or
    issued by it; else what is wrong (facts, not advice)."""
    for i, (cert, issuer) in enumerate(itertools.pairwise(served)):
        if not _issued_by(cert, issuer):
            return f"certificate {i + 1} of the served chain is not issued by certificate {i + 2}"
    if not anchors:
        return ""
    if len(served) == 1:  # browsers without the intermediate cached fail
        return "the server sends no intermediate certificate"
    top = served[-1]
    if top in anchors or any(_issued_by(top, a) for a in anchors):
        return ""
    return "the served chain does not lead to the lineage's chain"


def served_findings(
    disk: OnDisk,
    served: Sequence[x509.Certificate],
    complete: bool,
    endpoint: str,
    server_name: str | None,
    now: datetime.datetime,
    warn_days: float | None = None,
) -> list[Finding]:
    """Compare ``served`` (leaf first; ``complete`` False when only the leaf is known)."""
    leaf, name = served[0], disk.name
    served_names = [i.value for i in crypto.certificate_identifiers(leaf)]
    found: list[Finding] = []
    if leaf != disk.cert:
        # An earlier version of this lineage (older, for some of its names), or the same key:
        # the server was not reloaded. Anything else is not this lineage's key at all.
        # Not after: two renewals within a second share their notBefore.
        older = leaf.not_valid_before_utc <= disk.cert.not_valid_before_utc
        if _public(leaf) == _public(disk.cert) or (older and set(served_names) & set(disk.names)):
            facts = {
                "served_serial": format(leaf.serial_number, "x"),
                "live_serial": format(disk.cert.serial_number, "x"),
                "served_not_after": _iso(leaf.not_valid_after_utc),
                "live_not_after": _iso(disk.cert.not_valid_after_utc),
            }
            found.append(Finding(Code.STALE, name, endpoint, facts))
        else:
            found.append(Finding(Code.KEY_MISMATCH, name, endpoint))
    wanted = [*disk.names, *([server_name] if server_name else [])]
    missing = sorted({n for n in wanted if not covers(served_names, n)})
    if missing:
        found.append(Finding(Code.NAMES_MISSING, name, endpoint, {"missing": missing}))
    if complete:
        problem = chain_problem(served, disk.chain)
        if problem:
            found.append(Finding(Code.CHAIN_INVALID, name, endpoint, {"error": problem}))
    renew_at = disk.renew_at if leaf == disk.cert else None
    found += _expiry(leaf, renew_at, now, warn_days, name, endpoint)
    return found


def choose_lineage(
    disks: Sequence[OnDisk], server_name: str | None, served_names: Sequence[str]
) -> OnDisk | None:
    """The lineage covering ``server_name``; without one, the lineage sharing most names with
    the served certificate (None when none shares any)."""
    if server_name:
        for disk in disks:
            if covers(disk.names, server_name):
                return disk
        return None
    best, shared = None, 0
    for disk in disks:
        count = len(set(disk.names) & set(served_names))
        if count > shared:
            best, shared = disk, count
    return best
