from __future__ import annotations

from collections.abc import Iterator

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.dns01.propagation import (
    PropagationChecker,
    challenge_name,
    resolve_challenge_target,
    txt_value,
)
from certsmith.dnsutil import make_resolver
from certsmith.errors import SolverError
from support.fake_dns import FakeDnsServer

NAME = "_acme-challenge.www.example.test"


def zone(txt: list[str] | None = None) -> dict[str, list[tuple[str, str]]]:
    records: dict[str, list[tuple[str, str]]] = {
        "@": [("NS", "ns1.example.test."), ("NS", "ns2.example.test.")],
        "ns1": [("A", "127.0.0.1")],
        "ns2": [("A", "127.0.0.2")],
        "www": [("A", "127.0.0.1")],
    }
    if txt:
        records["_acme-challenge.www"] = [("TXT", value) for value in txt]
    return records


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: list[object] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            hook = self.on_sleep.pop(0)
            if callable(hook):
                hook()


@pytest.fixture
def primary() -> Iterator[FakeDnsServer]:
    with FakeDnsServer({"example.test": zone(["good"])}) as server:
        yield server


@pytest.fixture
def secondary(primary: FakeDnsServer) -> Iterator[FakeDnsServer]:
    try:
        server = FakeDnsServer({"example.test": zone()}, host="127.0.0.2", port=primary.port)
        server.start()
    except OSError as exc:
        pytest.skip(f"cannot bind 127.0.0.2:{primary.port}: {exc}")
    yield server
    server.stop()


def authoritative_checker(
    primary: FakeDnsServer, fake: FakeTime, **kw: float
) -> PropagationChecker:
    return PropagationChecker(
        resolver=make_resolver(primary.address, timeout=2.0),
        nameserver_port=primary.port,
        timeout=kw.get("timeout", 30.0),
        interval=kw.get("interval", 10.0),
        query_timeout=1.0,
        clock=fake.clock,
        sleep=fake.sleep,
    )


def test_txt_value_is_base64url_sha256_without_padding() -> None:
    # SHA-256("abc") = ba7816bf...15ad; its base64url form, computed independently.
    assert txt_value("abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"


def test_challenge_name_strips_wildcard_and_refuses_ip() -> None:
    assert challenge_name(Identifier.dns("*.Example.COM")) == "_acme-challenge.example.com"
    assert challenge_name(Identifier.dns("a.example.com")) == "_acme-challenge.a.example.com"
    with pytest.raises(SolverError, match="ip identifier"):
        challenge_name(Identifier.ip("192.0.2.1"))


async def test_all_authoritative_servers_in_sync(
    primary: FakeDnsServer, secondary: FakeDnsServer
) -> None:
    secondary.set_records("example.test", "_acme-challenge.www", "TXT", ["good", "other"])
    fake = FakeTime()
    await authoritative_checker(primary, fake).wait({NAME: {"good"}})
    assert fake.sleeps == []
    assert ("udp", NAME + ".", "TXT") in secondary.queries


async def test_lagging_server_is_named_on_timeout(
    primary: FakeDnsServer, secondary: FakeDnsServer
) -> None:
    fake = FakeTime()
    checker = authoritative_checker(primary, fake, timeout=30.0, interval=10.0)
    with pytest.raises(SolverError) as caught:
        await checker.wait({NAME: {"good"}})
    message = str(caught.value)
    assert "after 30s" in message
    assert "ns2.example.test served no TXT (NXDOMAIN)" in message
    assert "ns1.example.test" not in message
    assert sum(fake.sleeps) == pytest.approx(30.0)


async def test_wait_returns_once_the_lagging_server_catches_up(
    primary: FakeDnsServer, secondary: FakeDnsServer
) -> None:
    fake = FakeTime()
    catch_up = lambda: secondary.set_records(  # noqa: E731
        "example.test", "_acme-challenge.www", "TXT", ["good"]
    )
    fake.on_sleep = [None, catch_up]
    await authoritative_checker(primary, fake).wait({NAME: {"good"}})
    assert fake.sleeps == [10.0, 10.0]


async def test_lagging_message_shows_what_was_served(primary: FakeDnsServer) -> None:
    fake = FakeTime()
    checker = authoritative_checker(primary, fake, timeout=5.0, interval=5.0)
    checker.dns_resolver = primary.address  # resolver mode: one server to ask
    with pytest.raises(SolverError, match=r"served \['good'\] for " + NAME):
        await checker.wait({NAME: {"good", "missing"}})


async def test_cname_delegation_is_followed() -> None:
    zones = {
        "example.test": {
            "_acme-challenge.www": [("CNAME", "www.challenges.other.test.")],
            "_acme-challenge.api": [("CNAME", "hop.example.test.")],
            "hop": [("CNAME", "api.challenges.other.test.")],
            "_acme-challenge.loop": [("CNAME", "_acme-challenge.loop.example.test.")],
        },
        "other.test": {"www.challenges": [("TXT", "v1")]},
    }
    with FakeDnsServer(zones) as server:
        resolver = make_resolver(server.address, timeout=2.0)
        assert await resolve_challenge_target(NAME, resolver) == "www.challenges.other.test"
        api = "_acme-challenge.api.example.test."
        assert await resolve_challenge_target(api, resolver) == "api.challenges.other.test"
        plain = "_acme-challenge.plain.example.test"
        assert await resolve_challenge_target(plain, resolver) == plain
        with pytest.raises(SolverError, match="CNAME loop"):
            await resolve_challenge_target("_acme-challenge.loop.example.test", resolver)
        checker = PropagationChecker(dns_resolver=server.address, timeout=1.0)
        target = await checker.resolve_challenge_target(NAME)
        await checker.wait({target: {"v1"}})


async def test_resolver_mode_asks_only_that_resolver() -> None:
    with FakeDnsServer({"example.test": zone(["good"])}) as server:
        fake = FakeTime()
        checker = PropagationChecker(
            dns_resolver=server.address,
            timeout=4.0,
            interval=2.0,
            clock=fake.clock,
            sleep=fake.sleep,
        )
        servers = await checker.servers_for(NAME)
        assert [(s.addresses, s.port) for s in servers] == [(("127.0.0.1",), server.port)]
        await checker.wait({NAME: {"good"}})
        with pytest.raises(SolverError, match=f"resolver 127.0.0.1:{server.port} served"):
            await checker.wait({"_acme-challenge.nope.example.test": {"x"}})
        assert fake.sleeps == [2.0, 2.0]
        # No NS walk in resolver mode: only TXT questions reached the server.
        assert {qtype for _, _, qtype in server.queries} == {"TXT"}


async def test_truncated_udp_answer_is_retried_over_tcp() -> None:
    with FakeDnsServer({"example.test": zone(["good"])}, truncate_udp=True) as server:
        checker = PropagationChecker(dns_resolver=server.address, timeout=1.0)
        await checker.wait({NAME: {"good"}})
        assert ("tcp", NAME + ".", "TXT") in server.queries


async def test_unreachable_server_times_out_bounded() -> None:
    fake = FakeTime()
    # Nothing listens on this port of 127.0.0.1 (the server is stopped before the check).
    server = FakeDnsServer({"example.test": zone()}).start()
    server.stop()
    checker = PropagationChecker(
        dns_resolver=server.address,
        timeout=1.0,
        interval=1.0,
        query_timeout=0.2,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    with pytest.raises(SolverError, match="no answer"):
        await checker.wait({NAME: {"good"}})
