"""AcmeClient against a scripted CA on httpx.MockTransport that verifies every JWS it receives."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from test_acme_jws import b64d, public_key_from_jwk, verify_jws

from certsmith.acme import (
    AccountDoesNotExist,
    AccountStatus,
    AcmeClient,
    AcmeError,
    ExternalAccountBinding,
    Identifier,
    OrderStatus,
    PollTimeout,
    ValidationFailed,
    jws,
)
from certsmith.acme.polling import FIRST_POLL_DELAY, MAX_POLLS
from support.scripted_acme import BASE, FakeTime, Responder, cn_name, make_cert, pem, problem


def _cert(subject: str, issuer: str, key: Any, signer: Any) -> x509.Certificate:
    aki = x509.AuthorityKeyIdentifier(b"\x01" * 20, None, None)
    now = datetime.now(UTC)
    return make_cert(
        cn_name(subject),
        issuer,
        key.public_key(),
        signer,
        not_before=now,
        lifetime=timedelta(days=1),
        extensions=[aki],
    )


def _make_chains() -> tuple[str, str]:
    root, inter, leaf = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    leaf_cert = _cert("leaf.example", "Int", leaf, inter)
    pems = [
        pem(c)
        for c in (
            leaf_cert,
            _cert("Int", "Root A", inter, root),
            _cert("Int", "Root B", inter, root),
        )
    ]
    return pems[0] + pems[1], pems[0] + pems[2]


CHAINS = _make_chains()


class FakeCA:
    """Enough of RFC 8555 to drive the client; ``faults[path]`` answers first, one shot each."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.faults: dict[str, deque[Responder]] = defaultdict(deque)
        self.directory_nonce = True
        self.with_ari = True
        self.nonces: set[str] = set()
        self._counter = 0
        self.accounts: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.pending_polls = 0  # polls that still see "pending" after all challenges answered
        self.processing_polls = 0  # polls that still see "processing" after finalize
        self.order_retry_after = "1"
        self.finalize_valid = False  # finalize answers "valid" at once (issues synchronously)
        self.failing: set[str] = set()  # identifier values whose validation fails
        self.revocations: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.eab: dict[str, str] | None = None
        self.transport = httpx.MockTransport(self.handle)

    def fault(self, path: str, *responses: Responder) -> None:
        self.faults[path].extend(responses)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def new_nonce(self) -> str:
        self._counter += 1
        nonce = f"nonce{self._counter}"
        self.nonces.add(nonce)
        return nonce

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.faults[request.url.path]
        if queue:
            scripted = queue.popleft()
            response = scripted(request) if callable(scripted) else scripted
        else:
            response = self._route(request)
        if "Replay-Nonce" not in response.headers and not (
            request.url.path == "/dir" and not self.directory_nonce
        ):
            response.headers["Replay-Nonce"] = self.new_nonce()
        return response

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/dir":
            return httpx.Response(200, json=self.directory())
        if request.method == "HEAD" and path == "/nonce":
            return httpx.Response(200, headers={"Cache-Control": "no-store"})
        if request.method == "GET" and path.startswith("/ari/"):
            window = {"start": "2026-02-01T00:00:00Z", "end": "2026-02-02T00:00:00Z"}
            body = {"suggestedWindow": window, "explanationURL": f"{BASE}/why"}
            return httpx.Response(200, json=body, headers={"Retry-After": "21600"})
        assert request.method == "POST", request
        assert request.headers["content-type"] == "application/jose+json"
        message = json.loads(request.content)
        protected = json.loads(b64d(message["protected"]))
        assert protected["url"] == str(request.url)  # RFC 8555 section 6.4
        if protected.get("nonce") not in self.nonces:
            return problem("badNonce")
        self.nonces.discard(protected["nonce"])
        assert ("jwk" in protected) != ("kid" in protected)  # section 6.2: exactly one
        if "jwk" in protected:
            account = None
            key = public_key_from_jwk(protected["jwk"])
        else:
            account = self.accounts.get(protected["kid"].removeprefix(BASE))
            if account is None:
                return problem("accountDoesNotExist")
            if account["status"] != "valid":
                return problem("unauthorized", 403)
            key = public_key_from_jwk(account["jwk"])
        _, payload = verify_jws(message, key)
        return self._dispatch(path, protected, payload, account)

    def directory(self) -> dict[str, Any]:
        names = ["newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo"]
        paths = ["/nonce", "/new-acct", "/new-order", "/revoke", "/key-change", "/ari"]
        data: dict[str, Any] = {n: BASE + p for n, p in zip(names, paths, strict=True)}
        if not self.with_ari:
            del data["renewalInfo"]
        data["meta"] = {"termsOfService": f"{BASE}/tos", "profiles": {"shortlived": "6 days"}}
        return data

    def _dispatch(
        self, path: str, protected: dict[str, Any], payload: Any, account: Any
    ) -> httpx.Response:
        if path == "/new-acct":
            return self._new_account(protected, payload)
        if path in self.accounts:
            return self._update_account(path, payload)
        if path == "/key-change":
            return self._key_change(protected, payload)
        if path == "/new-order":
            return self._new_order(payload)
        if path == "/revoke":
            self.revocations.append((protected, payload))
            return httpx.Response(200)
        kind, _, rest = path.strip("/").partition("/")
        if kind == "order" and rest.endswith("/finalize"):
            return self._finalize(self.orders[rest.removesuffix("/finalize")], payload)
        if kind == "order":
            assert payload is None  # POST-as-GET
            return self._order_json(self.orders[rest], poll=True)
        if kind == "authz":
            order_id, index = rest.split("/")
            return httpx.Response(200, json=self._authz(self.orders[order_id], int(index)))
        if kind == "chall":
            order_id, index = rest.split("/")
            assert payload in ({}, None)  # a response, or POST-as-GET to read it
            if payload is not None:
                self.orders[order_id]["answered"].add(int(index))
            return httpx.Response(200, json=self._challenge(self.orders[order_id], int(index)))
        if kind == "cert":
            return self._certificate(rest)
        raise AssertionError(f"unexpected POST {path}")

    def _account_json(self, url: str) -> httpx.Response:
        acct = self.accounts[url]
        body = {"status": acct["status"], "contact": acct["contact"], "orders": url + "/orders"}
        return httpx.Response(200, json=body, headers={"Location": BASE + url})

    def _new_account(self, protected: dict[str, Any], payload: dict[str, Any]) -> httpx.Response:
        thumb = jws.thumbprint(protected["jwk"])
        existing = [u for u, a in self.accounts.items() if jws.thumbprint(a["jwk"]) == thumb]
        if existing:
            return self._account_json(existing[0])
        if payload.get("onlyReturnExisting"):
            return problem("accountDoesNotExist")
        self.eab = payload.get("externalAccountBinding")
        url = f"/acct/{len(self.accounts) + 1}"
        self.accounts[url] = {
            "jwk": protected["jwk"],
            "contact": payload.get("contact", []),
            "status": "valid",
        }
        response = self._account_json(url)
        response.status_code = 201
        return response

    def _update_account(self, url: str, payload: dict[str, Any]) -> httpx.Response:
        acct = self.accounts[url]
        if "contact" in payload:
            acct["contact"] = payload["contact"]
        if payload.get("status") == "deactivated":
            acct["status"] = "deactivated"
        return self._account_json(url)

    def _key_change(self, outer: dict[str, Any], inner: dict[str, str]) -> httpx.Response:
        inner_protected, inner_payload = verify_jws(inner)  # signed by the new key
        assert "nonce" not in inner_protected and inner_protected["url"] == outer["url"]
        account = self.accounts[outer["kid"].removeprefix(BASE)]
        assert inner_payload == {"account": outer["kid"], "oldKey": account["jwk"]}
        account["jwk"] = inner_protected["jwk"]
        return httpx.Response(200, json={"status": "valid"})

    def _new_order(self, payload: dict[str, Any]) -> httpx.Response:
        order_id = str(len(self.orders) + 1)
        self.orders[order_id] = {
            "id": order_id,
            "identifiers": payload["identifiers"],
            "profile": payload.get("profile"),
            "replaces": payload.get("replaces"),
            "answered": set(),
            "finalized": False,
            "pending_polls": self.pending_polls,
            "processing_polls": self.processing_polls,
        }
        response = self._order_json(self.orders[order_id], poll=False)
        response.status_code = 201
        return response

    def _validated(self, order: dict[str, Any], index: int) -> str:
        if index not in order["answered"]:
            return "pending"
        return "invalid" if order["identifiers"][index]["value"] in self.failing else "valid"

    def _challenge(self, order: dict[str, Any], index: int) -> dict[str, Any]:
        status = self._validated(order, index)
        body: dict[str, Any] = {
            "type": "http-01",
            "url": f"{BASE}/chall/{order['id']}/{index}",
            "status": "processing" if status == "valid" else status,
            "token": f"token-{order['id']}-{index}",
        }
        if status == "invalid":
            body["error"] = {"type": "urn:ietf:params:acme:error:connection", "detail": "refused"}
        return body

    def _authz(self, order: dict[str, Any], index: int) -> dict[str, Any]:
        return {
            "identifier": order["identifiers"][index],
            "status": self._validated(order, index),
            "challenges": [self._challenge(order, index)],
        }

    def _order_status(self, order: dict[str, Any], poll: bool) -> str:
        states = [self._validated(order, i) for i in range(len(order["identifiers"]))]
        if "invalid" in states:
            return "invalid"
        if "pending" in states:
            return "pending"
        if order["finalized"]:
            if poll and order["processing_polls"] > 0:
                order["processing_polls"] -= 1
                return "processing"
            return "valid" if poll or self.finalize_valid else "processing"
        if poll and order["pending_polls"] > 0:
            order["pending_polls"] -= 1
            return "pending"
        return "ready"

    def _order_json(self, order: dict[str, Any], *, poll: bool) -> httpx.Response:
        status = self._order_status(order, poll)
        oid = order["id"]
        body: dict[str, Any] = {
            "status": status,
            "identifiers": order["identifiers"],
            "authorizations": [f"{BASE}/authz/{oid}/{i}" for i in range(len(order["identifiers"]))],
            "finalize": f"{BASE}/order/{oid}/finalize",
        }
        for key in ("profile", "replaces"):
            if order[key] is not None:
                body[key] = order[key]
        if status == "valid":
            body["certificate"] = f"{BASE}/cert/{oid}"
        headers = {"Location": f"{BASE}/order/{oid}"}
        if status in ("pending", "processing"):
            headers["Retry-After"] = self.order_retry_after
        return httpx.Response(200, json=body, headers=headers)

    def _finalize(self, order: dict[str, Any], payload: dict[str, Any]) -> httpx.Response:
        if self._order_status(order, poll=False) != "ready":
            return problem("orderNotReady", 403)
        x509.load_der_x509_csr(b64d(payload["csr"]))
        order["finalized"] = True
        return self._order_json(order, poll=False)

    def _certificate(self, rest: str) -> httpx.Response:
        headers = {"Content-Type": "application/pem-certificate-chain"}
        if rest.endswith("/alt"):
            return httpx.Response(200, text=CHAINS[1], headers=headers)
        headers["Link"] = f'<{BASE}/cert/{rest}/alt>;rel="alternate", <{BASE}/dir>;rel="index"'
        return httpx.Response(200, text=CHAINS[0], headers=headers)


