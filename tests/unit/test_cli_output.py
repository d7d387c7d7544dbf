"""`certsmith certificates` text (certbot's block) and JSON (schema 1); the renew summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certsmith.cli.output import (
    CertificatePaths,
    CertificateSummary,
    CertStatus,
    certificate_status,
    days_left,
    format_renew_summary,
    render_certificates_json,
    render_certificates_text,
    select_certificates,
)

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
LIVE = Path("/etc/letsencrypt/live")


def summary(name: str = "a.com", **kw: object) -> CertificateSummary:
    folder = LIVE / name
    fields: dict[str, object] = {
        "name": name,
        "identifiers": (name, f"www.{name}"),
        "paths": CertificatePaths(
            folder / "cert.pem",
            folder / "chain.pem",
            folder / "fullchain.pem",
            folder / "privkey.pem",
        ),
        "renewal_conf": Path(f"/etc/letsencrypt/renewal/{name}.conf"),
        "key_type": "ecdsa",
        "serial": "3a5f00c1",
        "not_before": NOW - timedelta(days=10),
        "not_after": NOW + timedelta(days=80),
    }
    fields.update(kw)
    return CertificateSummary(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "status"),
    [
        ({}, CertStatus.VALID),
        ({"not_after": NOW - timedelta(seconds=1)}, CertStatus.EXPIRED),
        ({"revoked": True}, CertStatus.REVOKED),
        ({"problem": "privkey.pem missing"}, CertStatus.BROKEN),
        ({"not_after": None}, CertStatus.BROKEN),
        ({"not_after": NOW + timedelta(days=4)}, CertStatus.EXPIRING),  # 4 < 14 / 3 days left
        ({"not_after": NOW + timedelta(days=6)}, CertStatus.VALID),  # 6 > 16 / 3
        ({"due": True}, CertStatus.EXPIRING),
        ({"ari_window": (NOW - timedelta(hours=1), NOW + timedelta(days=1))}, CertStatus.EXPIRING),
        ({"ari_window": (NOW + timedelta(days=50), NOW + timedelta(days=52))}, CertStatus.VALID),
    ],
)
def test_status(kw: dict[str, object], status: CertStatus) -> None:
    assert certificate_status(summary(**kw), NOW) is status


def test_days_left() -> None:
    assert days_left(summary(), NOW) == 80
    assert days_left(summary(not_after=NOW - timedelta(days=2)), NOW) == -2
    assert days_left(summary(not_after=None), NOW) is None


def test_text_matches_certbot_layout() -> None:
    text = render_certificates_text([summary()], NOW)
    frame = "- " * 39 + "-"
    expiry = NOW + timedelta(days=80)
    assert text == (
        f"\n{frame}\n"
        "Found the following certs:\n"
        "  Certificate Name: a.com\n"
        "    Serial Number: 3a5f00c1\n"
        "    Key Type: ECDSA\n"
        "    Identifiers: a.com www.a.com\n"
        f"    Expiry Date: {expiry} (VALID: 80 days)\n"
        "    Certificate Path: /etc/letsencrypt/live/a.com/fullchain.pem\n"
        "    Private Key Path: /etc/letsencrypt/live/a.com/privkey.pem\n"
        f"{frame}\n"
    )


def test_text_invalid_states_and_broken_lineages() -> None:
    certs = [
        summary("old.com", not_after=NOW - timedelta(days=1), key_type="rsa"),
        summary("rev.com", revoked=True, test_cert=True),
        summary("soon.com", not_after=NOW + timedelta(hours=5)),
        summary("bad.com", problem="cert.pem is missing"),
    ]
    text = render_certificates_text(certs, NOW, filtered=True)
    assert "Found the following matching certs:" in text
    assert "(INVALID: EXPIRED)" in text and "Key Type: RSA" in text
    assert "(INVALID: TEST_CERT, REVOKED)" in text
    assert "(VALID: 5 hour(s))" in text
    assert "The following renewal configurations were invalid:" in text
    assert "/etc/letsencrypt/renewal/bad.com.conf (cert.pem is missing)" in text
    assert "Certificate Name: bad.com" not in text


def test_text_no_certificates() -> None:
    assert "No certificates found." in render_certificates_text([], NOW)


def test_json_schema() -> None:
    window = (NOW + timedelta(days=50), NOW + timedelta(days=52))
    doc = json.loads(render_certificates_json([summary(ari_window=window)], NOW))
    assert doc["schema"] == 1
    (entry,) = doc["certificates"]
    assert entry == {
        "name": "a.com",
        "identifiers": ["a.com", "www.a.com"],
        "key_type": "ecdsa",
        "serial": "3a5f00c1",
        "not_before": "2025-12-31T12:00:00Z",
        "not_after": "2026-03-31T12:00:00Z",
        "days_left": 80,
        "ari_window": {"start": "2026-03-01T12:00:00Z", "end": "2026-03-03T12:00:00Z"},
        "status": "valid",
        "test_cert": False,
        "problem": None,
        "paths": {
            "cert": "/etc/letsencrypt/live/a.com/cert.pem",
            "chain": "/etc/letsencrypt/live/a.com/chain.pem",
            "fullchain": "/etc/letsencrypt/live/a.com/fullchain.pem",
            "privkey": "/etc/letsencrypt/live/a.com/privkey.pem",
        },
        "renewal_conf": "/etc/letsencrypt/renewal/a.com.conf",
        "last_run": None,
        "dns_persist": None,
    }


def test_json_broken_and_empty() -> None:
    doc = json.loads(render_certificates_json([summary(not_after=None, problem="x")], NOW))
    entry = doc["certificates"][0]
    assert entry["status"] == "broken" and entry["days_left"] is None
    assert entry["ari_window"] is None and entry["not_after"] is None
    assert json.loads(render_certificates_json([], NOW)) == {"schema": 1, "certificates": []}


def test_select_certificates_like_certbot() -> None:
    certs = [summary("a.com"), summary("b.com")]
    assert [c.name for c in select_certificates(certs, cert_name="b.com")] == ["b.com"]
    assert [c.name for c in select_certificates(certs, identifiers=["www.a.com"])] == ["a.com"]
    assert select_certificates(certs, identifiers=["a.com", "b.com"]) == []
    assert len(select_certificates(certs)) == 2


def test_renew_summary_line() -> None:
    assert format_renew_summary(1, 3, 0, 2) == "1 renewed, 3 not due, 0 failed, 2 skipped (locked)"
