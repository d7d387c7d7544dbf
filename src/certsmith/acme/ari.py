"""ACME Renewal Information (RFC 9773): certificate identifiers and the renewalInfo fetch."""

from __future__ import annotations

from cryptography import x509

from certsmith.acme.errors import AcmeError
from certsmith.acme.jws import b64url
from certsmith.acme.messages import RenewalInfo
from certsmith.acme.transport import Sender


def serial_der_bytes(serial: int) -> bytes:
    """The content octets of the DER INTEGER for a (non-negative) serial number.

    A leading zero octet is kept when the high bit is set, exactly as DER encodes it.
    """
    if serial < 0:
        raise AcmeError("certificate serial numbers are positive (RFC 5280 section 4.1.2.2)")
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big")


def cert_id(cert: x509.Certificate) -> str:
    """RFC 9773 section 4.1: base64url(AKI keyIdentifier) "." base64url(serial DER bytes)."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise AcmeError("the certificate has no Authority Key Identifier; ARI needs one") from None
    if aki.key_identifier is None:
        raise AcmeError("the certificate's Authority Key Identifier has no keyIdentifier")
    return f"{b64url(aki.key_identifier)}.{b64url(serial_der_bytes(cert.serial_number))}"


async def fetch_renewal_info(sender: Sender, base_url: str, cert: x509.Certificate) -> RenewalInfo:
    """GET ``<renewalInfo>/<certID>`` (unauthenticated, section 4.2) and parse the window."""
    url = f"{base_url.rstrip('/')}/{cert_id(cert)}"
    response = await sender.get(url)
    return RenewalInfo.from_json(response.json(), retry_after=sender.retry_after(response))