@pytest.fixture
def ca() -> FakeCA:
    return FakeCA()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


def make_client(ca: FakeCA, clock: FakeTime, key: Any = None, **kwargs: Any) -> AcmeClient:
    return AcmeClient(
        f"{BASE}/dir",
        key or ec.generate_private_key(ec.SECP256R1()),
        transport=ca.transport,
        clock=clock.clock,
        sleep=clock.sleep,
        now=clock.utcnow,
        **kwargs,
    )


def csr_der(name: str = "leaf.example") -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(cn_name(name))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


async def registered(ca: FakeCA, clock: FakeTime) -> tuple[Any, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    async with make_client(ca, clock, key) as client:
        account = await client.new_account(["mailto:a@example.com"], terms_agreed=True)
    ca.requests.clear()
    return key, account.url


async def issue(client: AcmeClient, names: list[str]) -> str:
    deadline = client.deadline_in(300)
    order = await client.new_order([Identifier.dns(n) for n in names])
    for url in order.authorizations:
        authz = await client.get_authorization(url)
        challenge = authz.challenge("http-01")
        assert challenge is not None and challenge.token is not None
        client.key_authorization(challenge.token)
        await client.respond_challenge(challenge)
    order = await client.poll_order(order, deadline)
    order = await client.finalize(order, csr_der())
    order = await client.poll_order(order, deadline, until=OrderStatus.VALID)
    assert order.certificate is not None
    return (await client.download_certificate(order.certificate)).pem


async def test_issuance_with_known_account_takes_eight_requests(
    ca: FakeCA, clock: FakeTime
) -> None:
    key, account_url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=account_url) as client:
        pem = await issue(client, ["leaf.example"])
        assert pem == CHAINS[0]
        assert client.request_count == 8 and client.nonce_fetches == 0
    assert ca.paths() == [
        "GET /dir",
        "POST /new-order",
        "POST /authz/1/0",
        "POST /chall/1/0",
        "POST /order/1",
        "POST /order/1/finalize",
        "POST /order/1",
        "POST /cert/1",
    ]
    # One short first-poll delay before each poll, no real sleep. The finalize response said
    # "processing" with Retry-After: 1; that is not waited for before the first poll.
    assert clock.sleeps == [FIRST_POLL_DELAY, FIRST_POLL_DELAY] == [0.02, 0.02]


