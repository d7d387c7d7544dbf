"""Pieces shared by the scripted CAs on httpx.MockTransport (test_acme_client, test_issuance).

- ``BASE``: the scripted CA's origin; ``Responder``: what a test may queue for one path.
- ``problem(name, status, headers)``: an RFC 7807 / RFC 8555 section 6.7 problem response.
- ``FakeTime``: a monotonic clock, an asyncio-style sleep that only advances it, a UTC now().
- ``cn_name(cn)``, ``pem(cert)`` and ``make_cert(...)``: just enough X.509 for chains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

BASE = "https://ca.test"
Responder = httpx.Response | Callable[[httpx.Request], httpx.Response]


def problem(name: str, status: int = 400, headers: dict[str, str] | None = None) -> httpx.Response:
    """An ``urn:ietf:params:acme:error:<name>`` problem document with ``status``."""
    body = {"type": f"urn:ietf:params:acme:error:{name}", "detail": f"scripted {name}"}
    return httpx.Response(
        status,
        json=body,
        headers={"Content-Type": "application/problem+json", **(headers or {})},
    )


class FakeTime:
    """A monotonic clock, an asyncio-style sleep that only advances it, and a UTC now()."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def utcnow(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.t)


def cn_name(cn: str) -> x509.Name:
    """A distinguished name holding only the common name ``cn``."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def pem(cert: x509.Certificate) -> str:
    """``cert`` as PEM text."""
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def make_cert(
    subject: x509.Name,
    issuer_cn: str,
    public_key: Any,
    signer: Any,
    *,
    not_before: datetime,
    lifetime: timedelta,
    extensions: Sequence[x509.ExtensionType] = (),
) -> x509.Certificate:
    """A certificate for ``public_key`` signed (SHA-256) by ``signer``, valid from ``not_before``
    for ``lifetime``, with ``extensions`` added as non-critical."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(cn_name(issuer_cn))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + lifetime)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(signer, hashes.SHA256())
