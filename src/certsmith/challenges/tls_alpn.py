"""tls-alpn-01 (RFC 8737) by a small built-in TLS server.

For every identifier in flight the server holds a self-signed certificate whose
subjectAltName is the identifier and whose critical acmeIdentifier extension
(id-pe-acmeIdentifier, 1.3.6.1.5.5.7.1.31) holds the DER OCTET STRING of
SHA-256(key authorization) (RFC 8737 section 3). The certificate is chosen by SNI through
``SSLContext.sni_callback``; IP identifiers are reached by their reverse-DNS name
(RFC 8738 section 6, e.g. ``1.0.0.127.in-addr.arpa``).

Only ``acme-tls/1`` is ever negotiated. The ClientHello is read before any TLS processing and a
client that does not offer ``acme-tls/1`` gets a ``no_application_protocol`` alert, so no
challenge certificate reaches an ordinary TLS client (RFC 8737 section 4, RFC 7301 section 3.2).
TLS runs over memory BIOs so that the ClientHello bytes read for that check are fed to OpenSSL.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import ipaddress
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certsmith.acme.identifier import Identifier
from certsmith.challenges._clienthello import NotAClientHello, read_client_hello
from certsmith.challenges._listener import ListeningSolver
from certsmith.challenges.base import ChallengeTask
from certsmith.wording import Said

logger = logging.getLogger(__name__)

ACME_TLS_ALPN = "acme-tls/1"
ACME_IDENTIFIER_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")
# A TLS alert record: fatal (2), no_application_protocol (120), RFC 7301 section 3.2.
_NO_APP_PROTOCOL_ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x78])
_MAX_HANDSHAKE_FLIGHTS = 16


def sni_name(identifier: Identifier) -> str:
    """The SNI name the CA sends for ``identifier`` (reverse-DNS form for IP addresses)."""
    if identifier.type == "ip":
        return ipaddress.ip_address(identifier.value).reverse_pointer
    return identifier.value.lower().removesuffix(".")


def acme_identifier_value(key_authorization: str) -> bytes:
    """DER of ``Authorization ::= OCTET STRING (SIZE (32))`` holding SHA-256(key auth)."""
    digest = hashlib.sha256(key_authorization.encode("utf-8")).digest()
    return bytes([0x04, len(digest)]) + digest


def make_challenge_certificate(
    identifier: Identifier, key_authorization: str, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed P-256 certificate for ``identifier`` carrying the acmeIdentifier extension."""
    key = ec.generate_private_key(ec.SECP256R1())
    if identifier.type == "ip":
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(identifier.value))
    else:
        san = x509.DNSName(identifier.value)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME tls-alpn-01 challenge")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(
                ACME_IDENTIFIER_OID, acme_identifier_value(key_authorization)
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8737 section 4
    context.set_alpn_protocols([ACME_TLS_ALPN])
    context.num_tickets = 0
    return context


def _context_for(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> ssl.SSLContext:
    # ssl can only load a certificate chain from files: use a private directory, then remove it.
    context = _server_context()
    with tempfile.TemporaryDirectory(prefix="certsmith-alpn-") as tmp:
        path = Path(tmp) / "challenge.pem"
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) + certificate.public_bytes(serialization.Encoding.PEM)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        context.load_cert_chain(path)
    return context


class TlsAlpn01Server(ListeningSolver):
    """A ``Solver`` for tls-alpn-01 that serves challenge certificates itself.

    ``address`` / ``port`` as for the standalone http-01 server (default port 443). Starts on the
    first ``present`` (or ``start``), stops on ``close`` or at the end of ``async with``.
    """

    challenge_type = "tls-alpn-01"
    server_label = Said("tls-alpn-01 server", "challenge.label.tls_alpn")

    def __init__(
        self,
        *,
        address: str | Sequence[str] = "",
        port: int = 443,
        handshake_timeout: float = 10.0,
        max_connections: int = 64,
        max_handshakes_seen: int = 1000,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self._handshake_timeout = handshake_timeout
        self._max_handshakes_seen = max_handshakes_seen
        self._clock = clock
        self._contexts: dict[str, tuple[ChallengeTask, ssl.SSLContext]] = {}
        self._base = _server_context()
        self._base.sni_callback = self._pick_context
        super().__init__(address=address, port=port, max_connections=max_connections)
        self.handshakes_seen: list[tuple[str, str]] = []  # (remote address, SNI name)

    def _forget_all(self) -> None:
        self._contexts.clear()

    async def present(self, task: ChallengeTask) -> None:
        """Make and serve ``task``'s challenge certificate (starting the server if needed)."""
        self._check_task(task)
        certificate, key = make_challenge_certificate(
            task.identifier, task.key_authorization, self._clock()
        )
        context = await asyncio.to_thread(_context_for, certificate, key)
        self._contexts[sni_name(task.identifier)] = (task, context)
        await self.start()

    async def cleanup(self, task: ChallengeTask) -> None:
        """Stop serving ``task``'s certificate; never raises."""
        name = sni_name(task.identifier)
        entry = self._contexts.get(name)
        if entry is not None and entry[0] == task:
            del self._contexts[name]

    # -- serving ---------------------------------------------------------------------------

    def _pick_context(
        self, sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        entry = self._contexts.get((server_name or "").lower().removesuffix("."))
        if entry is None:
            logger.info("tls-alpn-01: no challenge for SNI name %r", server_name)
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sslobj.context = entry[1]
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self._handshake(reader, writer, str(peer[0])), self._handshake_timeout
            )

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        try:
            raw, hello = await read_client_hello(reader)
        except NotAClientHello as exc:
            logger.info("tls-alpn-01: %s sent no usable ClientHello: %s", peer, exc)
            return
        if ACME_TLS_ALPN not in hello.alpn_protocols:
            logger.info("tls-alpn-01: %s did not offer %s, refused", peer, ACME_TLS_ALPN)
            writer.write(_NO_APP_PROTOCOL_ALERT)
            await writer.drain()
            return
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self._base.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(raw)
        try:
            for _ in range(_MAX_HANDSHAKE_FLIGHTS):
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    writer.write(outgoing.read())
                    data = await reader.read(65536)
                    if not data:
                        return
                    incoming.write(data)
            else:
                return
        except ssl.SSLError as exc:
            logger.info("tls-alpn-01: handshake with %s failed: %s", peer, exc)
            writer.write(outgoing.read())  # the alert, if OpenSSL made one
            await writer.drain()
            return
        if tls.selected_alpn_protocol() != ACME_TLS_ALPN:
            return
        self.handshakes_seen.append((peer, hello.server_name or ""))
        del self.handshakes_seen[: -self._max_handshakes_seen]  # newest kept; a flood is bounded
        logger.info(
            "tls-alpn-01: served the challenge certificate for %r to %s", hello.server_name, peer
        )
        with contextlib.suppress(ssl.SSLError):
            tls.unwrap()  # queue close_notify; the validator hangs up after the handshake
        writer.write(outgoing.read())
        await writer.drain()
