"""The sender's policy under hostile or broken CAs: nonces, retries, limits, error mapping."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_acme_client import BASE, CHAINS, FakeCA, FakeTime, make_client, problem, registered

from certsmith.acme import (
    AlreadyReplaced,
    BadNonce,
    Identifier,
    ProblemError,
    ProtocolViolation,
    RateLimited,
    ServerInternal,
    TransportError,
)
from certsmith.acme.errors import NotAnAcmeDirectory
from certsmith.acme.transport import _ssl_context


@pytest.fixture
def ca() -> FakeCA:
    return FakeCA()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


async def _client_with_account(ca: FakeCA, clock: FakeTime, **kwargs: Any) -> Any:
    key, url = await registered(ca, clock)
    return make_client(ca, clock, key, account_url=url, **kwargs)


async def test_bad_nonce_storm_is_bounded_in_tries(ca: FakeCA, clock: FakeTime) -> None:
    async with await _client_with_account(ca, clock, max_bad_nonce_retries=5) as client:
        ca.fault("/new-order", *[problem("badNonce")] * 100)
        with pytest.raises(BadNonce):
            await client.new_order([Identifier.dns("a.example")])
        assert client.bad_nonce_retries == 5
    assert ca.paths().count("POST /new-order") == 6  # the first try and five retries
    assert clock.sleeps == []  # badNonce is retried at once


async def test_bad_nonce_storm_is_bounded_in_time(ca: FakeCA, clock: FakeTime) -> None:
    def slow_bad_nonce(request: httpx.Request) -> httpx.Response:
        clock.t += 25.0  # each answer takes 25 s; the budget is 60 s
        return problem("badNonce")

    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", *[slow_bad_nonce] * 100)
        with pytest.raises(BadNonce):
            await client.new_order([Identifier.dns("a.example")])
    assert ca.paths().count("POST /new-order") == 3


async def test_a_few_bad_nonces_are_absorbed_with_fresh_nonces(ca: FakeCA, clock: FakeTime) -> None:
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", problem("badNonce"), problem("badNonce"))
        order = await client.new_order([Identifier.dns("a.example")])
        assert order.status == "pending"
        assert client.bad_nonce_retries == 2 and client.nonce_fetches == 0
    sent = [r for r in ca.requests if r.url.path == "/new-order"]
    assert len({r.content for r in sent}) == 3  # re-signed each time (fresh nonce)


async def test_rate_limited_with_seconds_is_not_retried(ca: FakeCA, clock: FakeTime) -> None:
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", problem("rateLimited", 429, {"Retry-After": "3600"}))
        with pytest.raises(RateLimited) as caught:
            await client.new_order([Identifier.dns("a.example")])
    assert caught.value.retry_after == 3600.0 and caught.value.retryable
    assert caught.value.status == 429
    assert ca.paths().count("POST /new-order") == 1 and clock.sleeps == []


async def test_rate_limited_with_http_date(ca: FakeCA, clock: FakeTime) -> None:
    when = format_datetime(clock.utcnow() + timedelta(minutes=90), usegmt=True)
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", problem("rateLimited", 429, {"Retry-After": when}))
        with pytest.raises(RateLimited) as caught:
            await client.new_order([Identifier.dns("a.example")])
    assert caught.value.retry_after == pytest.approx(5400.0, abs=1.0)


async def test_503_with_retry_after_then_success(ca: FakeCA, clock: FakeTime) -> None:
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", problem("serverInternal", 503, {"Retry-After": "7"}))
        order = await client.new_order([Identifier.dns("a.example")])
        assert order.status == "pending"
    assert clock.sleeps == [7.0]
    assert ca.paths().count("POST /new-order") == 2


async def test_503_forever_is_bounded_and_waits_are_capped(ca: FakeCA, clock: FakeTime) -> None:
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", *[problem("serverInternal", 503, {"Retry-After": "9999"})] * 10)
        with pytest.raises(ServerInternal):
            await client.new_order([Identifier.dns("a.example")])
    assert clock.sleeps == [30.0, 30.0, 30.0]
    assert ca.paths().count("POST /new-order") == 4


async def test_500_is_retried_only_where_safe(ca: FakeCA, clock: FakeTime) -> None:
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", problem("serverInternal", 500))
        with pytest.raises(ServerInternal):
            await client.new_order([Identifier.dns("a.example")])  # might have been created
        order = await client.new_order([Identifier.dns("a.example")])
        ca.fault("/order/1", problem("serverInternal", 500))
        again = await client.get_order(order.url)  # POST-as-GET: safe to repeat
        assert again.url == order.url
    assert clock.sleeps == [1.0]


async def test_html_502_from_a_proxy_on_get_is_retried(ca: FakeCA, clock: FakeTime) -> None:
    html = httpx.Response(
        502, text="<html>bad gateway</html>", headers={"Content-Type": "text/html"}
    )
    ca.fault("/dir", html, html)
    async with make_client(ca, clock) as client:
        directory = await client.directory()
    assert directory.new_order == f"{BASE}/new-order"
    assert clock.sleeps == [1.0, 2.0]


async def test_untyped_error_becomes_problem_error(ca: FakeCA, clock: FakeTime) -> None:
    ca.fault("/dir", httpx.Response(404, text="nope", headers={"Content-Type": "text/plain"}))
    async with make_client(ca, clock) as client:
        # At the directory URL a 404 means a wrong --server (issue 8): said so, the problem kept.
        with pytest.raises(NotAnAcmeDirectory) as wrapped:
            await client.directory()
    caught = wrapped.value.__cause__
    assert isinstance(caught, ProblemError)
    assert caught.status == 404 and not caught.retryable
    assert "nope" in caught.detail


def _json_response(body: bytes, content_type: str = "application/json", **headers: str) -> Any:
    return httpx.Response(201, content=body, headers={"Content-Type": content_type, **headers})


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (_json_response(b'{"status": "pending", "identif', Location="x"), "malformed JSON"),
        (_json_response(b'{"status": "pending"}', "text/html", Location="x"), "text/html"),
        (_json_response(b'{"status": "pending"}', ""), "content type"),
        (_json_response(b"[1, 2]", Location=f"{BASE}/order/9"), "not a JSON object"),
    ],
)
async def test_broken_order_responses(
    ca: FakeCA, clock: FakeTime, response: httpx.Response, message: str
) -> None:
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", response)
        with pytest.raises(ProtocolViolation, match=message):
            await client.new_order([Identifier.dns("a.example")])


async def test_missing_location_is_a_protocol_violation(ca: FakeCA, clock: FakeTime) -> None:
    def no_location(request: httpx.Request) -> httpx.Response:
        response = ca._route(request)
        del response.headers["Location"]
        return response

    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", no_location)
        with pytest.raises(ProtocolViolation, match="Location"):
            await client.new_order([Identifier.dns("a.example")])


async def test_missing_replay_nonce_on_new_nonce(ca: FakeCA, clock: FakeTime) -> None:
    ca.directory_nonce = False
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/nonce", httpx.Response(200, headers={"Replay-Nonce": "bad nonce!"}))
        with pytest.raises(ProtocolViolation, match="Replay-Nonce"):
            await client.new_order([Identifier.dns("a.example")])


async def test_oversized_bodies_are_refused(ca: FakeCA, clock: FakeTime) -> None:
    big = b'{"x": "' + b"a" * (1 << 21) + b'"}'
    ca.fault("/dir", httpx.Response(200, content=big, headers={"Content-Type": "application/json"}))

    async def endless() -> Any:
        for _ in range(10_000):
            yield b"a" * 4096

    streamed = httpx.Response(200, content=endless(), headers={"Content-Type": "application/json"})
    async with make_client(ca, clock) as client:
        with pytest.raises(ProtocolViolation, match="too large"):
            await client.directory()
    ca.fault("/dir", streamed)
    async with make_client(ca, clock) as client:
        with pytest.raises(ProtocolViolation, match="more than"):
            await client.directory()


async def test_certificate_with_wrong_content_type(ca: FakeCA, clock: FakeTime) -> None:
    wrong = httpx.Response(200, text=CHAINS[0], headers={"Content-Type": "application/json"})
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/cert/1", wrong)
        with pytest.raises(ProtocolViolation, match="pem-certificate-chain"):
            await client.download_certificate(f"{BASE}/cert/1")
        pem_type = {"Content-Type": "application/pem-certificate-chain"}
        ca.fault("/cert/1", httpx.Response(200, text="garbage", headers=pem_type))
        with pytest.raises(ProtocolViolation, match="PEM"):
            await client.download_certificate(f"{BASE}/cert/1")


async def test_already_replaced_is_typed(ca: FakeCA, clock: FakeTime) -> None:
    async with await _client_with_account(ca, clock) as client:
        ca.fault("/new-order", problem("alreadyReplaced", 409))
        with pytest.raises(AlreadyReplaced) as caught:
            await client.new_order([Identifier.dns("a.example")], replaces="x.y")
    assert caught.value.status == 409 and not caught.value.retryable


async def test_transport_failures_become_transport_error(clock: FakeTime) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    ca = FakeCA()
    ca.transport = httpx.MockTransport(refuse)
    async with make_client(ca, clock) as client:
        with pytest.raises(TransportError, match=r"could not connect.*ConnectError") as caught:
            await client.directory()
        assert caught.value.retryable
        # Never sent, so always safe to repeat: the first try and three retries (acme/retry.py).
        assert client.request_count == 4 and caught.value.attempts == 4


async def test_user_agent_and_request_counting(ca: FakeCA, clock: FakeTime) -> None:
    ca.directory_nonce = False
    async with await _client_with_account(ca, clock, user_agent=None) as client:
        await client.new_order([Identifier.dns("a.example")])
        assert client.request_count == len(ca.requests) == 3
    assert all(r.headers["user-agent"].startswith("certsmith/") for r in ca.requests)
    assert ca.requests[-1].headers["accept"] == "application/json"


def test_ca_bundle_and_requests_ca_bundle(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Bundle Root")])
    now = datetime.now(UTC)
    root = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    context = _ssl_context(None, {"REQUESTS_CA_BUNDLE": str(bundle)})
    assert isinstance(context, ssl.SSLContext)
    names = [dict(x[0] for x in c["subject"]) for c in context.get_ca_certs()]
    assert names == [{"commonName": "Test Bundle Root"}]
    with pytest.raises(FileNotFoundError):  # an explicit path wins over the environment
        _ssl_context(tmp_path / "missing.pem", {"REQUESTS_CA_BUNDLE": str(bundle)})
    assert _ssl_context(None, {}) is True


async def test_concurrent_requests_share_nonces_instead_of_heads(
    ca: FakeCA, clock: FakeTime
) -> None:
    ca.directory_nonce = False
    async with await _client_with_account(ca, clock) as client:
        names = [Identifier.dns(f"h{i}.example") for i in range(10)]
        order = await client.new_order(names)
        authzs = await asyncio.gather(*(client.get_authorization(u) for u in order.authorizations))
        await asyncio.gather(*(client.respond_challenge(a.challenges[0]) for a in authzs))
        assert [a.identifier for a in authzs] == names
        assert client.nonce_fetches == 1  # only the first POST needed a HEAD
        assert client.request_count == 1 + 1 + 1 + 10 + 10