async def test_new_nonce_is_fetched_only_when_the_pool_is_empty(
    ca: FakeCA, clock: FakeTime
) -> None:
    ca.directory_nonce = False
    key, account_url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=account_url) as client:
        await issue(client, ["a.example", "b.example"])
        assert client.nonce_fetches == 1
    assert ca.paths()[:3] == ["GET /dir", "HEAD /nonce", "POST /new-order"]
    assert [p for p in ca.paths() if p.startswith("HEAD")] == ["HEAD /nonce"]


async def test_account_lifecycle_and_eab(ca: FakeCA, clock: FakeTime) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    eab = ExternalAccountBinding("kid-1", b"mac-key-bytes", "HS256")
    async with make_client(ca, clock, key) as client:
        with pytest.raises(AccountDoesNotExist):
            await client.find_account()
        assert client.account_url is None
        account = await client.new_account(["mailto:a@example.com"], terms_agreed=True, eab=eab)
        assert account.url == f"{BASE}/acct/1" == client.account_url
        assert account.status is AccountStatus.VALID
        assert (await client.find_account()).url == account.url
        updated = await client.update_account(["mailto:b@example.com"])
        assert updated.contact == ("mailto:b@example.com",)
        assert (await client.deactivate_account()).status is AccountStatus.DEACTIVATED
    assert ca.eab is not None
    eab_header = json.loads(b64d(ca.eab["protected"]))
    assert eab_header == {"alg": "HS256", "kid": "kid-1", "url": f"{BASE}/new-acct"}
    assert json.loads(b64d(ca.eab["payload"])) == jws.jwk(key)


