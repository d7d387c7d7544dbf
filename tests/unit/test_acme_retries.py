"""Retries after a dropped connection, a timeout or a 5xx (acme/retry.py), per request kind.

The scripted CA of test_acme_client raises httpx's own exceptions from the mock transport, so
the client sees what a broken connection looks like. A "lost answer" responder lets the CA act
on the request (the order exists, the challenge started) and then breaks the connection: the
case that decides whether a repeat is harmless.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from test_acme_client import (
    BASE,
    FakeCA,
    FakeTime,
    ca,
    clock,
    csr_der,
    make_client,
    problem,
    registered,
)
from test_acme_jws import b64d

from certsmith.acme import (
    Identifier,
    Malformed,
    OrderNotReady,
    OrderStatus,
    ServerInternal,
    TransportError,
)
from certsmith.acme.retry import Repeat, RetryPolicy, transport_error

__all__ = ["ca", "clock"]  # the fixtures, shared with test_acme_client


def dropped(request: httpx.Request) -> httpx.Response:
    """The CA closed the connection before answering (and before acting: nothing routed)."""
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def lost_answer(ca: FakeCA, error: type[httpx.HTTPError] = httpx.ReadTimeout) -> Any:
    """The CA acts on the request, then its answer never arrives."""

    def respond(request: httpx.Request) -> httpx.Response:
        ca._route(request)
        raise error("the answer was lost", request=request)

    return respond


def nonces_of(ca: FakeCA, path: str) -> list[str]:
    sent = [r for r in ca.requests if r.method == "POST" and r.url.path == path]
    return [json.loads(b64d(json.loads(r.content)["protected"]))["nonce"] for r in sent]


async def _with_account(ca: FakeCA, clock: FakeTime, **kwargs: Any) -> Any:
    key, url = await registered(ca, clock)
    return make_client(ca, clock, key, account_url=url, **kwargs)


# --- safe requests: GET, HEAD newNonce, POST-as-GET --------------------------------------------


async def test_a_dropped_connection_on_the_directory_is_retried(
    ca: FakeCA, clock: FakeTime
) -> None:
    ca.fault("/dir", dropped, dropped)
    async with make_client(ca, clock) as client:
        directory = await client.directory()
        assert client.retries == 2
    assert directory.new_order == f"{BASE}/new-order"
    assert ca.paths() == ["GET /dir"] * 3
    assert clock.sleeps == [1.0, 2.0]  # backoff through the injected sleep


async def test_a_ca_that_never_answers_ends_in_one_transport_error_saying_so(
    ca: FakeCA, clock: FakeTime
) -> None:
    ca.fault("/dir", *[dropped] * 10)
    async with make_client(ca, clock) as client:
        with pytest.raises(TransportError) as caught:
            await client.directory()
    error = caught.value
    assert str(error).startswith(f"GET {BASE}/dir: the CA closed the connection")
    assert "gave up after 4 tries" in str(error) and "RemoteProtocolError" in str(error)
    assert error.attempts == 4 and error.retryable and error.sent
    assert ca.paths() == ["GET /dir"] * 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


async def test_a_read_timeout_on_post_as_get_is_retried_with_a_fresh_jws(
    ca: FakeCA, clock: FakeTime
) -> None:
    async with await _with_account(ca, clock) as client:
        order = await client.new_order([Identifier.dns("a.example")])
        ca.fault("/authz/1/0", lost_answer(ca), lost_answer(ca))
        authz = await client.get_authorization(order.authorizations[0])
    assert authz.identifier == Identifier.dns("a.example")
    nonces = nonces_of(ca, "/authz/1/0")
    assert len(nonces) == 3 and len(set(nonces)) == 3  # re-signed with a new nonce each time


async def test_a_503_on_new_nonce_is_retried_honouring_retry_after(
    ca: FakeCA, clock: FakeTime
) -> None:
    ca.directory_nonce = False  # like Pebble 2.10: the first POST needs HEAD newNonce
    async with await _with_account(ca, clock) as client:
        ca.fault("/nonce", problem("serverInternal", 503, {"Retry-After": "5"}))
        order = await client.new_order([Identifier.dns("a.example")])
        assert client.nonce_fetches == 2
    assert order.status == OrderStatus.PENDING
    assert clock.sleeps == [5.0]
    assert ca.paths() == ["GET /dir", "HEAD /nonce", "HEAD /nonce", "POST /new-order"]


async def test_a_new_nonce_that_keeps_failing_is_bounded(ca: FakeCA, clock: FakeTime) -> None:
    ca.directory_nonce = False
    async with await _with_account(ca, clock) as client:
        ca.fault("/nonce", *[problem("serverInternal", 503)] * 3, *[dropped] * 10)
        with pytest.raises(TransportError, match="gave up after 4 tries") as caught:
            await client.new_order([Identifier.dns("a.example")])
    assert caught.value.attempts == 4
    assert ca.paths().count("HEAD /nonce") == 4
    assert "POST /new-order" not in ca.paths()


# --- POSTs with a payload: per request --------------------------------------------------------


async def test_a_lost_answer_to_new_order_is_retried_and_leaves_a_spare_order(
    ca: FakeCA, clock: FakeTime
) -> None:
    async with await _with_account(ca, clock) as client:
        ca.fault("/new-order", lost_answer(ca, httpx.RemoteProtocolError))
        order = await client.new_order([Identifier.dns("a.example")])
    assert order.url == f"{BASE}/order/2"  # the first try's order is the harmless spare
    assert len(ca.orders) == 2
    assert len(set(nonces_of(ca, "/new-order"))) == 2


async def test_a_lost_answer_to_new_account_returns_the_same_account(
    ca: FakeCA, clock: FakeTime
) -> None:
    ca.fault("/new-acct", lost_answer(ca))
    async with make_client(ca, clock) as client:
        account = await client.new_account(["mailto:a@example.com"], terms_agreed=True)
    assert len(ca.accounts) == 1 and account.url == f"{BASE}/acct/1"
    assert ca.paths().count("POST /new-acct") == 2


async def test_a_lost_answer_to_finalize_is_read_from_the_order(
    ca: FakeCA, clock: FakeTime
) -> None:
    def already_finalized(request: httpx.Request) -> httpx.Response:
        return ca._route(request)  # the FakeCA refuses a second finalize: orderNotReady

    async with await _with_account(ca, clock) as client:
        order = await client.new_order([Identifier.dns("a.example")])
        ca.orders["1"]["answered"].add(0)
        ready = await client.poll_order(order, client.deadline_in(60))
        ca.fault("/order/1/finalize", lost_answer(ca), already_finalized)
        finalized = await client.finalize(ready, csr_der())
        assert finalized.status in (OrderStatus.PROCESSING, OrderStatus.VALID)
        valid = await client.poll_order(finalized, client.deadline_in(60), OrderStatus.VALID)
        assert valid.certificate == f"{BASE}/cert/1"
    assert ca.paths().count("POST /order/1/finalize") == 2


async def test_a_real_refusal_of_a_repeated_finalize_is_still_raised(
    ca: FakeCA, clock: FakeTime
) -> None:
    # The first try was refused with 503 (not processed) and the order is still pending, so the
    # orderNotReady of the second try is the CA's real answer.
    async with await _with_account(ca, clock) as client:
        order = await client.new_order([Identifier.dns("a.example")])
        ca.fault("/order/1/finalize", problem("serverInternal", 503))
        with pytest.raises(OrderNotReady) as caught:
            await client.finalize(order, csr_der())
    assert caught.value.attempts == 2
    assert ca.paths()[-3:] == ["POST /order/1/finalize"] * 2 + ["POST /order/1"]


async def test_a_lost_answer_to_a_challenge_is_read_from_the_challenge(
    ca: FakeCA, clock: FakeTime
) -> None:
    # Pebble and Boulder refuse to start a challenge twice with a malformed problem.
    twice = problem("malformed")
    async with await _with_account(ca, clock) as client:
        order = await client.new_order([Identifier.dns("a.example")])
        authz = await client.get_authorization(order.authorizations[0])
        ca.fault("/chall/1/0", lost_answer(ca), twice)
        challenge = await client.respond_challenge(authz.challenges[0])
    assert challenge.status == "processing"
    posts = [p for p in ca.paths() if p.startswith("POST /chall/")]
    assert posts == ["POST /chall/1/0"] * 3  # the try, its repeat, the POST-as-GET
    assert ca.orders["1"]["answered"] == {0}


async def test_a_challenge_refused_on_its_repeat_while_still_pending_is_raised(
    ca: FakeCA, clock: FakeTime
) -> None:
    async with await _with_account(ca, clock) as client:
        order = await client.new_order([Identifier.dns("a.example")])
        authz = await client.get_authorization(order.authorizations[0])
        ca.fault("/chall/1/0", dropped, problem("malformed"))  # the first try never arrived
        with pytest.raises(Malformed):
            await client.respond_challenge(authz.challenges[0])


async def test_a_lost_answer_to_a_revocation_then_already_revoked_is_done(
    ca: FakeCA, clock: FakeTime
) -> None:
    async with await _with_account(ca, clock) as client:
        ca.fault("/revoke", lost_answer(ca), problem("alreadyRevoked"))
        await client.revoke(b"\x30\x03\x02\x01\x01", reason=4)
    assert len(ca.revocations) == 1
    assert ca.paths().count("POST /revoke") == 2


async def test_a_key_change_is_not_repeated_after_a_lost_answer(
    ca: FakeCA, clock: FakeTime
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    async with await _with_account(ca, clock) as client:
        old_key = client.account_key
        ca.fault("/key-change", lost_answer(ca))
        with pytest.raises(TransportError, match="did not answer in time") as caught:
            await client.rollover_key(ec.generate_private_key(ec.SECP256R1()))
        assert client.account_key is old_key  # unknown outcome: the caller decides
    assert caught.value.attempts == 1 and caught.value.sent
    assert str(caught.value).endswith("not sent again: the CA may have acted on it")
    assert ca.paths().count("POST /key-change") == 1


async def test_a_key_change_that_could_not_connect_is_repeated(ca: FakeCA, clock: FakeTime) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    new_key = ec.generate_private_key(ec.SECP256R1())
    async with await _with_account(ca, clock) as client:
        ca.fault("/key-change", refused)
        await client.rollover_key(new_key)
        assert client.account_key is new_key
    assert ca.paths().count("POST /key-change") == 2


async def test_a_500_on_new_order_is_still_not_repeated(ca: FakeCA, clock: FakeTime) -> None:
    async with await _with_account(ca, clock) as client:
        ca.fault("/new-order", problem("serverInternal", 500))
        with pytest.raises(ServerInternal):
            await client.new_order([Identifier.dns("a.example")])
    assert ca.paths().count("POST /new-order") == 1


# --- bounds and logging -----------------------------------------------------------------------


async def test_retries_stop_at_the_request_budget(ca: FakeCA, clock: FakeTime) -> None:
    def slow_timeout(request: httpx.Request) -> httpx.Response:
        clock.t += 40.0  # each try times out after 40 s; the budget is 90 s
        raise httpx.ReadTimeout("timed out", request=request)

    ca.fault("/dir", *[slow_timeout] * 10)
    async with make_client(ca, clock) as client:
        with pytest.raises(TransportError, match="did not answer in time") as caught:
            await client.directory()
    # 40 s, wait 1, 40 s (81 s), wait 2, 40 s: a fourth try would start after 127 s.
    assert caught.value.attempts == 3 and clock.sleeps == [1.0, 2.0]


async def test_each_retry_is_logged_once_without_secrets(
    ca: FakeCA, clock: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    async with await _with_account(ca, clock) as client:
        ca.fault("/new-order", lost_answer(ca), problem("serverInternal", 503))
        with caplog.at_level(logging.INFO, logger="certsmith.acme"):
            await client.new_order([Identifier.dns("a.example")])
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert retries == [
        f"POST {BASE}/new-order: the CA did not answer in time; retry 1 of 3 in 1.0 s",
        f"POST {BASE}/new-order: the CA answered 503; retry 2 of 3 in 2.0 s",
    ]
    sent = [r for r in ca.requests if r.url.path == "/new-order"]
    secrets = [json.loads(r.content)[part] for r in sent for part in ("protected", "signature")]
    assert not any(s in caplog.text for s in secrets)


@pytest.mark.parametrize(
    ("exc", "sent", "retryable"),
    [
        (httpx.ConnectError("refused"), False, True),
        (httpx.ConnectTimeout("slow"), False, True),
        (httpx.PoolTimeout("busy"), False, True),
        (httpx.ReadTimeout("slow"), True, True),
        (httpx.WriteTimeout("slow"), True, True),
        (httpx.ReadError("reset"), True, True),
        (httpx.RemoteProtocolError("closed"), True, True),
        (httpx.LocalProtocolError("ours"), True, False),
        (httpx.UnsupportedProtocol("ftp"), True, False),
    ],
)
def test_transport_failures_say_whether_the_ca_may_have_the_request(
    exc: httpx.HTTPError, sent: bool, retryable: bool
) -> None:
    error = transport_error("POST", f"{BASE}/x", exc)
    assert (error.sent, error.retryable) == (sent, retryable)
    policy = RetryPolicy()

    def repeats(kind: Repeat) -> bool:
        return policy.wait(error, kind, 1, 0.0) is not None

    assert repeats(Repeat.SAFE) == retryable
    assert repeats(Repeat.HARMLESS) == retryable
    assert repeats(Repeat.ONCE) == (retryable and not sent)


# --- the CLI words a transport failure from its code, in English exactly as the message -------


def _worded(error: TransportError, locale: str) -> str:
    from certsmith.cli.explain import _detail
    from certsmith.preflight.messages import Catalogue

    return _detail(error, Catalogue(locale))


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectTimeout("t"),
        httpx.PoolTimeout("t"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("t"),
        httpx.WriteTimeout("t"),
        httpx.RemoteProtocolError("gone"),
        httpx.ReadError("reset"),
    ],
)
def test_each_transport_failure_is_worded_in_english_as_its_message_and_in_korean(
    exc: httpx.HTTPError,
) -> None:
    error = transport_error("GET", f"{BASE}/dir", exc)
    assert error.code and _worded(error, "en") == str(error)
    korean = _worded(error, "ko")
    assert korean.startswith(f"GET {BASE}/dir: ") and korean != str(error)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in korean)


async def test_a_given_up_and_a_not_resent_failure_are_worded_as_their_messages(
    ca: FakeCA, clock: FakeTime
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ca.fault("/dir", *[dropped] * 10)
    async with make_client(ca, clock) as client:
        with pytest.raises(TransportError) as gave_up:
            await client.directory()
    assert _worded(gave_up.value, "en") == str(gave_up.value)
    assert "4번 시도한 뒤 포기했습니다" in _worded(gave_up.value, "ko")
    ca2, clock2 = FakeCA(), FakeTime()
    async with await _with_account(ca2, clock2) as client:
        ca2.fault("/key-change", lost_answer(ca2))
        with pytest.raises(TransportError) as once:
            await client.rollover_key(ec.generate_private_key(ec.SECP256R1()))
    assert _worded(once.value, "en") == str(once.value)
    assert "다시 보내지 않았습니다" in _worded(once.value, "ko")
