"""Private keys, CSRs, certificate inspection and name normalisation, all through `cryptography`.

Names typed by users go through :func:`normalize_names` before anything else sees them: it returns
:class:`~certsmith.acme.identifier.Identifier` values (DNS names as lower-case A-labels, IDNA 2008
via the ``idna`` package; IP addresses in canonical form) or raises
:class:`~certsmith.errors.UsageError` naming every problem, one sentence each.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import idna
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certsmith.acme.identifier import Identifier
from certsmith.errors import UsageError
from certsmith.wording import said
from certsmith.wording_parts import joined

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
KeyType = Literal["ecdsa", "rsa"]

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}
_CURVE_LABELS = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_PEM_CERT_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----\r?\n?", re.DOTALL
)
_LDH_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
MAX_CN_LENGTH = 64  # RFC 5280 ub-common-name
# Characters no DNS name in a certificate has, and the sentence that says so.
_FORBIDDEN = (
    (" ", "crypto.name_space"),
    ("/", "crypto.name_slash"),
    ("_", "crypto.name_underscore"),
)


# --- keys -----------------------------------------------------------------------------------


def generate_private_key(
    key_type: str = "ecdsa", rsa_key_size: int = 2048, elliptic_curve: str = "secp256r1"
) -> PrivateKey:
    """A new private key: ECDSA on ``elliptic_curve`` or RSA of ``rsa_key_size`` bits.

    Raises UsageError for an unknown key type, curve, or an RSA size below 2048 or not a
    multiple of 8.
    """
    if key_type == "ecdsa":
        curve = _CURVES.get(elliptic_curve)
        if curve is None:
            curves = ", ".join(_CURVES)
            raise UsageError(
                said("crypto.curve_unsupported", curve=repr(elliptic_curve), curves=curves)
            )
        return ec.generate_private_key(curve())
    if key_type == "rsa":
        if rsa_key_size < 2048 or rsa_key_size % 8 or rsa_key_size > 8192:
            raise UsageError(said("crypto.rsa_size_unsupported", size=rsa_key_size))
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
    raise UsageError(said("crypto.key_type_unsupported", key_type=repr(key_type)))


def private_key_pem(key: PrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"), the form certbot writes."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> PrivateKey:
    """Load an unencrypted RSA or EC private key from PEM (PKCS#8, PKCS#1 or SEC1).

    Raises ValueError when the data is not such a key.
    """
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    return key


def key_description(key: PrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    """A short human label: "ECDSA P-256", "RSA 2048"."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    return f"ECDSA {_CURVE_LABELS.get(key.curve.name, key.curve.name)}"


def _public_der(key: object) -> bytes:
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return b""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_matches_certificate(key: PrivateKey, cert: x509.Certificate) -> bool:
    """Whether ``cert`` certifies the public half of ``key`` (public keys equal)."""
    return _public_der(key.public_key()) == _public_der(cert.public_key())


# --- CSRs -----------------------------------------------------------------------------------


def make_csr(key: PrivateKey, identifiers: Iterable[Identifier]) -> bytes:
    """A DER CSR signed with ``key`` whose SAN holds every identifier (DNS names, IPs).

    Like certbot, the subject CN is the first DNS name when it fits in 64 characters; otherwise
    the subject is empty (RFC 8555 section 7.4 only needs the SAN). Raises UsageError when
    ``identifiers`` is empty.
    """
    idents = list(identifiers)
    if not idents:
        raise UsageError(said("crypto.csr_no_names"))
    sans: list[x509.GeneralName] = []
    for ident in idents:
        if ident.type == "dns":
            sans.append(x509.DNSName(ident.value))
        else:
            sans.append(x509.IPAddress(ipaddress.ip_address(ident.value)))
    builder = x509.CertificateSigningRequestBuilder()
    first_dns = next((i.value for i in idents if i.type == "dns"), None)
    if first_dns is not None and len(first_dns) <= MAX_CN_LENGTH:
        builder = builder.subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first_dns)])
        )
    else:
        builder = builder.subject_name(x509.Name([]))
    builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)


def make_self_signed(
    key: PrivateKey,
    identifiers: Iterable[Identifier],
    *,
    not_before: datetime.datetime | None = None,
    days: int = 90,
    issuer_cn: str | None = None,
    signer: PrivateKey | None = None,
    serial: int | None = None,
) -> bytes:
    """A PEM certificate for ``identifiers`` with ``key``'s public key (tests, placeholders).

    Self-signed by default; with ``signer`` (and ``issuer_cn``, the issuer's CN) it is signed
    by that key instead, so a self-signed ``signer`` certificate can serve as its chain.
    """
    idents = list(identifiers)
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    cn = next((i.value for i in idents if i.type == "dns"), issuer_cn or "certsmith")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn[:MAX_CN_LENGTH])])
    issuer = subject
    if signer is not None and issuer_cn:
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)])
    sans: list[x509.GeneralName] = [
        x509.DNSName(i.value) if i.type == "dns" else x509.IPAddress(ipaddress.ip_address(i.value))
        for i in idents
    ]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signer or key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


# --- certificates ---------------------------------------------------------------------------