async def test_requests_need_an_account(ca: FakeCA, clock: FakeTime) -> None:
    async with make_client(ca, clock) as client:
        with pytest.raises(AcmeError, match="no account URL"):
            await client.new_order([Identifier.dns("a.example")])
    assert all(r.method != "POST" for r in ca.requests)


async def test_rollover_key_signs_later_requests_with_the_new_key(
    ca: FakeCA, clock: FakeTime
) -> None:
    old_key, account_url = await registered(ca, clock)
    new_key = ec.generate_private_key(ec.SECP256R1())
    async with make_client(ca, clock, old_key, account_url=account_url) as client:
        await client.rollover_key(new_key)
        assert client.account_key is new_key
        assert ca.accounts["/acct/1"]["jwk"] == jws.jwk(new_key)
        # The fake CA verifies with the stored (new) key, so this fails if signed by the old one.
        assert (await client.update_account(["mailto:c@example.com"])).contact == (
            "mailto:c@example.com",
        )


async def test_poll_honours_retry_after_with_a_cap(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.pending_polls = 3
    ca.order_retry_after = "120"
    async with make_client(ca, clock, key, account_url=account_url) as client:
        await issue(client, ["a.example"])
    assert clock.sleeps[:4] == [0.02, 10.0, 10.0, 10.0]


async def test_poll_retry_after_wins_over_the_backoff(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.pending_polls = 2
    ca.processing_polls = 1
    ca.order_retry_after = "3"
    async with make_client(ca, clock, key, account_url=account_url) as client:
        await issue(client, ["a.example"])
    # ready: first poll, then two "pending, Retry-After: 3"; valid: first poll, one "processing"
    assert clock.sleeps == [0.02, 3.0, 3.0, 0.02, 3.0]


async def test_poll_retry_after_as_http_date(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.pending_polls = 1
    async with make_client(ca, clock, key, account_url=account_url) as client:
        when = clock.utcnow() + timedelta(seconds=5.02)  # whole seconds on the wire: 5
        ca.order_retry_after = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
        await issue(client, ["a.example"])
    assert clock.sleeps[0] == 0.02
    assert clock.sleeps[1] == pytest.approx(5.0, abs=0.03)


async def test_poll_retry_after_zero_still_waits_a_little(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.pending_polls = 3
    ca.order_retry_after = "0"
    async with make_client(ca, clock, key, account_url=account_url) as client:
        await issue(client, ["a.example"])
    assert clock.sleeps == [0.02, 0.02, 0.02, 0.02, 0.02]  # no back-to-back polls


async def test_poll_without_retry_after_backs_off(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.pending_polls = 11
    ca.order_retry_after = "garbage"
    async with make_client(ca, clock, key, account_url=account_url) as client:
        await issue(client, ["a.example"])
    expected = [0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.0, 10.0, 10.0]
    assert clock.sleeps[:12] == pytest.approx(expected)
    assert clock.sleeps[0] < 0.1 and clock.sleeps[1] > clock.sleeps[0]


async def test_poll_backoff_starts_from_first_poll_delay(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.pending_polls = 3
    ca.order_retry_after = "garbage"
    async with make_client(
        ca, clock, key, account_url=account_url, first_poll_delay=0, max_poll_wait=0.05
    ) as client:
        await issue(client, ["a.example"])
    # 0 s first, then the floor, doubled, capped at max_poll_wait; the finalize poll starts at 0.
    assert clock.sleeps == pytest.approx([0.0, 0.02, 0.04, 0.05, 0.0])


async def test_finalize_answered_valid_needs_no_poll(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.finalize_valid = True
    async with make_client(ca, clock, key, account_url=account_url) as client:
        await issue(client, ["leaf.example"])
        assert client.request_count == 7
    assert ca.paths()[-2:] == ["POST /order/1/finalize", "POST /cert/1"]
    assert clock.sleeps == [0.02]


async def test_poll_count_is_bounded(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.pending_polls = 10 * MAX_POLLS
    ca.order_retry_after = "0"
    async with make_client(ca, clock, key, account_url=account_url) as client:
        order = await client.new_order([Identifier.dns("a.example")])
        authz = await client.get_authorization(order.authorizations[0])
        await client.respond_challenge(authz.challenges[0])
        ca.requests.clear()
        with pytest.raises(PollTimeout, match=f"after {MAX_POLLS} polls"):
            await client.poll_order(order, client.deadline_in(10 * 24 * 3600))
    assert len(ca.requests) == MAX_POLLS
    assert len(clock.sleeps) == MAX_POLLS and min(clock.sleeps) == 0.02


async def test_poll_timeout_is_bounded_by_the_deadline(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.pending_polls = 10_000
    async with make_client(ca, clock, key, account_url=account_url) as client:
        order = await client.new_order([Identifier.dns("a.example")])
        authz = await client.get_authorization(order.authorizations[0])
        await client.respond_challenge(authz.challenges[0])
        start = clock.t
        with pytest.raises(PollTimeout):
            await client.poll_order(order, client.deadline_in(30))
    assert clock.t - start <= 30.0 + 1e-9
    assert sum(clock.sleeps) <= 30.0 + 1e-9


async def test_invalid_order_raises_validation_failed(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.failing = {"bad.example"}
    async with make_client(ca, clock, key, account_url=account_url) as client:
        with pytest.raises(ValidationFailed) as caught:
            await issue(client, ["good.example", "bad.example"])
        assert caught.value.identifier == Identifier.dns("bad.example")
        assert caught.value.problem is not None and caught.value.problem.detail == "refused"


async def test_poll_authorization(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    ca.failing = {"bad.example"}
    async with make_client(ca, clock, key, account_url=account_url) as client:
        order = await client.new_order(
            [Identifier.dns("ok.example"), Identifier.dns("bad.example")]
        )
        for url in order.authorizations:
            authz = await client.get_authorization(url)
            await client.respond_challenge(authz.challenges[0])
        deadline = client.deadline_in(60)
        ok = await client.poll_authorization(order.authorizations[0], deadline)
        assert ok.status == "valid"
        with pytest.raises(ValidationFailed, match=r"bad\.example"):
            await client.poll_authorization(order.authorizations[1], deadline)
    assert clock.sleeps == [0.02, 0.02]  # one short first wait each


async def test_poll_authorization_follows_retry_after_then_backs_off(
    ca: FakeCA, clock: FakeTime
) -> None:
    key, account_url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=account_url) as client:
        order = await client.new_order([Identifier.dns("ok.example")])
        url = order.authorizations[0]
        authz = await client.get_authorization(url)
        await client.respond_challenge(authz.challenges[0])
        challenge = {"type": "http-01", "url": authz.challenges[0].url, "status": "processing"}
        pending = {
            "identifier": {"type": "dns", "value": "ok.example"},
            "status": "pending",
            "challenges": [challenge],
        }
        ca.fault(
            "/authz/1/0",
            httpx.Response(200, json=pending, headers={"Retry-After": "2"}),
            httpx.Response(200, json=pending),
        )
        ok = await client.poll_authorization(url, client.deadline_in(60))
        assert ok.status == "valid"
    assert clock.sleeps == [0.02, 2.0, 4.0]  # first wait, the CA's hint, then doubled


async def test_order_options_and_finalize_too_early(ca: FakeCA, clock: FakeTime) -> None:
    from certsmith.acme import OrderNotReady

    key, account_url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=account_url) as client:
        order = await client.new_order(
            [Identifier.ip("127.0.0.1")], profile="shortlived", replaces="abc.def"
        )
        assert order.profile == "shortlived" and order.replaces == "abc.def"
        assert order.identifiers == (Identifier.ip("127.0.0.1"),)
        with pytest.raises(OrderNotReady):
            await client.finalize(order, csr_der())
        with pytest.raises(AcmeError):
            await client.new_order([])


async def test_preferred_chain_fetches_alternates(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    async with make_client(ca, clock, key, account_url=account_url) as client:
        default = await client.download_certificate(f"{BASE}/cert/1")
        assert default.pem == CHAINS[0] and default.alternates == ()
        assert ca.paths()[-1] == "POST /cert/1"  # no alternate fetched without a preference
        chosen = await client.download_certificate(f"{BASE}/cert/1", preferred_chain="Root B")
        assert chosen.pem == CHAINS[1] and chosen.alternates == (CHAINS[0],)
        fallback = await client.download_certificate(f"{BASE}/cert/1", preferred_chain="Nope")
        assert fallback.pem == CHAINS[0]


async def test_revoke_by_account_and_by_certificate_key(ca: FakeCA, clock: FakeTime) -> None:
    key, account_url = await registered(ca, clock)
    cert_key = ec.generate_private_key(ec.SECP256R1())
    async with make_client(ca, clock, key, account_url=account_url) as client:
        await client.revoke(b"\x30\x03der", reason=1)
        await client.revoke(b"\x30\x03der", cert_key=cert_key)
        with pytest.raises(AcmeError, match="revocation reason"):
            await client.revoke(b"der", reason=7)
    (by_account, payload), (by_cert, _) = ca.revocations
    assert by_account["kid"] == account_url and "jwk" not in by_account
    assert payload == {"certificate": jws.b64url(b"\x30\x03der"), "reason": 1}
    assert by_cert["jwk"] == jws.jwk(cert_key) and "kid" not in by_cert


async def test_renewal_info(ca: FakeCA, clock: FakeTime) -> None:
    cert = x509.load_pem_x509_certificate(CHAINS[0].encode())
    async with make_client(ca, clock) as client:
        info = await client.renewal_info(cert)
        assert info is not None and info.retry_after == 21600.0
        assert info.window_start == datetime(2026, 2, 1, tzinfo=UTC)
        assert info.explanation_url == f"{BASE}/why"
    assert ca.paths()[-1] == f"GET /ari/{client.cert_id(cert)}"
    ca.with_ari = False
    async with make_client(ca, clock) as client:
        assert await client.renewal_info(cert) is None


async def test_directory_is_fetched_once(ca: FakeCA, clock: FakeTime) -> None:
    async with make_client(ca, clock) as client:
        first = await client.directory()
        assert await client.directory() is first
        assert first.meta.terms_of_service == f"{BASE}/tos"
        assert client.request_count == 1


def test_key_authorization_via_client(ca: FakeCA, clock: FakeTime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = make_client(ca, clock, key)
    assert client.key_authorization("abc") == f"abc.{jws.thumbprint(key)}"
    assert client.dns01_txt_value("abc") == jws.dns01_txt_value(f"abc.{jws.thumbprint(key)}")
    with pytest.raises(AcmeError):
        client.key_authorization("../x")
