"""Keys, CSRs, certificate inspection (certsmith.crypto)."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.errors import UsageError


@pytest.mark.parametrize(
    ("curve", "size", "label"),
    [("secp256r1", 256, "ECDSA P-256"), ("secp384r1", 384, "ECDSA P-384")],
)
def test_ecdsa_keys_use_the_requested_curve(curve: str, size: int, label: str) -> None:
    key = crypto.generate_private_key("ecdsa", elliptic_curve=curve)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == curve and key.curve.key_size == size
    assert crypto.key_description(key) == label


def test_rsa_key_has_requested_size() -> None:
    key = crypto.generate_private_key("rsa", rsa_key_size=2048)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert crypto.key_description(key) == "RSA 2048"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key_type": "dsa"},
        {"key_type": "ecdsa", "elliptic_curve": "secp192r1"},
        {"key_type": "rsa", "rsa_key_size": 1024},
        {"key_type": "rsa", "rsa_key_size": 2050},
    ],
)
def test_bad_key_parameters_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        crypto.generate_private_key(**kwargs)  # type: ignore[arg-type]


def test_private_key_pem_is_pkcs8_and_round_trips() -> None:
    key = crypto.generate_private_key()
    pem = crypto.private_key_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = crypto.load_private_key(pem)
    assert crypto.private_key_pem(loaded) == pem


def test_load_private_key_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        crypto.load_private_key(b"not a key")


def test_csr_has_sans_cn_and_valid_signature() -> None:
    key = crypto.generate_private_key()
    idents = [Identifier.dns("example.com"), Identifier.dns("*.example.com"), Identifier.ip("::1")]
    csr = x509.load_der_x509_csr(crypto.make_csr(key, idents))
    assert csr.is_signature_valid
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["example.com", "*.example.com"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["::1"]
    cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [a.value for a in cn] == ["example.com"]


def test_csr_without_cn_when_first_name_is_too_long() -> None:
    long_name = ("a" * 60) + ".example.com"
    key = crypto.generate_private_key()
    csr = x509.load_der_x509_csr(crypto.make_csr(key, [Identifier.dns(long_name)]))
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [long_name]


def test_csr_ip_only_has_empty_subject() -> None:
    key = crypto.generate_private_key()
    csr = x509.load_der_x509_csr(crypto.make_csr(key, [Identifier.ip("127.0.0.1")]))
    assert len(csr.subject) == 0


def test_csr_needs_a_name() -> None:
    with pytest.raises(UsageError):
        crypto.make_csr(crypto.generate_private_key(), [])


def _pair() -> tuple[crypto.PrivateKey, bytes, bytes]:
    ca_key = crypto.generate_private_key()
    ca = crypto.make_self_signed(ca_key, [], issuer_cn="Test CA")
    key = crypto.generate_private_key()
    leaf = crypto.make_self_signed(
        key,
        [Identifier.dns("a.test"), Identifier.ip("10.0.0.1")],
        signer=ca_key,
        issuer_cn="Test CA",
        serial=0xABCDEF,
    )
    return key, leaf, ca


def test_split_pem_chain_normalises_line_ends_and_skips_text() -> None:
    _, leaf, ca = _pair()
    messy = b"junk before\r\n" + leaf.replace(b"\n", b"\r\n") + b"between\n" + ca.rstrip(b"\n")
    blocks = crypto.split_pem_chain(messy)
    assert blocks == [leaf, ca]
    certs = crypto.load_certificates(messy)
    assert [c.subject.rfc4514_string() for c in certs] == ["CN=a.test", "CN=Test CA"]


def test_load_certificates_rejects_empty() -> None:
    with pytest.raises(ValueError):
        crypto.load_certificates(b"nothing here")


def test_inspect_certificate() -> None:
    key, leaf, _ = _pair()
    cert = crypto.load_certificates(leaf)[0]
    info = crypto.inspect_certificate(cert)
    assert info.identifiers == (Identifier.dns("a.test"), Identifier.ip("10.0.0.1"))
    assert info.serial == 0xABCDEF and info.serial_hex == "abcdef"
    assert info.issuer_cn == "Test CA"
    assert info.key_type == "ECDSA P-256"
    assert info.not_after - info.not_before == datetime.timedelta(days=90)
    assert info.not_after.tzinfo is not None
    assert crypto.key_matches_certificate(key, cert)
    assert not crypto.key_matches_certificate(crypto.generate_private_key(), cert)


def test_inspect_rsa_certificate() -> None:
    key = crypto.generate_private_key("rsa")
    cert = crypto.load_certificates(crypto.make_self_signed(key, [Identifier.dns("r.test")]))[0]
    info = crypto.inspect_certificate(cert)
    assert info.key_type == "RSA 2048"
    assert info.issuer_cn == "r.test"
