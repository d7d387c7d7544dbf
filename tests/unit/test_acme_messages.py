"""Wire messages, ARI certificate identifiers and the preferred-chain choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certsmith.acme import (
    AuthorizationStatus,
    ChallengeStatus,
    Directory,
    Order,
    OrderStatus,
    ProtocolViolation,
    RejectedIdentifier,
    RenewalInfo,
    cert_id,
    choose_chain,
)
from certsmith.acme.ari import serial_der_bytes
from certsmith.acme.identifier import Identifier
from certsmith.acme.messages import Account, AccountStatus, Authorization

DIRECTORY = {
    "newNonce": "https://ca.test/nonce",
    "newAccount": "https://ca.test/acct",
    "newOrder": "https://ca.test/order",
    "revokeCert": "https://ca.test/revoke",
    "keyChange": "https://ca.test/key",
    "renewalInfo": "https://ca.test/ari",
    "meta": {
        "termsOfService": "https://ca.test/tos.pdf",
        "website": "https://ca.test",
        "caaIdentities": ["ca.test"],
        "externalAccountRequired": True,
        "profiles": {"classic": "90 days", "shortlived": "6 days"},
    },
}


def test_directory_with_meta() -> None:
    directory = Directory.from_json(DIRECTORY)
    assert directory.renewal_info == "https://ca.test/ari"
    assert directory.new_authz is None
    meta = directory.meta
    assert meta.terms_of_service == "https://ca.test/tos.pdf"
    assert meta.website == "https://ca.test"
    assert meta.caa_identities == ("ca.test",)
    assert meta.external_account_required is True
    assert dict(meta.profiles) == {"classic": "90 days", "shortlived": "6 days"}


def test_directory_without_meta_or_ari() -> None:
    data = {k: v for k, v in DIRECTORY.items() if k not in ("meta", "renewalInfo")}
    directory = Directory.from_json(data)
    assert directory.renewal_info is None
    assert directory.meta.external_account_required is False
    assert directory.meta.profiles == {}


@pytest.mark.parametrize(
    "broken",
    [
        [],
        {**DIRECTORY, "newOrder": None},
        {**DIRECTORY, "newNonce": 5},
        {**DIRECTORY, "meta": {"profiles": []}},
        {**DIRECTORY, "meta": {"caaIdentities": "ca.test"}},
    ],
)
def test_directory_rejects_malformed(broken: Any) -> None:
    with pytest.raises(ProtocolViolation):
        Directory.from_json(broken)


ORDER = {
    "status": "invalid",
    "expires": "2026-01-02T03:04:05.123456789Z",
    "identifiers": [{"type": "dns", "value": "a.example"}, {"type": "ip", "value": "127.0.0.1"}],
    "authorizations": ["https://ca.test/authz/1", "https://ca.test/authz/2"],
    "finalize": "https://ca.test/order/1/finalize",
    "profile": "shortlived",
    "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
    "error": {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "no"},
}


def test_order_parses_everything() -> None:
    order = Order.from_json(ORDER, "https://ca.test/order/1")
    assert order.status is OrderStatus.INVALID
    assert order.identifiers == (Identifier.dns("a.example"), Identifier.ip("127.0.0.1"))
    assert order.expires == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert order.profile == "shortlived" and order.replaces == ORDER["replaces"]
    assert isinstance(order.error, RejectedIdentifier)
    assert order.certificate is None


@pytest.mark.parametrize(
    "change",
    [
        {"status": "done"},
        {"identifiers": "a.example"},
        {"identifiers": [{"type": "email", "value": "x"}]},
        {"finalize": None},
        {"expires": "yesterday"},
        {"expires": "2026-01-02T03:04:05"},  # no time zone
    ],
)
def test_order_rejects_malformed(change: dict[str, Any]) -> None:
    with pytest.raises(ProtocolViolation):
        Order.from_json({**ORDER, **change}, "https://ca.test/order/1")


def test_authorization_and_challenges() -> None:
    data = {
        "status": "invalid",
        "identifier": {"type": "dns", "value": "example.org"},
        "wildcard": True,
        "challenges": [
            {"type": "dns-01", "url": "https://ca.test/c/1", "status": "pending", "token": "t1"},
            {
                "type": "http-01",
                "url": "https://ca.test/c/2",
                "status": "invalid",
                "token": "t2",
                "error": {"type": "urn:ietf:params:acme:error:connection", "detail": "refused"},
            },
        ],
    }
    authz = Authorization.from_json(data, "https://ca.test/authz/1")
    assert authz.status is AuthorizationStatus.INVALID and authz.wildcard
    http = authz.challenge("http-01")
    assert http is not None and http.status is ChallengeStatus.INVALID and http.token == "t2"
    assert authz.challenge("tls-alpn-01") is None
    assert authz.failure is not None and authz.failure.detail == "refused"


def test_account() -> None:
    account = Account.from_json(
        {"status": "valid", "contact": ["mailto:a@b.example"], "orders": "https://ca.test/o"},
        "https://ca.test/acct/1",
    )
    assert account.status is AccountStatus.VALID and account.contact == ("mailto:a@b.example",)
    with pytest.raises(ProtocolViolation):
        Account.from_json({"status": "valid", "contact": "mailto:a@b.example"}, "u")


def test_renewal_info() -> None:
    info = RenewalInfo.from_json(
        {
            "suggestedWindow": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
            "explanationURL": "https://ca.test/why",
        },
        retry_after=21600.0,
    )
    assert info.window_end - info.window_start == timedelta(days=1)
    assert info.explanation_url == "https://ca.test/why" and info.retry_after == 21600.0
    with pytest.raises(ProtocolViolation):
        RenewalInfo.from_json(
            {"suggestedWindow": {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}}
        )
    with pytest.raises(ProtocolViolation):
        RenewalInfo.from_json({"suggestedWindow": None})


def _cert(
    subject: str,
    issuer: str,
    *,
    serial: int = 1,
    aki: bytes | None = None,
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
    )
    if aki is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(aki, None, None), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def test_ari_cert_id_matches_rfc9773_example() -> None:
    # RFC 9773 section 4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:
    # C8:D4 and serial 00:87:65:43:21 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
    aki = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    cert = _cert("leaf", "ca", serial=0x87654321, aki=aki)
    assert cert_id(cert) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


@pytest.mark.parametrize(
    ("serial", "octets"),
    [(1, b"\x01"), (0x7F, b"\x7f"), (0x80, b"\x00\x80"), (0x0100, b"\x01\x00"), (0, b"\x00")],
)
def test_serial_der_bytes(serial: int, octets: bytes) -> None:
    assert serial_der_bytes(serial) == octets


def test_cert_id_needs_aki() -> None:
    from certsmith.acme import AcmeError

    with pytest.raises(AcmeError, match="Authority Key Identifier"):
        cert_id(_cert("leaf", "ca"))


def _pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def test_choose_chain_prefers_topmost_issuer_then_any_name_then_default() -> None:
    leaf = _cert("leaf.example", "Int A")
    default = _pem(leaf, _cert("Int A", "Root X"))
    alt_top = _pem(leaf, _cert("Int A", "Cross Y"))
    alt_mid = _pem(leaf, _cert("Int A", "Bridge Z"), _cert("Bridge Z", "Root W"))
    chains = [default, alt_top, alt_mid]
    assert choose_chain(chains, "Cross Y") == alt_top
    assert choose_chain(chains, "Root X") == default
    assert choose_chain(chains, "Root W") == alt_mid  # topmost issuer
    assert choose_chain(chains, "Bridge Z") == alt_mid  # a name inside the chain
    assert choose_chain(chains, "leaf.example") == default  # the leaf's own name is no issuer
    assert choose_chain(chains, "Nobody") == default


def test_choose_chain_rejects_garbage() -> None:
    with pytest.raises(ProtocolViolation):
        choose_chain(["not a pem"], "x")
