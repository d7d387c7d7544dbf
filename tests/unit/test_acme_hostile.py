"""A hostile CA: absurd Retry-After values, URLs that leave https, odd Link headers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from test_acme_client import BASE, CHAINS, FakeCA, FakeTime, make_client, problem, registered

from certsmith.acme import Identifier, ProblemError, ProtocolViolation
from certsmith.acme.retry import parse_retry_after


@pytest.fixture
def ca() -> FakeCA:
    return FakeCA()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9" * 400, None),  # float(int(...)) would overflow: unreadable, not a crash
        ("9" * 5000, None),  # beyond int()'s digit limit
        ("-5", None),
        ("+5", None),
        ("1e999", None),
        ("\u0665", None),  # a non-ASCII digit is not delay-seconds
        ("5", 5.0),
        ("Thu, 01 Jan 2026 00:00:10 GMT", 10.0),
        ("Wed, 31 Dec 2025 00:00:00 GMT", 0.0),  # in the past: now, never negative
    ],
)
def test_retry_after_values_are_read_safely(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


async def test_huge_retry_after_on_503_waits_the_capped_time(ca: FakeCA, clock: FakeTime) -> None:
    key, url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=url) as client:
        ca.fault("/new-order", problem("serverInternal", 503, {"Retry-After": "9" * 400}))
        ca.fault("/new-order", problem("serverInternal", 503, {"Retry-After": "99999999999"}))
        order = await client.new_order([Identifier.dns("a.example")])
        assert order.status == "pending"
    assert all(0 < s <= 30.0 for s in clock.sleeps) and len(clock.sleeps) == 2


async def test_huge_retry_after_while_polling_is_capped(ca: FakeCA, clock: FakeTime) -> None:
    key, url = await registered(ca, clock)
    ca.order_retry_after = "9" * 400
    async with make_client(ca, clock, key, account_url=url) as client:
        order = await client.new_order([Identifier.dns("a.example")])
        authz = await client.get_authorization(order.authorizations[0])
        challenge = authz.challenge("http-01")
        assert challenge is not None
        await client.respond_challenge(challenge)
        ca.pending_polls = 2
        await client.poll_order(order, client.deadline_in(300))
    assert clock.sleeps and max(clock.sleeps) <= 10.0


def _with_location(location: str) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {
            "status": "pending",
            "identifiers": [{"type": "dns", "value": "a.example"}],
            "authorizations": [f"{BASE}/authz/1"],
            "finalize": f"{BASE}/finalize/1",
        }
        return httpx.Response(201, json=body, headers={"Location": location})

    return answer


@pytest.mark.parametrize(
    "location", ["http://ca.test/order/1", "file:///etc/passwd", "ftp://ca.test/o", "data:,x"]
)
async def test_order_location_must_stay_https(ca: FakeCA, clock: FakeTime, location: str) -> None:
    key, url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=url) as client:
        ca.fault("/new-order", _with_location(location))
        with pytest.raises(ProtocolViolation, match=r"https|Location"):
            await client.new_order([Identifier.dns("a.example")])


async def test_order_on_another_https_origin_is_followed(ca: FakeCA, clock: FakeTime) -> None:
    # RFC 8555 does not tie resources to the directory's origin; only the scheme is checked.
    key, url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=url) as client:
        ca.fault("/new-order", _with_location("https://orders.ca.test/order/1"))
        order = await client.new_order([Identifier.dns("a.example")])
        assert order.url == "https://orders.ca.test/order/1"


@pytest.mark.parametrize("url", ["http://ca.test/cert/1", "file:///etc/passwd"])
async def test_certificate_url_must_be_https(ca: FakeCA, clock: FakeTime, url: str) -> None:
    key, account = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=account) as client:
        with pytest.raises(ProtocolViolation, match="https"):
            await client.download_certificate(url)
    assert not any(r.url.scheme != "https" for r in ca.requests)


@pytest.mark.parametrize(
    "link", ["<http://ca.test/cert/1/alt>", "<file:///etc/passwd>", "<ftp://ca.test/alt>"]
)
async def test_alternate_links_off_https_are_skipped(
    ca: FakeCA, clock: FakeTime, link: str
) -> None:
    def cert(request: httpx.Request) -> httpx.Response:
        headers = {
            "Content-Type": "application/pem-certificate-chain",
            "Link": f'{link};rel="alternate", <{BASE}/cert/1/alt>;rel="alternate"',
        }
        return httpx.Response(200, text=CHAINS[0], headers=headers)

    key, account = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=account) as client:
        ca.fault("/cert/1", cert)
        chain = await client.download_certificate(f"{BASE}/cert/1", preferred_chain="Root B")
    assert chain.pem == CHAINS[1]  # the https alternate still counts
    assert all(r.url.scheme == "https" for r in ca.requests)


async def test_directory_endpoints_must_be_https(ca: FakeCA, clock: FakeTime) -> None:
    directory = ca.directory() | {"newOrder": "http://ca.test/new-order"}
    ca.fault("/dir", httpx.Response(200, json=directory))
    key, account = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=account) as client:
        ca.fault("/dir", httpx.Response(200, json=directory))
        with pytest.raises(ProtocolViolation, match="https"):
            await client.new_order([Identifier.dns("a.example")])
    assert all(r.url.scheme == "https" for r in ca.requests)


async def test_http_directory_may_use_http_urls(clock: FakeTime) -> None:
    """A CA the user addressed over plain http (a lab CA) is not held to https."""

    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(503, json={"type": "about:blank"}, headers={"Retry-After": "1"})

    from cryptography.hazmat.primitives.asymmetric import ec

    from certsmith.acme import AcmeClient

    client = AcmeClient(
        "http://lab.test/dir",
        ec.generate_private_key(ec.SECP256R1()),
        transport=httpx.MockTransport(handle),
        clock=clock.clock,
        sleep=clock.sleep,
        now=clock.utcnow,
    )
    async with client:
        with pytest.raises(ProblemError):
            await client.directory()
    assert seen[0] == "http://lab.test/dir"


async def test_relative_location_is_resolved(ca: FakeCA, clock: FakeTime) -> None:
    key, url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=url) as client:
        ca.fault("/new-order", _with_location("/order/77"))
        order = await client.new_order([Identifier.dns("a.example")])
    assert order.url == f"{BASE}/order/77"


@pytest.mark.parametrize("status", [200, 400])
async def test_deeply_nested_json_is_a_protocol_violation(
    ca: FakeCA, clock: FakeTime, status: int
) -> None:
    nested = "[" * 200_000 + "]" * 200_000
    ca.fault(
        "/dir", httpx.Response(status, text=nested, headers={"Content-Type": "application/json"})
    )
    async with make_client(ca, clock) as client:
        with pytest.raises((ProtocolViolation, ProblemError)) as caught:
            await client.directory()
    assert "Recursion" not in type(caught.value).__name__


def test_problem_detail_cannot_carry_terminal_escapes_or_new_lines() -> None:
    from certsmith.acme.errors import problem_from_json

    error = problem_from_json(
        {"type": "urn:ietf:params:acme:error:malformed", "detail": "bad\x1b[2J\nFAKE: ok\x9b"},
        status=400,
    )
    text = str(error)
    assert "\x1b" not in text and "\n" not in text and "\x9b" not in text
    assert "bad" in text and "FAKE: ok" in text


def test_order_with_absurdly_many_authorizations_is_refused() -> None:
    from certsmith.acme.messages import Authorization, Order

    body = {
        "status": "invalid",
        "identifiers": [{"type": "dns", "value": "a.example"}],
        "authorizations": [f"{BASE}/authz/{i}" for i in range(5000)],
        "finalize": f"{BASE}/finalize/1",
    }
    with pytest.raises(ProtocolViolation, match="too many"):
        Order.from_json(body, f"{BASE}/order/1")
    authz = {
        "status": "pending",
        "identifier": {"type": "dns", "value": "a.example"},
        "challenges": [{"type": "x", "url": f"{BASE}/c", "status": "pending"}] * 5000,
    }
    with pytest.raises(ProtocolViolation, match="too many"):
        Authorization.from_json(authz, f"{BASE}/authz/1")