def split_pem_chain(pem: bytes) -> list[bytes]:
    """Each CERTIFICATE block of ``pem`` in order, each ending with one newline."""
    blocks = []
    for match in _PEM_CERT_RE.finditer(pem):
        block = match.group(0).replace(b"\r\n", b"\n")
        blocks.append(block if block.endswith(b"\n") else block + b"\n")
    return blocks


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM chain, leaf first. Raises ValueError on none or bad data."""
    blocks = split_pem_chain(pem)
    if not blocks:
        raise ValueError("no PEM certificate found")
    return [x509.load_pem_x509_certificate(block) for block in blocks]


@dataclass(frozen=True)
class CertInfo:
    """What certsmith needs to know about one certificate."""

    identifiers: tuple[Identifier, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: int
    issuer_cn: str | None
    key_type: str

    @property
    def serial_hex(self) -> str:
        return f"{self.serial:x}"


def certificate_identifiers(cert: x509.Certificate) -> list[Identifier]:
    """The SAN DNS names and IP addresses of ``cert``, in certificate order."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    idents: list[Identifier] = []
    for name in san:
        if isinstance(name, x509.DNSName):
            idents.append(Identifier.dns(name.value))
        elif isinstance(name, x509.IPAddress) and not isinstance(
            name.value, ipaddress.IPv4Network | ipaddress.IPv6Network
        ):
            idents.append(Identifier.ip(str(name.value)))
    return idents


def load_csr(data: bytes) -> tuple[bytes, list[Identifier]]:
    """A CSR made elsewhere (PEM or DER): its DER and its SAN names; UsageError if it is not a
    signed CSR or names nothing (as certbot, the subject CN alone is not enough)."""
    try:
        csr = (
            x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data)
        )
    except ValueError:
        raise UsageError(said("crypto.csr_unreadable")) from None
    if not csr.is_signature_valid:
        raise UsageError(said("crypto.csr_bad_signature"))
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    names = [Identifier.dns(n) for n in san.get_values_for_type(x509.DNSName)]
    names += [Identifier.ip(str(a)) for a in san.get_values_for_type(x509.IPAddress)]
    if not names:
        raise UsageError(said("crypto.csr_no_san"))
    return csr.public_bytes(serialization.Encoding.DER), names


def inspect_certificate(cert: x509.Certificate) -> CertInfo:
    """Names, validity (aware UTC datetimes), serial, issuer CN and key type of ``cert``."""
    cns = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    issuer_cn = str(cns[0].value) if cns else None
    public = cert.public_key()
    if isinstance(public, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        key_type = key_description(public)
    else:
        key_type = type(public).__name__
    return CertInfo(
        identifiers=tuple(certificate_identifiers(cert)),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
        issuer_cn=issuer_cn,
        key_type=key_type,
    )


# --- names ----------------------------------------------------------------------------------


def normalize_names(names: Iterable[str]) -> list[Identifier]:
    """Turn user input into identifiers, deduplicated, in input order.

    DNS names lose a trailing dot and are lower-cased; non-ASCII labels become IDNA 2008
    A-labels (UTS 46 mapping, non-transitional: "faß.de" -> "xn--fa-hia.de"). Only a leading
    "*." wildcard is allowed. IP addresses become ``ip`` identifiers in canonical form.
    Raises UsageError listing one sentence per bad name.
    """
    result: list[Identifier] = []
    problems: list[str] = []  # one sentence each (a Said), said together below
    for raw in names:
        try:
            ident = normalize_name(raw)
        except UsageError as exc:
            problems.append(exc.message)
            continue
        if ident not in result:
            result.append(ident)
    if problems:
        raise UsageError(joined(problems, " "))
    if not result:
        raise UsageError(said("crypto.no_names"))
    return result


def normalize_name(raw: str) -> Identifier:
    """One name (see :func:`normalize_names`). Raises UsageError with one sentence."""
    name = raw.strip()
    if not name:
        raise UsageError(said("crypto.name_empty"))
    if "%" in name:
        raise UsageError(said("crypto.name_percent", name=repr(raw)))
    address = _as_ip(name)
    if address is not None:
        return Identifier.ip(address)
    for char, key in _FORBIDDEN:
        if char in name:
            raise UsageError(said(key, name=repr(raw)))
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]
    wildcard = name.startswith("*.")
    body = name[2:] if wildcard else name
    if "*" in body:
        raise UsageError(said("crypto.name_wildcard_misplaced", name=repr(raw)))
    labels = body.split(".")
    if any(not label for label in labels):
        raise UsageError(said("crypto.name_empty_label", name=repr(raw)))
    ascii_labels = [_label_to_ascii(raw, label) for label in labels]
    result = ".".join((["*"] if wildcard else []) + ascii_labels)
    if len(result) > 253:
        raise UsageError(said("crypto.name_too_long", name=repr(raw)))
    if wildcard and len(ascii_labels) < 2:
        raise UsageError(said("crypto.wildcard_too_short", name=repr(raw)))
    return Identifier.dns(result)


def _as_ip(name: str) -> str | None:
    candidate = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _label_to_ascii(raw: str, label: str) -> str:
    if label.isascii():
        ascii_label = label.lower()
    else:
        try:
            ascii_label = idna.encode(label, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            why = said("crypto.label_not_idna", name=repr(raw), label=repr(label), reason=exc)
            raise UsageError(why) from None
    if len(ascii_label) > 63:
        raise UsageError(said("crypto.label_too_long", name=repr(raw)))
    if ascii_label.startswith("-") or ascii_label.endswith("-"):
        raise UsageError(said("crypto.label_hyphen_edge", name=repr(raw)))
    if not _LDH_LABEL_RE.match(ascii_label):
        raise UsageError(said("crypto.label_characters", name=repr(raw), label=repr(label)))
    if ascii_label[2:4] == "--" and not ascii_label.startswith("xn--"):
        raise UsageError(said("crypto.label_double_hyphen", name=repr(raw)))
    if ascii_label.startswith("xn--"):
        try:
            idna.decode(ascii_label)
        except idna.IDNAError:
            raise UsageError(said("crypto.label_bad_punycode", name=repr(raw))) from None
    return ascii_label
