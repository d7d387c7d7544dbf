"""The tls-alpn-01 server (RFC 8737): certificate contents, ALPN gating, SNI selection."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import ssl
from collections.abc import AsyncIterator

import pytest
from cryptography import x509

from certsmith.acme.identifier import Identifier
from certsmith.challenges._clienthello import parse_client_hello
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.tls_alpn import (
    ACME_IDENTIFIER_OID,
    TlsAlpn01Server,
    acme_identifier_value,
    sni_name,
)
from certsmith.errors import SolverError

KEY_AUTH = "tlsToken_-123.thumbprint"


def task(identifier: Identifier, key_auth: str = KEY_AUTH) -> ChallengeTask:
    return ChallengeTask(identifier, "tls-alpn-01", "tlsToken_-123", key_auth)


def client_context(alpn: list[str] | None = ["acme-tls/1"]) -> ssl.SSLContext:  # noqa: B006
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed by design; the test checks it itself
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    return context


async def handshake(
    port: int, server_name: str, context: ssl.SSLContext | None = None
) -> tuple[x509.Certificate, str | None]:
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(
            "127.0.0.1", port, ssl=context or client_context(), server_hostname=server_name
        ),
        2.0,
    )
    try:
        tls = writer.get_extra_info("ssl_object")
        der = tls.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der), tls.selected_alpn_protocol()
    finally:
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[TlsAlpn01Server]:
    async with TlsAlpn01Server(address="127.0.0.1", port=0, handshake_timeout=1.0) as srv:
        await srv.present(task(Identifier.dns("example.com")))
        yield srv


async def test_certificate_carries_critical_acme_identifier(server: TlsAlpn01Server) -> None:
    cert, alpn = await handshake(server.port, "example.com")
    assert alpn == "acme-tls/1"
    extension = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    assert extension.critical
    assert isinstance(extension.value, x509.UnrecognizedExtension)
    digest = hashlib.sha256(KEY_AUTH.encode()).digest()
    assert extension.value.value == b"\x04\x20" + digest
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["example.com"]
    assert server.handshakes_seen == [("127.0.0.1", "example.com")]


async def test_client_without_alpn_is_refused(server: TlsAlpn01Server) -> None:
    with pytest.raises(ssl.SSLError, match="no application protocol"):
        await handshake(server.port, "example.com", client_context(alpn=None))
    assert server.handshakes_seen == []


async def test_client_with_other_alpn_is_refused(server: TlsAlpn01Server) -> None:
    with pytest.raises(ssl.SSLError, match="no application protocol"):
        await handshake(server.port, "example.com", client_context(alpn=["h2", "http/1.1"]))


async def test_unknown_sni_is_refused(server: TlsAlpn01Server) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await handshake(server.port, "other.example")


async def test_garbage_and_silence_are_dropped() -> None:
    async with TlsAlpn01Server(address="127.0.0.1", port=0, handshake_timeout=0.2) as srv:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 2.0) == b""
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 2.0) == b""  # the handshake timeout
        assert asyncio.get_running_loop().time() - started < 1.0
        writer.close()


async def test_ip_identifier_via_reverse_dns_sni(server: TlsAlpn01Server) -> None:
    await server.present(task(Identifier.ip("127.0.0.1"), "ip.key"))
    cert, _ = await handshake(server.port, "1.0.0.127.in-addr.arpa")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    value = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID).value
    assert isinstance(value, x509.UnrecognizedExtension)
    assert value.value == acme_identifier_value("ip.key")


async def test_each_name_gets_its_own_certificate(server: TlsAlpn01Server) -> None:
    await server.present(task(Identifier.dns("b.example"), "b.key"))
    first, _ = await handshake(server.port, "EXAMPLE.COM")
    second, _ = await handshake(server.port, "b.example")
    assert first.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID).value != (
        second.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID).value
    )
    second_value = second.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID).value
    assert isinstance(second_value, x509.UnrecognizedExtension)
    assert second_value.value == acme_identifier_value("b.key")


async def test_cleanup_withdraws_certificate(server: TlsAlpn01Server) -> None:
    await server.cleanup(task(Identifier.dns("example.com")))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await handshake(server.port, "example.com")


async def test_tls12_client_works(server: TlsAlpn01Server) -> None:
    context = client_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    _, alpn = await handshake(server.port, "example.com", context)
    assert alpn == "acme-tls/1"


async def test_wildcard_and_wrong_type_refused() -> None:
    srv = TlsAlpn01Server(address="127.0.0.1", port=0)
    with pytest.raises(SolverError, match="wildcard"):
        await srv.present(task(Identifier.dns("*.example.com")))
    with pytest.raises(SolverError):
        await srv.present(ChallengeTask(Identifier.dns("a.example"), "http-01", "t", "k"))
    await srv.close()


async def test_close_stops_listening() -> None:
    srv = TlsAlpn01Server(address="127.0.0.1", port=0)
    await srv.present(task(Identifier.dns("example.com")))
    port = srv.port
    await srv.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


def test_sni_names() -> None:
    assert sni_name(Identifier.ip("127.0.0.1")) == "1.0.0.127.in-addr.arpa"
    assert sni_name(Identifier.ip("::1")).endswith(".ip6.arpa")
    assert sni_name(Identifier.ip("::1")).startswith("1.0.0.0.")
    assert sni_name(Identifier.dns("Example.COM.")) == "example.com"


def test_client_hello_parser_reads_real_hello() -> None:
    context = client_context(["acme-tls/1", "h2"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="x.example")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    record = outgoing.read()
    hello = parse_client_hello(record[9:])  # 5-byte record header, 4-byte handshake header
    assert hello.server_name == "x.example"
    assert hello.alpn_protocols == ("acme-tls/1", "h2")
