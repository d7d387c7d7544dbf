"""Rendering for ``certsmith certificates`` (text and JSON) and the renew summary line.

The lead fills :class:`CertificateSummary` from storage; this module decides nothing but how it
looks. The text form keeps certbot's "Found the following certs:" block, field for field, so
scripts that scrape certbot keep working. The JSON form is the stable schema in docs/cli.md
(``SCHEMA_VERSION``); fields are only ever added, never renamed or removed, within a version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certsmith.preflight.messages import Catalogue

SCHEMA_VERSION = 1
SIDE_FRAME = ("- " * 39) + "-"  # certbot's notification frame


class CertStatus(StrEnum):
    """A lineage's state, most severe first."""

    BROKEN = "broken"  # files missing, unreadable or inconsistent
    REVOKED = "revoked"
    EXPIRED = "expired"
    EXPIRING = "expiring"  # due for renewal (ARI window reached, or little lifetime left)
    VALID = "valid"


@dataclass(frozen=True)
class CertificatePaths:
    """The lineage's live/ paths (the symlinks certbot users configure their servers with)."""

    cert: Path
    chain: Path
    fullchain: Path
    privkey: Path


@dataclass(frozen=True)
class PersistCheck:
    """A dns-persist lineage's standing records (cli/persist_watch.py): the soonest
    ``persistUntil`` of its names (None: no limit), the names no record covers for the account,
    ``soon`` (within 30 days, or past), or ``error`` when the records could not be looked up."""

    until: datetime | None = None
    missing: tuple[str, ...] = ()
    soon: bool = False
    error: str | None = None
    names: tuple[str, ...] = ()  # the names looked up


@dataclass(frozen=True)
class CertificateSummary:
    """One lineage as storage sees it.

    ``key_type`` is ``"rsa"`` or ``"ecdsa"``; ``serial`` is lower-case hex without separators.
    Datetimes must be timezone-aware. ``due`` says whether renewal logic considers the lineage due
    (None: judged here from the ARI window, else the last third of its lifetime). ``problem``
    (non-empty) marks a broken lineage and says why.
    """

    name: str
    identifiers: tuple[str, ...]
    paths: CertificatePaths
    renewal_conf: Path
    key_type: str | None = None
    serial: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    ari_window: tuple[datetime, datetime] | None = None
    revoked: bool = False
    test_cert: bool = False
    due: bool | None = None
    problem: str | None = None
    # The newest `renew` run that renewed, failed or skipped it (storage/history.py): when it
    # started, "renewed" / "failed" / "skipped", and why (failed or skipped).
    last_run: tuple[datetime, str, str | None] | None = None
    persist: PersistCheck | None = None  # dns-persist lineages only


def certificate_status(cert: CertificateSummary, now: datetime) -> CertStatus:
    """The status shown for ``cert`` at ``now``."""
    if cert.problem or cert.not_after is None:
        return CertStatus.BROKEN
    if cert.revoked:
        return CertStatus.REVOKED
    if cert.not_after <= now:
        return CertStatus.EXPIRED
    due = cert.due
    if due is None:
        if cert.ari_window is not None:
            due = now >= cert.ari_window[0]
        elif cert.not_before is not None:
            lifetime = cert.not_after - cert.not_before
            share = 2 if lifetime < timedelta(days=10) else 3  # as renewal/policy.py decides
            due = (cert.not_after - now) < lifetime / share
        else:
            due = False
    return CertStatus.EXPIRING if due else CertStatus.VALID


def days_left(cert: CertificateSummary, now: datetime) -> int | None:
    """Whole days until expiry (negative once expired); None when the expiry is unknown."""
    if cert.not_after is None:
        return None
    return (cert.not_after - now).days


def select_certificates(
    certs: Iterable[CertificateSummary],
    cert_name: str | None = None,
    identifiers: Sequence[str] = (),
) -> list[CertificateSummary]:
    """certbot's filter: the lineage named ``cert_name``, holding all of ``identifiers``."""
    wanted = set(identifiers)
    return [
        c
        for c in certs
        if (cert_name is None or c.name == cert_name) and wanted.issubset(c.identifiers)
    ]


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def certificate_to_json(cert: CertificateSummary, now: datetime) -> dict[str, Any]:
    """One entry of the ``certificates`` array (docs/cli.md, schema 1)."""
    window = cert.ari_window
    return {
        "name": cert.name,
        "identifiers": list(cert.identifiers),
        "key_type": cert.key_type,
        "serial": cert.serial,
        "not_before": _iso(cert.not_before),
        "not_after": _iso(cert.not_after),
        "days_left": days_left(cert, now),
        "ari_window": None
        if window is None
        else {"start": _iso(window[0]), "end": _iso(window[1])},
        "status": certificate_status(cert, now).value,
        "test_cert": cert.test_cert,
        "problem": cert.problem,
        "paths": {
            "cert": str(cert.paths.cert),
            "chain": str(cert.paths.chain),
            "fullchain": str(cert.paths.fullchain),
            "privkey": str(cert.paths.privkey),
        },
        "renewal_conf": str(cert.renewal_conf),
        "last_run": None
        if cert.last_run is None
        else {
            "started": _iso(cert.last_run[0]),
            "outcome": cert.last_run[1],
            "reason": cert.last_run[2],
        },
        "dns_persist": _persist_json(cert.persist, now),
    }


