"""The standalone http-01 server: what it answers, what it refuses, how it binds and stops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges._listener import MAX_CONNECTIONS_PER_PEER, has_ipv6_loopback
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.http01_standalone import StandaloneHttp01Server, normalize_host
from certsmith.errors import SolverError

TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
KEY_AUTH = f"{TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
PATH = f"/.well-known/acme-challenge/{TOKEN}"


def task(name: str = "example.com", token: str = TOKEN, key_auth: str = KEY_AUTH) -> ChallengeTask:
    ident = Identifier.ip(name) if name[0].isdigit() or ":" in name else Identifier.dns(name)
    return ChallengeTask(ident, "http-01", token, key_auth)


async def exchange(
    host: str, port: int, data: bytes, timeout: float = 2.0, source: str | None = None
) -> bytes:
    bind = (source, 0) if source else None
    reader, writer = await asyncio.open_connection(host, port, local_addr=bind)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def get(target: str, host: str = "example.com", method: str = "GET") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: test-ca\r\n\r\n".encode()


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


@pytest.fixture
async def server() -> AsyncIterator[StandaloneHttp01Server]:
    srv = StandaloneHttp01Server(address="127.0.0.1", port=0, header_timeout=0.3)
    await srv.present(task())
    yield srv
    await srv.close()


async def test_answers_token_with_key_authorization(server: StandaloneHttp01Server) -> None:
    response = await exchange("127.0.0.1", server.port, get(PATH))
    assert status_of(response) == 200
    assert body_of(response) == KEY_AUTH.encode()
    assert b"Content-Type: text/plain\r\n" in response
    assert f"Content-Length: {len(KEY_AUTH)}\r\n".encode() in response


@pytest.mark.parametrize(
    "host", ["example.com", "EXAMPLE.com", "example.com.", "example.com:80", "Example.COM.:5002"]
)
async def test_host_variants_accepted(server: StandaloneHttp01Server, host: str) -> None:
    response = await exchange("127.0.0.1", server.port, get(PATH, host=host))
    assert status_of(response) == 200


@pytest.mark.parametrize("host", ["other.example", "example.com.evil", "", "example.com:x"])
async def test_wrong_host_is_404(server: StandaloneHttp01Server, host: str) -> None:
    response = await exchange("127.0.0.1", server.port, get(PATH, host=host))
    assert status_of(response) == 404
    assert KEY_AUTH.encode() not in response


async def test_missing_host_header_is_rejected(server: StandaloneHttp01Server) -> None:
    response = await exchange("127.0.0.1", server.port, f"GET {PATH} HTTP/1.1\r\n\r\n".encode())
    assert status_of(response) == 400


@pytest.mark.parametrize(
    "target",
    [
        "/",
        "/.well-known/",
        "/.well-known/acme-challenge/",
        "/.well-known/acme-challenge/unknownToken",
        f"{PATH}/",
        f"{PATH}?x=1",
        "/etc/passwd",
    ],
)
async def test_other_paths_are_404_without_listing(
    server: StandaloneHttp01Server, target: str
) -> None:
    response = await exchange("127.0.0.1", server.port, get(target))
    assert status_of(response) == 404
    assert body_of(response) == b""


@pytest.mark.parametrize(
    "target",
    [
        f"/.well-known/acme-challenge/../acme-challenge/{TOKEN}",
        "/.well-known/acme-challenge/%2e%2e/%2e%2e/etc/passwd",
        "/.well-known/acme-challenge/..%2f..%2fetc%2fpasswd",
        f"/.well-known%2facme-challenge%2f{TOKEN}",
        "/.well-known/acme-challenge/..\\..\\x",
        f"/.well-known/acme-challenge/%2E%2E/acme-challenge/{TOKEN}",
    ],
)
async def test_traversal_attempts_are_rejected(server: StandaloneHttp01Server, target: str) -> None:
    response = await exchange("127.0.0.1", server.port, get(target))
    assert status_of(response) in (400, 404)
    assert KEY_AUTH.encode() not in response


async def test_absolute_form_target_is_rejected(server: StandaloneHttp01Server) -> None:
    response = await exchange("127.0.0.1", server.port, get(f"http://example.com{PATH}"))
    assert status_of(response) == 400


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS"])
async def test_other_methods_are_405(server: StandaloneHttp01Server, method: str) -> None:
    response = await exchange("127.0.0.1", server.port, get(PATH, method=method))
    assert status_of(response) == 405
    assert KEY_AUTH.encode() not in response


async def test_head_gets_headers_only(server: StandaloneHttp01Server) -> None:
    response = await exchange("127.0.0.1", server.port, get(PATH, method="HEAD"))
    assert status_of(response) == 200
    assert body_of(response) == b""


@pytest.mark.parametrize("size", [9000, 100_000])
async def test_oversized_head_is_refused(server: StandaloneHttp01Server, size: int) -> None:
    padding = "X-Pad: " + "a" * size + "\r\n"
    data = f"GET {PATH} HTTP/1.1\r\nHost: example.com\r\n{padding}\r\n".encode()
    response = await exchange("127.0.0.1", server.port, data)
    assert status_of(response) == 431
    assert KEY_AUTH.encode() not in response


async def test_slow_loris_is_cut_off(server: StandaloneHttp01Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    writer.write(b"GET / HTTP/1.1\r\nHost: exa")  # and then nothing more
    response = await asyncio.wait_for(reader.read(), 2.0)
    elapsed = loop.time() - started
    writer.close()
    assert status_of(response) == 408
    assert 0.2 < elapsed < 1.5


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: example.com\r\n\r\n",
        b"GET  /x HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost : example.com\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a\r\nHost: example.com\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: example.com\r\n folded\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: example.com\r\n\r\n",
    ],
)
async def test_malformed_requests_are_refused(server: StandaloneHttp01Server, data: bytes) -> None:
    response = await exchange("127.0.0.1", server.port, data)
    assert status_of(response) in (400, 505)


async def test_requests_seen_and_logged(
    server: StandaloneHttp01Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="certsmith.challenges.http01_standalone"):
        await exchange("127.0.0.1", server.port, get(PATH))
        await exchange("127.0.0.1", server.port, get("/nope"))
    seen = server.requests_seen
    assert [(s.target, s.status) for s in seen] == [(PATH, 200), ("/nope", 404)]
    assert seen[0].remote_address == "127.0.0.1"
    assert seen[0].host == "example.com"
    assert seen[0].user_agent == "test-ca"
    assert any("127.0.0.1" in r.getMessage() and TOKEN in r.getMessage() for r in caplog.records)


async def test_requests_seen_is_capped() -> None:
    async with StandaloneHttp01Server(address="127.0.0.1", port=0, max_requests_seen=2) as srv:
        for index in range(3):
            await exchange("127.0.0.1", srv.port, get(f"/r{index}"))
    assert [s.target for s in srv.requests_seen] == ["/r1", "/r2"]


async def test_cleanup_withdraws_token(server: StandaloneHttp01Server) -> None:
    await server.cleanup(task())
    response = await exchange("127.0.0.1", server.port, get(PATH))
    assert status_of(response) == 404


async def test_several_tokens_each_bound_to_its_identifier() -> None:
    other_token = "A" * 43
    async with StandaloneHttp01Server(address="127.0.0.1", port=0) as srv:
        await srv.present(task())
        await srv.present(task("127.0.0.1", token=other_token, key_auth=f"{other_token}.x"))
        ok = await exchange(
            "127.0.0.1", srv.port, get(f"/.well-known/acme-challenge/{other_token}", "127.0.0.1:80")
        )
        crossed = await exchange(
            "127.0.0.1", srv.port, get(f"/.well-known/acme-challenge/{other_token}")
        )
    assert status_of(ok) == 200 and body_of(ok) == f"{other_token}.x".encode()
    assert status_of(crossed) == 404


async def test_unsafe_token_and_wildcard_are_refused() -> None:
    srv = StandaloneHttp01Server(address="127.0.0.1", port=0)
    with pytest.raises(SolverError):
        await srv.present(task(token="../../etc/passwd"))
    with pytest.raises(SolverError):
        await srv.present(task("*.example.com"))
    assert srv.sockets == []


async def test_connection_limit_drops_the_oldest_for_a_new_request() -> None:
    async with StandaloneHttp01Server(address="127.0.0.1", port=0, max_connections=2) as srv:
        await srv.present(task())
        idle = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(2)]
        await asyncio.sleep(0.05)
        served = await exchange("127.0.0.1", srv.port, get(PATH))
        try:
            oldest_got = await asyncio.wait_for(idle[0][0].read(), 1.0)
        except ConnectionResetError:
            oldest_got = b""  # aborted: the kernel resets instead of a clean FIN
        still_open = srv.open_connections
        for _, writer in idle:
            writer.close()
    assert status_of(served) == 200
    assert oldest_got == b""
    assert still_open == 1  # the younger idle connection is kept


async def test_at_the_limit_the_busiest_address_loses_its_oldest_not_a_lone_older_one() -> None:
    async with StandaloneHttp01Server(address="127.0.0.1", port=0, max_connections=3) as srv:
        await srv.present(task())
        lone = await asyncio.open_connection("127.0.0.1", srv.port)  # the oldest, alone
        crowd = [
            await asyncio.open_connection("127.0.0.1", srv.port, local_addr=("127.0.0.2", 0))
            for _ in range(2)
        ]
        await asyncio.sleep(0.05)
        served = await exchange("127.0.0.1", srv.port, get(PATH), source="127.0.0.3")
        lone[1].write(get(PATH))
        lone_got = await asyncio.wait_for(lone[0].read(), 2.0)
        for _, writer in [lone, *crowd]:
            writer.close()
    assert status_of(served) == 200
    assert status_of(lone_got) == 200  # kept: 127.0.0.2's oldest was dropped instead


async def test_one_address_cannot_hold_more_than_its_share() -> None:
    async with StandaloneHttp01Server(address="127.0.0.1", port=0, max_connections=64) as srv:
        await srv.present(task())
        held = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(12)]
        await asyncio.sleep(0.1)
        count = srv.open_connections
        for _, writer in held:
            writer.close()
    assert count == MAX_CONNECTIONS_PER_PEER


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv4_and_ipv6_on_one_port() -> None:
    ipv6_task = task("::1", token="B" * 43, key_auth="B" * 43 + ".k")
    async with StandaloneHttp01Server(address=["127.0.0.1", "::1"], port=0) as srv:
        await srv.present(task())
        await srv.present(ipv6_task)
        families = {host for host, _ in srv.sockets}
        assert {port for _, port in srv.sockets} == {srv.port}
        v4 = await exchange("127.0.0.1", srv.port, get(PATH))
        v6 = await exchange(
            "::1", srv.port, get(f"/.well-known/acme-challenge/{'B' * 43}", "[::1]:80")
        )
    assert families == {"127.0.0.1", "::1"}
    assert status_of(v4) == 200 and status_of(v6) == 200
    assert body_of(v6) == b"B" * 43 + b".k"
    assert srv.requests_seen[-1].remote_address == "::1"


async def test_default_binds_every_address() -> None:
    async with StandaloneHttp01Server(port=0) as srv:
        await srv.present(task())
        hosts = {host for host, _ in srv.sockets}
        response = await exchange("127.0.0.1", srv.port, get(PATH))
        if has_ipv6_loopback():
            assert hosts == {"0.0.0.0", "::"}
            v6 = await exchange("::1", srv.port, get(PATH))
            assert status_of(v6) == 200
        else:
            assert "0.0.0.0" in hosts
    assert status_of(response) == 200


async def test_unavailable_ipv6_address_falls_back_to_ipv4() -> None:
    # 2001:db8::/32 is documentation space: never configured here, so binding it fails.
    async with StandaloneHttp01Server(address=["127.0.0.1", "2001:db8::1"], port=0) as srv:
        await srv.present(task())
        response = await exchange("127.0.0.1", srv.port, get(PATH))
        assert [host for host, _ in srv.sockets] == ["127.0.0.1"]
    assert status_of(response) == 200


async def test_unbindable_address_raises() -> None:
    srv = StandaloneHttp01Server(address="2001:db8::1", port=0)
    with pytest.raises(SolverError):
        await srv.start()
    with pytest.raises(SolverError):
        StandaloneHttp01Server(address="not-an-ip")


async def test_close_stops_listening_and_drops_connections() -> None:
    srv = StandaloneHttp01Server(address="127.0.0.1", port=0, header_timeout=30)
    await srv.present(task())
    port = srv.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(srv.close(), 2.0)
    assert await asyncio.wait_for(reader.read(), 1.0) == b""
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    await srv.close()  # idempotent


def test_normalize_host() -> None:
    assert normalize_host("Example.COM.:80") == "example.com"
    assert normalize_host("[::1]:80") == "::1"
    assert normalize_host("[0:0::1]") == "::1"
    assert normalize_host("::1") is None
    assert normalize_host("[::1]x") is None
    assert normalize_host("127.0.0.1:8080") == "127.0.0.1"
    assert normalize_host("") is None
