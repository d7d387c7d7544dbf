"""Read a TLS ClientHello off a stream and pull out its ALPN list and SNI name.

Only what tls-alpn-01 needs to refuse a client before TLS starts (RFC 8446 section 4.1.2,
RFC 5246 section 7.4.1.2; extensions: server_name 0 per RFC 6066 section 3,
application_layer_protocol_negotiation 16 per RFC 7301 section 3.1). The handshake message may
span several records; the bytes read are returned so they can be fed to the real TLS engine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

_HANDSHAKE = 22
_CLIENT_HELLO = 1
_EXT_SERVER_NAME = 0
_EXT_ALPN = 16
_MAX_RECORD = 16384 + 256
_MAX_HELLO = 65536
_MAX_RECORDS = 16


class NotAClientHello(Exception):
    """The bytes are not a well-formed TLS ClientHello."""


@dataclass(frozen=True)
class ClientHello:
    server_name: str | None
    alpn_protocols: tuple[str, ...]


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise NotAClientHello("truncated")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> _Cursor:
        return _Cursor(self.take(self.number(length_size)))

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


async def read_client_hello(reader: asyncio.StreamReader) -> tuple[bytes, ClientHello]:
    """Read records until one whole ClientHello is in; return (raw bytes, parsed hello)."""
    raw = bytearray()
    message = bytearray()
    for _ in range(_MAX_RECORDS):
        header = await reader.readexactly(5)
        length = int.from_bytes(header[3:5], "big")
        if header[0] != _HANDSHAKE or header[1] != 3 or not 0 < length <= _MAX_RECORD:
            raise NotAClientHello("not a TLS handshake record")
        fragment = await reader.readexactly(length)
        raw += header + fragment
        message += fragment
        if len(message) >= 4:
            if message[0] != _CLIENT_HELLO:
                raise NotAClientHello("first handshake message is not a ClientHello")
            needed = 4 + int.from_bytes(message[1:4], "big")
            if needed > _MAX_HELLO:
                raise NotAClientHello("ClientHello too large")
            if len(message) >= needed:
                return bytes(raw), parse_client_hello(bytes(message[4:needed]))
    raise NotAClientHello("ClientHello spread over too many records")


def parse_client_hello(body: bytes) -> ClientHello:
    """Parse a ClientHello body (after the 4-byte handshake header)."""
    cursor = _Cursor(body)
    cursor.take(2 + 32)  # legacy_version, random
    cursor.vector(1)  # legacy_session_id
    cursor.vector(2)  # cipher_suites
    cursor.vector(1)  # legacy_compression_methods
    server_name: str | None = None
    alpn: tuple[str, ...] = ()
    if cursor.done:
        return ClientHello(None, ())
    extensions = cursor.vector(2)
    while not extensions.done:
        kind = extensions.number(2)
        data = extensions.vector(2)
        if kind == _EXT_ALPN:
            names = data.vector(2)
            protocols = []
            while not names.done:
                protocols.append(names.vector(1).data.decode("ascii", errors="replace"))
            alpn = tuple(protocols)
        elif kind == _EXT_SERVER_NAME:
            entries = data.vector(2)
            while not entries.done:
                name_type = entries.number(1)
                name = entries.vector(2).data
                if name_type == 0:
                    server_name = name.decode("ascii", errors="replace")
    return ClientHello(server_name, alpn)