def _persist_json(check: PersistCheck | None, now: datetime) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "checked": check.error is None,
        "persist_until": _iso(check.until),
        "days_left": None if check.until is None else (check.until - now).days,
        "warning": check.error is None and (check.soon or bool(check.missing)),
        "missing": list(check.missing),
        "error": check.error,
    }


def render_certificates_json(certs: Sequence[CertificateSummary], now: datetime) -> str:
    """``certsmith certificates --json``: ``{"schema": 1, "certificates": [...]}`` plus newline."""
    document = {
        "schema": SCHEMA_VERSION,
        "certificates": [certificate_to_json(c, now) for c in certs],
    }
    return json.dumps(document, indent=2) + "\n"


def _expiry_text(cert: CertificateSummary, now: datetime) -> str:
    assert cert.not_after is not None  # only called for lineages that are not broken
    reasons = ["TEST_CERT"] if cert.test_cert else []
    if cert.not_after <= now:
        reasons.append("EXPIRED")
    elif cert.revoked:
        reasons.append("REVOKED")
    if reasons:
        status = "INVALID: " + ", ".join(reasons)
    else:
        remaining = cert.not_after - now
        if remaining.days == 1:
            status = "VALID: 1 day"
        elif remaining.days < 1:
            status = f"VALID: {remaining.seconds // 3600} hour(s)"
        else:
            status = f"VALID: {remaining.days} days"
    return f"{cert.not_after.astimezone(UTC)} ({status})"


def _key_type_text(key_type: str | None) -> str:
    return {"rsa": "RSA", "ecdsa": "ECDSA"}.get((key_type or "").lower(), key_type or "unknown")


def render_certificates_text(
    certs: Sequence[CertificateSummary],
    now: datetime,
    *,
    filtered: bool = False,
    catalogue: Catalogue | None = None,
) -> str:
    """certbot's ``certificates`` block; broken lineages are listed by renewal file, as certbot
    lists renewal configurations it could not parse. ``filtered`` is true when --cert-name or -d
    narrowed the list ("Found the following matching certs:"). ``catalogue`` words certsmith's
    own lines (the dns-persist record; English without one)."""
    good = [c for c in certs if certificate_status(c, now) is not CertStatus.BROKEN]
    broken = [c for c in certs if certificate_status(c, now) is CertStatus.BROKEN]
    out: list[str] = []
    if not certs:
        out.append("No certificates found.")
    if good:
        out.append(
            "Found the following matching certs:" if filtered else "Found the following certs:"
        )
        out.append("\n".join(_cert_block(c, now, catalogue) for c in good))
    if broken:
        out.append("\nThe following renewal configurations were invalid:")
        out.append("\n".join(f"  {c.renewal_conf}" + _problem(c) for c in broken))
    return f"\n{SIDE_FRAME}\n" + "\n".join(out) + f"\n{SIDE_FRAME}\n"


def _problem(cert: CertificateSummary) -> str:
    return f" ({cert.problem})" if cert.problem else ""


def _cert_block(cert: CertificateSummary, now: datetime, catalogue: Catalogue | None) -> str:
    return (
        f"  Certificate Name: {cert.name}\n"
        f"    Serial Number: {cert.serial or 'unknown'}\n"
        f"    Key Type: {_key_type_text(cert.key_type)}\n"
        f"    Identifiers: {' '.join(cert.identifiers)}\n"
        f"    Expiry Date: {_expiry_text(cert, now)}\n"
        f"    Certificate Path: {cert.paths.fullchain}\n"
        f"    Private Key Path: {cert.paths.privkey}"
        + _last_run_text(cert)
        + _persist_text(cert, now, catalogue)
    )


def _persist_text(cert: CertificateSummary, now: datetime, catalogue: Catalogue | None) -> str:
    """certsmith's line for a dns-persist lineage: when its standing record stops counting."""
    check = cert.persist
    if check is None:
        return ""
    if catalogue is None:
        from certsmith.preflight.messages import Catalogue

        catalogue = Catalogue("en")
    until = _iso(check.until) or ""
    days = (check.until - now).days if check.until is not None else ""
    domain = cert.identifiers[0].removeprefix("*.") if cert.identifiers else cert.name
    parts = []
    if check.error is not None:
        parts.append(catalogue.get("certificates.persist.unchecked", error=check.error))
    else:
        if check.missing:
            names = ", ".join(check.missing)
            parts.append(catalogue.get("certificates.persist.missing", names=names))
        if check.soon:
            key = "certificates.persist.soon"
        else:
            key = "certificates.persist.until" if check.until else "certificates.persist.no_limit"
        if check.until is not None or not check.missing:
            parts.append(catalogue.get(key, until=until, days=days, domain=domain))
    label = catalogue.get("certificates.persist.label")
    return f"\n    {label}: " + "; ".join(parts)


def _last_run_text(cert: CertificateSummary) -> str:
    """certsmith's line after certbot's block, only when a run is recorded (so a tree certbot
    made prints certbot's block unchanged)."""
    if cert.last_run is None:
        return ""
    started, outcome, reason = cert.last_run
    why = f": {reason}" if reason else ""
    return f"\n    Last Renewal Run: {started.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z ({outcome}{why})"


def format_renew_summary(renewed: int, not_due: int, failed: int, skipped_locked: int) -> str:
    """The one-line outcome of ``certsmith renew``, e.g. "1 renewed, 3 not due, 0 failed,
    0 skipped (locked)". The order and wording are stable for log scrapers."""
    return (
        f"{renewed} renewed, {not_due} not due, {failed} failed, {skipped_locked} skipped (locked)"
    )
