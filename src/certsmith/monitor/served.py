"""Fetch the certificate chain a TLS endpoint presents, hiding nothing.

Verification is off for the handshake (an expired or wrong certificate must still be seen);
compare.py verifies the chain itself against the lineage. Python 3.11's ``ssl`` hands back only
the leaf of an unverified handshake, so the handshake runs over memory BIOs, capped at TLS 1.2,
and the server's Certificate message is read from the bytes it sent (in TLS 1.2 it is not
encrypted; RFC 5246 section 7.4.2). A server that speaks only TLS 1.3 is asked again without
the cap, and then only its leaf is known (``ServedChain.complete`` is False).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass

HANDSHAKE_TIMEOUT = 10.0  # seconds for connect + handshake
_HANDSHAKE, _CHANGE_CIPHER_SPEC = 22, 20
_CERTIFICATE = 11


@dataclass(frozen=True)
class ServedChain:
    """What an endpoint sent: DER certificates, leaf first; ``complete`` False when only the
    leaf could be read (TLS 1.3 only)."""

    certificates: tuple[bytes, ...]
    complete: bool
    tls_version: str
    error: str | None = None  # set (and nothing else) when the endpoint could not be read


class _FetchError(Exception):
    """Inside this module only: fetch_chain returns it as ``ServedChain.error``."""


def fetch_chain(
    host: str, port: int, server_name: str | None, timeout: float = HANDSHAKE_TIMEOUT
) -> ServedChain:
    """The chain ``host:port`` presents for ``server_name`` (None: no SNI); never raises."""
    try:
        try:
            return _fetch(host, port, server_name, timeout, cap=True)
        except ssl.SSLError:
            pass  # perhaps TLS 1.3 only: ask again without the cap
        try:
            return _fetch(host, port, server_name, timeout, cap=False)
        except ssl.SSLError as exc:
            raise _FetchError(f"TLS handshake failed: {exc.reason or exc}") from None
    except _FetchError as exc:
        return ServedChain((), False, "", error=str(exc))


def _context(cap: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cap:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _fetch(host: str, port: int, server_name: str | None, timeout: float, cap: bool) -> ServedChain:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = _context(cap).wrap_bio(incoming, outgoing, server_hostname=server_name)
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise _FetchError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
    with sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            pending = outgoing.read()
            left = deadline - time.monotonic()
            if left <= 0:
                raise _FetchError(f"{host}:{port} did not finish the TLS handshake in time")
            try:
                if pending:
                    sock.sendall(pending)
                sock.settimeout(left)
                chunk = sock.recv(65536)
            except OSError as exc:
                raise _FetchError(f"{host}:{port}: {exc.strerror or exc}") from None
            if not chunk:
                raise _FetchError(f"{host}:{port} closed the connection during the TLS handshake")
            received += chunk
            incoming.write(chunk)
        leaf = tls.getpeercert(binary_form=True)
        version = tls.version() or "unknown"
        with contextlib.suppress(ssl.SSLError, OSError):
            tls.unwrap()  # close_notify, as a polite client does
            sock.sendall(outgoing.read())
    if not leaf:
        raise _FetchError(f"{host}:{port} sent no certificate")
    chain = certificates_in(bytes(received)) if version != "TLSv1.3" else []
    if chain and chain[0] == leaf:
        return ServedChain(tuple(chain), True, version)
    return ServedChain((leaf,), False, version)


def certificates_in(data: bytes) -> list[bytes]:
    """The certificates of the first TLS 1.2 Certificate handshake message in ``data`` (the
    bytes a server sent), DER, in the order sent; empty when there is none."""
    handshake = bytearray()
    pos = 0
    while pos + 5 <= len(data):
        kind, length = data[pos], int.from_bytes(data[pos + 3 : pos + 5], "big")
        body = data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if kind == _CHANGE_CIPHER_SPEC:
            break  # what follows is encrypted
        if kind == _HANDSHAKE:
            handshake += body
    pos = 0
    while pos + 4 <= len(handshake):
        kind, length = handshake[pos], int.from_bytes(handshake[pos + 1 : pos + 4], "big")
        body = bytes(handshake[pos + 4 : pos + 4 + length])
        pos += 4 + length
        if kind == _CERTIFICATE:
            return _certificate_list(body)
    return []


def _certificate_list(body: bytes) -> list[bytes]:
    total = int.from_bytes(body[:3], "big")
    pos, end, found = 3, min(3 + total, len(body)), []
    while pos + 3 <= end:
        length = int.from_bytes(body[pos : pos + 3], "big")
        found.append(body[pos + 3 : pos + 3 + length])
        pos += 3 + length
    return found
