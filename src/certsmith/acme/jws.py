"""JSON Web Keys and flattened JWS as ACME uses them (RFC 7515, 7517, 7518, 7638, RFC 8555 6.2).

Account keys are ECDSA P-256 / P-384 / P-521 (ES256 / ES384 / ES512) or RSA >= 2048 bits (RS256).
Every signature is made by ``cryptography``; this module only arranges bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from certsmith.acme.errors import AcmeError

AccountKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# curve name -> (JWK crv, JWS alg, hash, coordinate size in bytes)
_CURVES: dict[str, tuple[str, str, hashes.HashAlgorithm, int]] = {
    "secp256r1": ("P-256", "ES256", hashes.SHA256(), 32),
    "secp384r1": ("P-384", "ES384", hashes.SHA384(), 48),
    "secp521r1": ("P-521", "ES512", hashes.SHA512(), 66),
}
_HMAC_ALGS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of `b64url`; raises ValueError on characters outside the alphabet."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_bytes(value: int, size: int | None = None) -> bytes:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(length, "big")


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _curve(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> tuple[Any, ...]:
    try:
        return _CURVES[key.curve.name]
    except KeyError:
        raise AcmeError(f"unsupported account key curve {key.curve.name}") from None


def jwk(key: AccountKey | PublicKey) -> dict[str, str]:
    """The public JWK of a key, members in RFC 7638 order (only the required members)."""
    public = (
        key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) else key
    )
    if isinstance(public, ec.EllipticCurvePublicKey):
        crv, _, _, size = _curve(public)
        numbers = public.public_numbers()
        return {
            "crv": crv,
            "kty": "EC",
            "x": b64url(_int_bytes(numbers.x, size)),
            "y": b64url(_int_bytes(numbers.y, size)),
        }
    if isinstance(public, rsa.RSAPublicKey):
        rsa_numbers = public.public_numbers()
        return {
            "e": b64url(_int_bytes(rsa_numbers.e)),
            "kty": "RSA",
            "n": b64url(_int_bytes(rsa_numbers.n)),
        }
    raise AcmeError(f"unsupported account key type {type(public).__name__}")


def thumbprint(key: AccountKey | PublicKey | dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), base64url."""
    data = key if isinstance(key, dict) else jwk(key)
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}[data["kty"]]
    canonical = json.dumps({k: data[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def algorithm(key: AccountKey) -> str:
    """The JWS ``alg`` used with this key."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return str(_curve(key)[1])
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise AcmeError("RSA account keys must have at least 2048 bits")
        return "RS256"
    raise AcmeError(f"unsupported account key type {type(key).__name__}")


def _sign_bytes(key: AccountKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        _, _, digest, size = _curve(key)
        # RFC 7518 section 3.4: r || s, each left-padded to the coordinate size.
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
        return _int_bytes(r, size) + _int_bytes(s, size)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def sign(
    key: AccountKey,
    url: str,
    payload: Any | None,
    *,
    nonce: str | None,
    kid: str | None = None,
) -> dict[str, str]:
    """A flattened JWS (RFC 8555 section 6.2) over ``payload``.

    ``payload=None`` makes a POST-as-GET (empty payload, section 6.3). With ``kid`` the protected
    header names the account; without it, it carries the public ``jwk`` (newAccount, revocation
    by certificate key, the inner key-change JWS). ``nonce=None`` omits the nonce (inner JWS).
    """
    protected: dict[str, Any] = {"alg": algorithm(key), "url": url}
    if nonce is not None:
        protected["nonce"] = nonce
    if kid is not None:
        protected["kid"] = kid
    else:
        protected["jwk"] = jwk(key)
    protected_b64 = b64url(_json_bytes(protected))
    payload_b64 = "" if payload is None else b64url(_json_bytes(payload))
    signature = _sign_bytes(key, f"{protected_b64}.{payload_b64}".encode("ascii"))
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64url(signature)}


@dataclass(frozen=True)
class ExternalAccountBinding:
    """RFC 8555 section 7.3.4: a key identifier and MAC key the CA handed out of band."""

    kid: str
    hmac_key: bytes
    alg: str = "HS256"

    def __post_init__(self) -> None:
        if self.alg not in _HMAC_ALGS:
            raise AcmeError(f"unsupported EAB algorithm {self.alg}")
        if not self.kid or not self.hmac_key:
            raise AcmeError("EAB needs a key identifier and a MAC key")

    @classmethod
    def from_b64(cls, kid: str, hmac_key_b64: str, alg: str = "HS256") -> ExternalAccountBinding:
        """The MAC key as CAs print it: base64url, padding optional."""
        try:
            key = b64url_decode(hmac_key_b64.strip().rstrip("="))
        except ValueError:
            raise AcmeError("the EAB MAC key is not base64url") from None
        return cls(kid, key, alg)

    def sign(self, account_key: AccountKey, new_account_url: str) -> dict[str, str]:
        """The JWS binding the account's public key, for the newAccount payload."""
        protected = {"alg": self.alg, "kid": self.kid, "url": new_account_url}
        protected_b64 = b64url(_json_bytes(protected))
        payload_b64 = b64url(_json_bytes(jwk(account_key)))
        mac = hmac.new(
            self.hmac_key, f"{protected_b64}.{payload_b64}".encode(), _HMAC_ALGS[self.alg]
        ).digest()
        return {"protected": protected_b64, "payload": payload_b64, "signature": b64url(mac)}


def key_authorization(token: str, key: AccountKey) -> str:
    """RFC 8555 section 8.1: ``token || '.' || thumbprint``; refuses tokens outside base64url."""
    if not _TOKEN_RE.fullmatch(token):
        raise AcmeError("the CA sent a challenge token that is not base64url")
    return f"{token}.{thumbprint(key)}"


def dns01_txt_value(key_authz: str) -> str:
    """RFC 8555 section 8.4: base64url(SHA-256(key authorization))."""
    return b64url(hashlib.sha256(key_authz.encode("ascii")).digest())
