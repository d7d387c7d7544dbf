"""JWK, thumbprints, flattened JWS, EAB and key authorizations, checked with cryptography."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from certsmith.acme import AcmeError, ExternalAccountBinding, jws

_CURVES: dict[str, tuple[ec.EllipticCurve, hashes.HashAlgorithm]] = {
    "P-256": (ec.SECP256R1(), hashes.SHA256()),
    "P-384": (ec.SECP384R1(), hashes.SHA384()),
    "P-521": (ec.SECP521R1(), hashes.SHA512()),
}


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_from_jwk(key: dict[str, str]) -> Any:
    if key["kty"] == "EC":
        curve, _ = _CURVES[key["crv"]]
        x, y = (int.from_bytes(b64d(key[c]), "big") for c in ("x", "y"))
        return ec.EllipticCurvePublicNumbers(x, y, curve).public_key()
    e, n = (int.from_bytes(b64d(key[c]), "big") for c in ("e", "n"))
    return rsa.RSAPublicNumbers(e, n).public_key()


def verify_jws(message: dict[str, str], public_key: Any = None) -> tuple[dict[str, Any], Any]:
    """Verify a flattened JWS as a CA would; returns (protected header, payload or None)."""
    assert set(message) == {"protected", "payload", "signature"}
    protected = json.loads(b64d(message["protected"]))
    key = public_key or public_key_from_jwk(protected["jwk"])
    signing_input = f"{message['protected']}.{message['payload']}".encode()
    signature = b64d(message["signature"])
    if protected["alg"].startswith("ES"):
        assert isinstance(key, ec.EllipticCurvePublicKey)
        size = (key.curve.key_size + 7) // 8
        assert len(signature) == 2 * size
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        digest = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(), "ES512": hashes.SHA512()}
        key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(digest[protected["alg"]]))
    else:
        assert protected["alg"] == "RS256"
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    payload = json.loads(b64d(message["payload"])) if message["payload"] else None
    return protected, payload


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_thumbprint_matches_rfc7638_example() -> None:
    # RFC 7638 section 3.1.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
        "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
        "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    key = rsa.RSAPublicNumbers(65537, int.from_bytes(b64d(n), "big")).public_key()
    assert jws.thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert jws.thumbprint({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256"}) == (
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


@pytest.mark.parametrize(
    ("curve", "alg", "size"),
    [(ec.SECP256R1(), "ES256", 32), (ec.SECP384R1(), "ES384", 48), (ec.SECP521R1(), "ES512", 66)],
)
def test_ec_jws_with_jwk_verifies(curve: ec.EllipticCurve, alg: str, size: int) -> None:
    key = ec.generate_private_key(curve)
    message = jws.sign(key, "https://ca.test/new-acct", {"a": 1}, nonce="n0nce")
    protected, payload = verify_jws(message)
    assert payload == {"a": 1}
    assert protected == {
        "alg": alg,
        "url": "https://ca.test/new-acct",
        "nonce": "n0nce",
        "jwk": jws.jwk(key),
    }
    assert len(b64d(protected["jwk"]["x"])) == size  # coordinates are left-padded


def test_rsa_jws_with_kid_and_post_as_get(rsa_key: rsa.RSAPrivateKey) -> None:
    message = jws.sign(rsa_key, "https://ca.test/order/1", None, nonce="n", kid="https://ca.test/a")
    assert message["payload"] == ""
    protected, payload = verify_jws(message, rsa_key.public_key())
    assert payload is None
    assert protected["kid"] == "https://ca.test/a" and "jwk" not in protected
    assert protected["alg"] == "RS256"


def test_tampered_jws_fails_verification() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    message = jws.sign(key, "https://ca.test/x", {"v": 1}, nonce="n")
    other = jws.sign(key, "https://ca.test/x", {"v": 2}, nonce="n")
    with pytest.raises(InvalidSignature):
        verify_jws({**message, "payload": other["payload"]})


def test_unsupported_keys_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(AcmeError, match="2048"):
        jws.algorithm(small)
    with pytest.raises(AcmeError, match="curve"):
        jws.algorithm(ec.generate_private_key(ec.SECP256K1()))


@pytest.mark.parametrize(
    ("alg", "digest"),
    [("HS256", hashlib.sha256), ("HS384", hashlib.sha384), ("HS512", hashlib.sha512)],
)
def test_eab_structure_and_mac(alg: str, digest: Any) -> None:
    account_key = ec.generate_private_key(ec.SECP256R1())
    mac_key = b"\x01\x02secret-mac-key\xff"
    eab = ExternalAccountBinding.from_b64("kid-7", jws.b64url(mac_key) + "==", alg)
    assert eab.hmac_key == mac_key
    message = eab.sign(account_key, "https://ca.test/new-acct")
    protected = json.loads(b64d(message["protected"]))
    # RFC 8555 section 7.3.4: alg, kid and url; no nonce; the payload is the account JWK.
    assert protected == {"alg": alg, "kid": "kid-7", "url": "https://ca.test/new-acct"}
    assert json.loads(b64d(message["payload"])) == jws.jwk(account_key)
    expected = hmac.new(
        mac_key, f"{message['protected']}.{message['payload']}".encode(), digest
    ).digest()
    assert b64d(message["signature"]) == expected


def test_eab_rejects_bad_input() -> None:
    with pytest.raises(AcmeError):
        ExternalAccountBinding.from_b64("kid", "not/base64url!")
    with pytest.raises(AcmeError):
        ExternalAccountBinding("kid", b"k", "HS1")


def test_key_authorization_and_dns01_value() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    keyauth = jws.key_authorization("tok-EN_123", key)
    assert keyauth == f"tok-EN_123.{jws.thumbprint(key)}"
    expected = base64.urlsafe_b64encode(hashlib.sha256(keyauth.encode()).digest()).rstrip(b"=")
    assert jws.dns01_txt_value(keyauth) == expected.decode()


@pytest.mark.parametrize(
    "token", ["", "../../etc/passwd", "a/b", "tok en", "tok\n", "tök", "a" * 257, "abc="]
)
def test_key_authorization_rejects_hostile_tokens(token: str) -> None:
    with pytest.raises(AcmeError, match="base64url"):
        jws.key_authorization(token, ec.generate_private_key(ec.SECP256R1()))
