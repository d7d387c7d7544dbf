"""The standalone http-01 server against request smuggling and connection reuse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from test_challenge_http01_standalone import PATH, exchange, status_of, task

from certsmith.challenges.http01_standalone import StandaloneHttp01Server


@pytest.fixture
async def server() -> AsyncIterator[StandaloneHttp01Server]:
    srv = StandaloneHttp01Server(address="127.0.0.1", port=0, header_timeout=0.3)
    await srv.present(task())
    yield srv
    await srv.close()


@pytest.mark.parametrize(
    "data",
    [
        f"GET {PATH}\nX: y HTTP/1.1\r\nHost: example.com\r\n\r\n".encode(),  # bare LF
        f"GET {PATH} HTTP/1.1\r\nHost: example.com\nHost: evil\r\n\r\n".encode(),
        f"GET {PATH} HTTP/1.1\r\nHost: example.com\rX: y\r\n\r\n".encode(),  # bare CR
        f"GET {PATH} HTTP/1.1\r\nHost: example.com\x00\r\n\r\n".encode(),
        f"GET {PATH} HTTP/1.1\r\nHost: example.com\x1b[2J\r\n\r\n".encode(),
        f"GET {PATH} HTTP/1.1\r\nHost: example.com\r\nX\x7f: y\r\n\r\n".encode(),
    ],
)
async def test_control_characters_are_refused(server: StandaloneHttp01Server, data: bytes) -> None:
    response = await exchange("127.0.0.1", server.port, data)
    assert status_of(response) == 400
    assert server.requests_seen == []


async def test_a_second_pipelined_request_is_never_answered(
    server: StandaloneHttp01Server,
) -> None:
    first = "GET /nothing HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n"
    second = f"GET {PATH} HTTP/1.1\r\nHost: example.com\r\n\r\n"
    response = await exchange("127.0.0.1", server.port, (first + second).encode())
    assert response.count(b"HTTP/1.1 ") == 1 and status_of(response) == 404
    assert b"Connection: close" in response


async def test_transfer_encoding_body_is_not_read_as_a_request(
    server: StandaloneHttp01Server,
) -> None:
    smuggled = f"GET {PATH} HTTP/1.1\r\nHost: example.com\r\n\r\n"
    data = (
        "POST /x HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{len(smuggled):x}\r\n{smuggled}\r\n0\r\n\r\n"
    )
    response = await exchange("127.0.0.1", server.port, data.encode())
    assert response.count(b"HTTP/1.1 ") == 1 and status_of(response) == 405
    assert [r.method for r in server.requests_seen] == ["POST"]


async def test_handshakes_and_requests_seen_stay_bounded() -> None:
    srv = StandaloneHttp01Server(address="127.0.0.1", port=0, max_requests_seen=3)
    async with srv:
        await srv.present(task())
        for _ in range(6):
            await exchange("127.0.0.1", srv.port, f"GET {PATH} HTTP/1.0\r\n\r\n".encode())
        await asyncio.sleep(0)
    assert len(srv.requests_seen) == 3


async def test_tls_alpn_handshakes_seen_is_capped() -> None:
    from test_challenge_tls_alpn import handshake, task as alpn_task

    from certsmith.acme.identifier import Identifier
    from certsmith.challenges.tls_alpn import TlsAlpn01Server

    srv = TlsAlpn01Server(address="127.0.0.1", port=0, max_handshakes_seen=2)
    async with srv:
        await srv.present(alpn_task(Identifier.dns("example.com")))
        for _ in range(4):
            await handshake(srv.port, "example.com")
        for _ in range(20):
            if len(srv.handshakes_seen) >= 2:
                break
            await asyncio.sleep(0.01)
    assert len(srv.handshakes_seen) == 2
