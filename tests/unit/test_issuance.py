"""certsmith.issuance.obtain_certificate against a scripted CA on httpx.MockTransport.

The CA (``ScriptedCA``) issues real certificates for the CSR it receives, so the renewal runner
tests reuse it. Solvers are fakes that record present / settle / cleanup into one event log that
the CA writes its requests into too, so the order of solver calls and CA requests is visible.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from test_acme_jws import b64d

from certsmith import crypto
from certsmith.acme import (
    AccountDoesNotExist,
    AcmeClient,
    AcmeError,
    Authorization,
    BadCsr,
    Caa,
    Malformed,
    ProblemError,
    ProtocolViolation,
    RateLimited,
    RejectedIdentifier,
    ServerInternal,
    Unauthorized,
    UserActionRequired,
    ValidationFailed,
    thumbprint,
)
from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask, Solver
from certsmith.errors import CertsmithError, SolverError, UsageError
from certsmith.issuance import IssuanceRequest, IssuanceResult, choose_challenge, obtain_certificate
from support.scripted_acme import BASE, FakeTime, Responder, cn_name, make_cert, pem, problem

Event = tuple[Any, ...]


class Issuer:
    """A root and an intermediate; the intermediate is cross-signed so two chains exist."""

    def __init__(self) -> None:
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        root_key = ec.generate_private_key(ec.SECP256R1())
        self.chain_a = pem(self._intermediate("Root A", root_key))
        self.chain_b = pem(self._intermediate("Root B", root_key))

    def _intermediate(self, root_cn: str, root_key: ec.EllipticCurvePrivateKey) -> Any:
        now = datetime.datetime.now(datetime.UTC)
        return make_cert(
            cn_name("Scripted Int"),
            root_cn,
            self.int_key.public_key(),
            root_key,
            not_before=now - datetime.timedelta(days=1),
            lifetime=datetime.timedelta(days=3651),
        )

    def leaf(
        self,
        public_key: Any,
        sans: Sequence[x509.GeneralName],
        *,
        not_before: datetime.datetime | None = None,
        days: int = 90,
    ) -> str:
        """A leaf PEM with an AKI (so it has an RFC 9773 certID) signed by the intermediate."""
        start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(self.int_key.public_key())
        cert = make_cert(
            x509.Name([]),
            "Scripted Int",
            public_key,
            self.int_key,
            not_before=start,
            lifetime=datetime.timedelta(days=days),
            extensions=[x509.SubjectAlternativeName(list(sans)), aki],
        )
        return pem(cert)

    def leaf_for(self, key: Any, names: Sequence[str], **kwargs: Any) -> str:
        return self.leaf(key.public_key(), [x509.DNSName(n) for n in names], **kwargs)


@dataclass
class AuthzSpec:
    """How the CA presents the authorization of one identifier value."""

    types: tuple[str, ...] = ("http-01",)
    status: str = "pending"
    token: bool = True
    fail: bool = False  # validation fails with a `connection` problem
    stall: bool = False  # stays pending after the challenge was answered


@dataclass
class _Authz:
    ident: dict[str, str]
    wildcard: bool
    spec: AuthzSpec
    status: str
    answered: str | None = None


@dataclass
class _Order:
    oid: str
    identifiers: list[dict[str, str]]
    payload: dict[str, Any]
    authzs: list[_Authz]
    certificate: str | None = None


@dataclass
class ScriptedCA:
    """Enough RFC 8555 / RFC 9773 for obtain_certificate; ``faults[path]`` answer first, once."""

    events: list[Event] = field(default_factory=list)
    specs: dict[str, AuthzSpec] = field(default_factory=dict)
    with_ari: bool = True
    ari_retry_after: str = "21600"
    ari_window: tuple[str, str] = ("2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z")
    fail_names: set[str] = field(default_factory=set)  # CSR names the CA refuses to issue for
    finalize_valid: bool = False  # finalize answers "valid" at once (no poll, no wait)
    issuer: Issuer = field(default_factory=Issuer)

    def __post_init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.payloads: list[tuple[str, Any]] = []
        self.faults: dict[str, deque[Responder]] = defaultdict(deque)
        self.orders: dict[str, _Order] = {}
        self.nonces: set[str] = set()
        self._counter = 0
        self.transport = httpx.MockTransport(self.handle)

    # --- inspection ---------------------------------------------------------------------

    def paths(self, *, heads: bool = False) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests if heads or r.method != "HEAD"]

    def order_payloads(self) -> list[dict[str, Any]]:
        return [p for path, p in self.payloads if path == "/new-order"]

    def fault(self, path: str, *responses: Responder) -> None:
        self.faults[path].extend(responses)

    # --- HTTP ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.events.append(("ca", f"{request.method} {request.url.path}"))
        queue = self.faults[request.url.path]
        response = self._route(request)  # routed anyway, so JWS checks and nonces still run
        if queue:
            scripted = queue.popleft()
            response = scripted(request) if callable(scripted) else scripted
        self._counter += 1
        nonce = f"n{self._counter}"
        self.nonces.add(nonce)
        response.headers["Replay-Nonce"] = nonce
        return response

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/dir":
            return httpx.Response(200, json=self.directory())
        if request.method == "HEAD" and path == "/nonce":
            return httpx.Response(200)
        if request.method == "GET" and path.startswith("/ari/"):
            start, end = self.ari_window
            body = {"suggestedWindow": {"start": start, "end": end}}
            return httpx.Response(200, json=body, headers={"Retry-After": self.ari_retry_after})
        assert request.method == "POST", request
        message = json.loads(request.content)
        protected = json.loads(b64d(message["protected"]))
        assert protected["url"] == str(request.url)
        if protected.get("nonce") not in self.nonces:
            return problem("badNonce")
        self.nonces.discard(protected["nonce"])
        payload = json.loads(b64d(message["payload"])) if message["payload"] else None
        self.payloads.append((path, payload))
        return self._dispatch(path, payload)

    def directory(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "newNonce": f"{BASE}/nonce",
            "newAccount": f"{BASE}/new-acct",
            "newOrder": f"{BASE}/new-order",
            "revokeCert": f"{BASE}/revoke",
            "keyChange": f"{BASE}/key-change",
            "meta": {"termsOfService": f"{BASE}/tos"},
        }
        if self.with_ari:
            data["renewalInfo"] = f"{BASE}/ari"
        return data

    def _dispatch(self, path: str, payload: Any) -> httpx.Response:
        if path == "/new-acct":
            body = {"status": "valid", "contact": []}
            return httpx.Response(200, json=body, headers={"Location": f"{BASE}/acct/1"})
        if path == "/new-order":
            return self._new_order(payload)
        kind, oid, *rest = path.strip("/").split("/")
        order = self.orders[oid]
        if kind == "order" and rest == ["finalize"]:
            return self._finalize(order, payload)
        if kind == "order":
            assert payload is None
            return self._order_json(order)
        if kind == "authz":
            assert payload is None
            return httpx.Response(200, json=self._authz_json(order, int(rest[0])))
        if kind == "chall":
            assert payload == {}
            authz = order.authzs[int(rest[0])]
            authz.answered = rest[1]
            if not authz.spec.stall:
                authz.status = "invalid" if authz.spec.fail else "valid"
            return httpx.Response(200, json=self._challenge(order, int(rest[0]), rest[1]))
        if kind == "cert":
            return self._certificate(order, alternate=rest == ["alt"])
        raise AssertionError(f"unexpected POST {path}")

    def _new_order(self, payload: dict[str, Any]) -> httpx.Response:
        oid = str(len(self.orders) + 1)
        authzs = []
        for ident in payload["identifiers"]:
            value = ident["value"]
            spec = self.specs.get(value, AuthzSpec())
            bare = {"type": ident["type"], "value": value.removeprefix("*.")}
            authzs.append(_Authz(bare, value.startswith("*."), spec, spec.status))
        self.orders[oid] = _Order(oid, payload["identifiers"], payload, authzs)
        response = self._order_json(self.orders[oid])
        response.status_code = 201
        return response

    def _status(self, order: _Order) -> str:
        states = {a.status for a in order.authzs}
        if "invalid" in states:
            return "invalid"
        if "pending" in states:
            return "pending"
        return "valid" if order.certificate else "ready"

    def _order_json(self, order: _Order) -> httpx.Response:
        status = self._status(order)
        body: dict[str, Any] = {
            "status": status,
            "identifiers": order.identifiers,
            "authorizations": [f"{BASE}/authz/{order.oid}/{i}" for i in range(len(order.authzs))],
            "finalize": f"{BASE}/order/{order.oid}/finalize",
        }
        if "replaces" in order.payload:
            body["replaces"] = order.payload["replaces"]
        if status == "valid":
            body["certificate"] = f"{BASE}/cert/{order.oid}"
        headers = {"Location": f"{BASE}/order/{order.oid}", "Retry-After": "1"}
        return httpx.Response(200, json=body, headers=headers)

    def _challenge(self, order: _Order, index: int, kind: str) -> dict[str, Any]:
        authz = order.authzs[index]
        body: dict[str, Any] = {
            "type": kind,
            "url": f"{BASE}/chall/{order.oid}/{index}/{kind}",
            "status": authz.status if authz.answered == kind else "pending",
        }
        if authz.spec.token:
            body["token"] = f"tok-{order.oid}-{index}-{kind.replace('-', '')}"
        if authz.answered == kind and authz.status == "invalid":
            body["error"] = {"type": "urn:ietf:params:acme:error:connection", "detail": "refused"}
        return body

    def _authz_json(self, order: _Order, index: int) -> dict[str, Any]:
        authz = order.authzs[index]
        body: dict[str, Any] = {
            "identifier": authz.ident,
            "status": authz.status,
            "challenges": [self._challenge(order, index, t) for t in authz.spec.types],
        }
        if authz.wildcard:
            body["wildcard"] = True
        return body

    def _finalize(self, order: _Order, payload: dict[str, Any]) -> httpx.Response:
        if self._status(order) != "ready":
            return problem("orderNotReady", 403)
        csr = x509.load_der_x509_csr(b64d(payload["csr"]))
        sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        if set(sans.get_values_for_type(x509.DNSName)) & self.fail_names:
            return problem("rejectedIdentifier")
        order.certificate = self.issuer.leaf(csr.public_key(), list(sans))
        response = self._order_json(order)
        if self.finalize_valid:
            return response
        body = json.loads(response.content)
        body.update(status="processing")
        body.pop("certificate", None)
        return httpx.Response(200, json=body, headers=dict(response.headers))

    def _certificate(self, order: _Order, *, alternate: bool) -> httpx.Response:
        assert order.certificate is not None
        headers = {"Content-Type": "application/pem-certificate-chain"}
        if alternate:
            return httpx.Response(
                200, text=order.certificate + self.issuer.chain_b, headers=headers
            )
        headers["Link"] = f'<{BASE}/cert/{order.oid}/alt>;rel="alternate"'
        return httpx.Response(200, text=order.certificate + self.issuer.chain_a, headers=headers)


class RecordingSolver:
    """A Solver that logs its calls; ``fail_present`` / ``fail_settle`` make it raise."""

    def __init__(
        self,
        challenge_type: str,
        events: list[Event],
        *,
        fail_present: str | None = None,
        fail_settle: bool = False,
        fail_cleanup: bool = False,
    ) -> None:
        self._type = challenge_type
        self.events = events
        self.fail_present, self.fail_settle, self.fail_cleanup = (
            fail_present,
            fail_settle,
            fail_cleanup,
        )
        self.presented: list[ChallengeTask] = []
        self.settled: list[list[ChallengeTask]] = []
        self.cleaned: list[ChallengeTask] = []

    @property
    def challenge_type(self) -> str:
        return self._type

    async def present(self, task: ChallengeTask) -> None:
        self.events.append(("present", task.challenge_type, task.identifier.value))
        self.presented.append(task)
        if task.identifier.value == self.fail_present:
            raise SolverError(f"cannot publish for {task.identifier.value}")

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        self.events.append(("settle", self._type, sorted(t.identifier.value for t in tasks)))
        self.settled.append(list(tasks))
        if self.fail_settle:
            raise SolverError("not visible yet")

    async def cleanup(self, task: ChallengeTask) -> None:
        self.events.append(("cleanup", task.challenge_type, task.identifier.value))
        self.cleaned.append(task)
        if self.fail_cleanup:
            raise SolverError("cleanup broke")


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def ca() -> ScriptedCA:
    return ScriptedCA()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


ACCOUNT_KEY = ec.generate_private_key(ec.SECP256R1())
CERT_KEY = ec.generate_private_key(ec.SECP256R1())


def client_for(ca: ScriptedCA, fake_time: FakeTime) -> AcmeClient:
    return AcmeClient(
        f"{BASE}/dir",
        ACCOUNT_KEY,
        account_url=f"{BASE}/acct/1",
        transport=ca.transport,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        first_poll_delay=0,
    )


def request_for(*names: str, **kwargs: Any) -> IssuanceRequest:
    idents = [Identifier.dns(n) for n in names]
    return IssuanceRequest(identifiers=idents, csr_der=crypto.make_csr(CERT_KEY, idents), **kwargs)


def solvers(ca: ScriptedCA, *types: str, **kwargs: Any) -> dict[str, RecordingSolver]:
    return {t: RecordingSolver(t, ca.events, **kwargs) for t in types}


async def obtain(
    ca: ScriptedCA,
    fake_time: FakeTime,
    request: IssuanceRequest,
    by_type: dict[str, RecordingSolver],
) -> IssuanceResult:
    as_solvers: dict[str, Solver] = dict(by_type)
    async with client_for(ca, fake_time) as client:
        return await obtain_certificate(client, request, as_solvers)


def kinds(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e[0] == kind]


def index_of(events: list[Event], wanted: Event) -> int:
    return events.index(wanted)


# --- the happy path ----------------------------------------------------------------------


async def test_happy_path_orders_presents_settles_once_per_solver_and_downloads(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["b.example"] = AuthzSpec(types=("dns-01",))
    ca.specs["a.example"] = ca.specs["c.example"] = AuthzSpec(types=("dns-01", "http-01"))
    by_type = solvers(ca, "http-01", "dns-01")
    request = request_for(
        "a.example", "b.example", "c.example", preferred_challenges=("http-01", "dns-01")
    )

    result = await obtain(ca, fake_time, request, by_type)

    paths = ca.paths()
    assert paths[:2] == ["GET /dir", "POST /new-order"]
    assert sorted(paths[2:5]) == ["POST /authz/1/0", "POST /authz/1/1", "POST /authz/1/2"]
    assert sorted(paths[5:8]) == [
        "POST /chall/1/0/http-01",
        "POST /chall/1/1/dns-01",
        "POST /chall/1/2/http-01",
    ]
    assert paths[8:] == [
        "POST /order/1",
        "POST /order/1/finalize",
        "POST /order/1",
        "POST /cert/1",
    ]
    # Solvers: every present before any settle, one settle per solver, all before the CA is told.
    events = ca.events
    presents, settles = kinds(events, "present"), kinds(events, "settle")
    assert sorted(presents) == [
        ("present", "dns-01", "b.example"),
        ("present", "http-01", "a.example"),
        ("present", "http-01", "c.example"),
    ]
    assert sorted(settles) == [
        ("settle", "dns-01", ["b.example"]),
        ("settle", "http-01", ["a.example", "c.example"]),
    ]
    first_chall = min(i for i, e in enumerate(events) if e[1].startswith("POST /chall"))
    assert max(events.index(e) for e in presents) < min(events.index(e) for e in settles)
    assert max(events.index(e) for e in settles) < first_chall
    # Cleanup: every presented task, after the CA validated, before finalize.
    cleaned = [t for s in by_type.values() for t in s.cleaned]
    presented = [t for s in by_type.values() for t in s.presented]
    assert sorted(cleaned, key=str) == sorted(presented, key=str) and len(cleaned) == 3
    finalize_at = events.index(("ca", "POST /order/1/finalize"))
    assert all(first_chall < events.index(e) < finalize_at for e in kinds(events, "cleanup"))
    # The tasks carry the CA's token and this account's key authorization.
    for task in presented:
        assert task.token.startswith("tok-1-")
        assert task.key_authorization == f"{task.token}.{thumbprint(ACCOUNT_KEY)}"
    # The result is the CA's default chain for the CSR's key.
    leaf = x509.load_pem_x509_certificate(result.cert_pem.encode())
    assert crypto.key_matches_certificate(CERT_KEY, leaf)
    assert result.fullchain_pem.endswith(ca.issuer.chain_a)
    assert result.chain_pem == ca.issuer.chain_a
    assert result.order_url == f"{BASE}/order/1"
    assert result.replaced is None
    assert sorted(result.validated) == ["a.example", "b.example", "c.example"]
    assert "replaces" not in ca.order_payloads()[0]
    assert all(s == 1.0 or s == 0 for s in fake_time.sleeps)  # nothing really slept


async def test_cleanup_failure_does_not_hide_a_successful_order(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    by_type = solvers(ca, "http-01", fail_cleanup=True)
    result = await obtain(ca, fake_time, request_for("a.example", "b.example"), by_type)
    assert len(by_type["http-01"].cleaned) == 2  # the first failure did not stop the second
    assert crypto.key_matches_certificate(
        CERT_KEY, x509.load_pem_x509_certificate(result.cert_pem.encode())
    )


# --- choose_challenge ----------------------------------------------------------------------


def authz(types: Sequence[str], *, wildcard: bool = False) -> Authorization:
    raw: dict[str, Any] = {
        "identifier": {"type": "dns", "value": "example.com"},
        "status": "pending",
        "challenges": [
            {"type": t, "url": f"{BASE}/c/{t}", "status": "pending", "token": "tok"} for t in types
        ],
    }
    if wildcard:
        raw["wildcard"] = True
    return Authorization.from_json(raw, f"{BASE}/authz/x")


@pytest.mark.parametrize(
    ("offered", "available", "preferred", "chosen"),
    [
        (["http-01", "dns-01", "tls-alpn-01"], ["dns-01", "tls-alpn-01"],
         ["tls-alpn-01", "dns-01"], "tls-alpn-01"),
        (["http-01", "dns-01", "tls-alpn-01"], ["dns-01", "tls-alpn-01"],
         ["dns-01", "tls-alpn-01"], "dns-01"),
        # Preferred but no solver for it: the next preference wins.
        (["http-01", "dns-01"], ["dns-01"], ["http-01", "dns-01"], "dns-01"),
        # Preferred and solvable but not offered by the CA: the next preference wins.
        (["dns-01"], ["http-01", "dns-01"], ["http-01", "dns-01"], "dns-01"),
    ],
)  # fmt: skip
def test_choose_challenge_follows_the_users_order(
    offered: list[str], available: list[str], preferred: list[str], chosen: str
) -> None:
    events: list[Event] = []
    by_type: dict[str, Solver] = {t: RecordingSolver(t, events) for t in available}
    challenge = choose_challenge(authz(offered), by_type, preferred)
    assert challenge.type == chosen and challenge.url == f"{BASE}/c/{chosen}"


def test_choose_challenge_without_a_match_names_what_was_offered_and_available() -> None:
    by_type: dict[str, Solver] = {"http-01": RecordingSolver("http-01", [])}
    with pytest.raises(UsageError) as caught:
        choose_challenge(authz(["dns-01", "tls-alpn-01"]), by_type, ["http-01", "dns-01"])
    message = str(caught.value)
    assert "dns-01, tls-alpn-01" in message and "only: http-01" in message
    assert "example.com" in message and "Wildcard" not in message


def test_choose_challenge_for_a_wildcard_with_only_http_solvers_names_dns01() -> None:
    by_type: dict[str, Solver] = {"http-01": RecordingSolver("http-01", [])}
    with pytest.raises(UsageError, match="Wildcard names need dns-01"):
        choose_challenge(authz(["dns-01"], wildcard=True), by_type, ["http-01"])


async def test_wildcard_order_with_http_solvers_fails_before_presenting(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["*.example.com"] = AuthzSpec(types=("dns-01",))
    by_type = solvers(ca, "http-01")
    with pytest.raises(UsageError, match="dns-01"):
        await obtain(ca, fake_time, request_for("*.example.com"), by_type)
    assert by_type["http-01"].presented == [] and by_type["http-01"].cleaned == []
    assert not any(p.startswith("POST /chall") for p in ca.paths())


# --- authorizations already valid -----------------------------------------------------------


async def test_an_authorization_already_valid_is_not_presented(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["b.example"] = AuthzSpec(status="valid")
    by_type = solvers(ca, "http-01")
    result = await obtain(ca, fake_time, request_for("a.example", "b.example"), by_type)
    assert [t.identifier.value for t in by_type["http-01"].presented] == ["a.example"]
    assert [p for p in ca.paths() if p.startswith("POST /chall")] == ["POST /chall/1/0/http-01"]
    assert result.validated == ["a.example"]


async def test_all_authorizations_valid_skips_the_solvers_entirely(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["a.example"] = AuthzSpec(status="valid", types=("dns-01",))
    by_type = solvers(ca, "http-01")  # could not even answer dns-01: must not matter
    result = await obtain(ca, fake_time, request_for("a.example"), by_type)
    assert ca.events == [e for e in ca.events if e[0] == "ca"]  # no solver call at all
    assert result.validated == [] and result.fullchain_pem.endswith(ca.issuer.chain_a)
    assert ca.paths() == [
        "GET /dir",
        "POST /new-order",
        "POST /authz/1/0",
        "POST /order/1/finalize",
        "POST /order/1",
        "POST /cert/1",
    ]


# --- replaces (RFC 9773) ---------------------------------------------------------------


async def test_replaces_accepted_is_reported(ca: ScriptedCA, fake_time: FakeTime) -> None:
    request = request_for("a.example", replaces="aki.serial")
    result = await obtain(ca, fake_time, request, solvers(ca, "http-01"))
    assert result.replaced == "aki.serial"
    assert [p.get("replaces") for p in ca.order_payloads()] == ["aki.serial"]


def refusal(name: str, status: int, detail: str) -> httpx.Response:
    body = {"type": f"urn:ietf:params:acme:error:{name}", "detail": detail}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


@pytest.mark.parametrize(
    "answer",
    [
        problem("alreadyReplaced", 409),
        # Pebble 2.10 cannot find serials whose DER starts with a zero octet.
        refusal("serverInternal", 500, "could not find an order for the given certificate: x"),
        refusal("malformed", 400, "parsing ARI CertID failed: bad serial"),
        refusal(
            "malformed",
            400,
            "Could not validate ARI 'replaces' field :: identifiers in this order do not match "
            "any identifiers in the certificate being replaced",
        ),
    ],
    ids=["alreadyReplaced", "pebble-unknown-serial", "pebble-bad-certid", "boulder-disjoint"],
)
async def test_order_failing_with_replaces_is_retried_without_it(
    ca: ScriptedCA, fake_time: FakeTime, answer: httpx.Response
) -> None:
    ca.fault("/new-order", answer)
    request = request_for("a.example", replaces="aki.serial")
    result = await obtain(ca, fake_time, request, solvers(ca, "http-01"))
    payloads = ca.order_payloads()
    assert len(payloads) == 2
    assert payloads[0]["replaces"] == "aki.serial" and "replaces" not in payloads[1]
    assert result.replaced is None
    assert result.order_url == f"{BASE}/order/2"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (problem("rateLimited", 429), RateLimited),
        (problem("unauthorized", 403), Unauthorized),
        (problem("userActionRequired", 403), UserActionRequired),
        (problem("accountDoesNotExist"), AccountDoesNotExist),
        (problem("caa", 403), Caa),
        (problem("rejectedIdentifier"), RejectedIdentifier),
        (problem("badCSR"), BadCsr),
        (problem("malformed"), Malformed),
        (problem("serverInternal", 500), ServerInternal),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
async def test_real_errors_on_the_order_with_replaces_are_raised_without_a_second_order(
    ca: ScriptedCA, fake_time: FakeTime, answer: httpx.Response, error: type[ProblemError]
) -> None:
    ca.fault("/new-order", answer)
    by_type = solvers(ca, "http-01")
    with pytest.raises(error):
        await obtain(ca, fake_time, request_for("a.example", replaces="aki.serial"), by_type)
    assert len(ca.order_payloads()) == 1
    assert by_type["http-01"].presented == []


@pytest.mark.parametrize(
    "detail",
    [
        # Boulder (Let's Encrypt) and Pebble 2.10 word it the same way, as a 403 unauthorized.
        "Could not validate ARI 'replaces' field :: requester account did not request the "
        "certificate being replaced by this order",
        "requester account did not request the certificate being replaced by this order",
    ],
)
async def test_replaces_of_another_accounts_certificate_is_retried_once_without_it_with_a_note(
    ca: ScriptedCA, fake_time: FakeTime, detail: str
) -> None:
    refusal = httpx.Response(
        403,
        json={"type": "urn:ietf:params:acme:error:unauthorized", "detail": detail},
        headers={"Content-Type": "application/problem+json"},
    )
    ca.fault("/new-order", refusal)
    request = request_for("a.example", replaces="aki.serial")
    result = await obtain(ca, fake_time, request, solvers(ca, "http-01"))
    payloads = ca.order_payloads()
    assert [p.get("replaces") for p in payloads] == ["aki.serial", None]
    assert result.replaced is None
    assert len(result.notes) == 1 and "another ACME account" in result.notes[0]


async def test_order_failing_without_replaces_is_not_retried(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.fault("/new-order", problem("serverInternal", 500))
    with pytest.raises(ProblemError):
        await obtain(ca, fake_time, request_for("a.example"), solvers(ca, "http-01"))
    assert len(ca.order_payloads()) == 1


# --- failures and cleanup ---------------------------------------------------------------


async def test_validation_failure_carries_the_identifier_and_cleanup_ran(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["bad.example"] = AuthzSpec(fail=True)
    by_type = solvers(ca, "http-01")
    with pytest.raises(ValidationFailed) as caught:
        await obtain(ca, fake_time, request_for("good.example", "bad.example"), by_type)
    assert caught.value.identifier == Identifier.dns("bad.example")
    assert caught.value.problem is not None and caught.value.problem.detail == "refused"
    solver = by_type["http-01"]
    assert sorted(t.identifier.value for t in solver.cleaned) == ["bad.example", "good.example"]
    assert "POST /order/1/finalize" not in ca.paths()


async def test_present_failure_cleans_up_what_was_presented_and_never_tells_the_ca(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    by_type = solvers(ca, "http-01", fail_present="b.example")
    request = request_for("a.example", "b.example", "c.example")
    with pytest.raises(SolverError, match=r"b\.example"):
        await obtain(ca, fake_time, request, by_type)
    solver = by_type["http-01"]
    presented = [t.identifier.value for t in solver.presented]
    assert presented == ["a.example", "b.example"]  # c.example never reached
    assert [t.identifier.value for t in solver.cleaned] == presented
    assert solver.settled == []
    assert not any(p.startswith("POST /chall") for p in ca.paths())


async def test_settle_failure_cleans_up_and_never_tells_the_ca(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    by_type = solvers(ca, "dns-01", fail_settle=True)
    ca.specs["a.example"] = AuthzSpec(types=("dns-01",))
    with pytest.raises(SolverError, match="not visible"):
        await obtain(
            ca, fake_time, request_for("a.example", preferred_challenges=("dns-01",)), by_type
        )
    assert [t.identifier.value for t in by_type["dns-01"].cleaned] == ["a.example"]
    assert not any(p.startswith("POST /chall") for p in ca.paths())


async def test_an_order_that_never_gets_ready_times_out_and_cleans_up(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    from certsmith.acme import PollTimeout

    ca.specs["a.example"] = AuthzSpec(stall=True)
    by_type = solvers(ca, "http-01")
    start = fake_time.t
    with pytest.raises(PollTimeout):
        async with client_for(ca, fake_time) as client:
            await obtain_certificate(
                client, request_for("a.example"), dict(by_type), deadline_seconds=30
            )
    assert fake_time.t - start <= 30.0 + 1e-9
    assert [t.identifier.value for t in by_type["http-01"].cleaned] == ["a.example"]
    assert "POST /order/1/finalize" not in ca.paths()


async def test_a_challenge_without_a_token_is_a_protocol_violation(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["a.example"] = AuthzSpec(token=False)
    by_type = solvers(ca, "http-01")
    with pytest.raises(ProtocolViolation, match="no token"):
        await obtain(ca, fake_time, request_for("a.example"), by_type)
    assert by_type["http-01"].presented == []
    assert not any(p.startswith("POST /chall") for p in ca.paths())


async def test_a_hostile_token_is_refused_before_anything_is_presented(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    def hostile(request: httpx.Request) -> httpx.Response:
        body = {
            "identifier": {"type": "dns", "value": "a.example"},
            "status": "pending",
            "challenges": [
                {"type": "http-01", "url": f"{BASE}/chall/1/0/http-01",
                 "status": "pending", "token": "../../etc/passwd"},
            ],
        }  # fmt: skip
        return httpx.Response(200, json=body)

    ca.fault("/authz/1/0", hostile)
    by_type = solvers(ca, "http-01")
    with pytest.raises(AcmeError, match="base64url"):
        await obtain(ca, fake_time, request_for("a.example"), by_type)
    assert by_type["http-01"].presented == []


async def test_an_authorization_for_a_name_not_ordered_is_refused(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    def foreign(request: httpx.Request) -> httpx.Response:
        body = {
            "identifier": {"type": "dns", "value": "victim.example"},
            "status": "pending",
            "challenges": [
                {"type": "http-01", "url": f"{BASE}/chall/1/0/http-01",
                 "status": "pending", "token": "abcDEF123_-"},
            ],
        }  # fmt: skip
        return httpx.Response(200, json=body)

    ca.fault("/authz/1/0", foreign)
    by_type = solvers(ca, "http-01")
    with pytest.raises(ProtocolViolation, match="did not ask for"):
        await obtain(ca, fake_time, request_for("a.example"), by_type)
    assert by_type["http-01"].presented == []


async def test_finalize_refused_after_validation_raises(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.fail_names = {"a.example"}
    by_type = solvers(ca, "http-01")
    with pytest.raises(RejectedIdentifier, match="scripted rejectedIdentifier"):
        await obtain(ca, fake_time, request_for("a.example"), by_type)
    assert len(by_type["http-01"].cleaned) == 1  # validation was done and cleaned up already


async def test_valid_order_without_certificate_url_is_an_error(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    def no_cert(request: httpx.Request) -> httpx.Response:
        oid = "1"
        body = {
            "status": "valid",
            "identifiers": [{"type": "dns", "value": "a.example"}],
            "authorizations": [f"{BASE}/authz/{oid}/0"],
            "finalize": f"{BASE}/order/{oid}/finalize",
        }
        return httpx.Response(200, json=body)

    ca.specs["a.example"] = AuthzSpec(status="valid")
    ca.fault("/order/1/finalize", no_cert)
    with pytest.raises(CertsmithError, match="no certificate URL"):
        await obtain(ca, fake_time, request_for("a.example"), solvers(ca, "http-01"))


# --- preferred chain ----------------------------------------------------------------------


async def test_preferred_chain_picks_the_alternate_by_issuer_cn(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    request = request_for("a.example", preferred_chain="Root B")
    result = await obtain(ca, fake_time, request, solvers(ca, "http-01"))
    assert result.chain_pem == ca.issuer.chain_b
    assert ca.paths()[-2:] == ["POST /cert/1", "POST /cert/1/alt"]


async def test_without_a_preferred_chain_no_alternate_is_fetched(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    result = await obtain(ca, fake_time, request_for("a.example"), solvers(ca, "http-01"))
    assert result.chain_pem == ca.issuer.chain_a
    assert "POST /cert/1/alt" not in ca.paths()


async def test_an_unknown_preferred_chain_falls_back_to_the_default(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    request = request_for("a.example", preferred_chain="Nobody's Root")
    result = await obtain(ca, fake_time, request, solvers(ca, "http-01"))
    assert result.chain_pem == ca.issuer.chain_a


async def test_issuance_timeout_bounds_the_wait_after_finalize(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    from certsmith.acme import PollTimeout

    def processing(request: httpx.Request) -> httpx.Response:
        body = {
            "status": "processing",
            "identifiers": [{"type": "dns", "value": "a.example"}],
            "authorizations": [f"{BASE}/authz/1/0"],
            "finalize": f"{BASE}/order/1/finalize",
        }
        return httpx.Response(200, json=body, headers={"Retry-After": "1"})

    ca.specs["a.example"] = AuthzSpec(status="valid")
    ca.fault("/order/1", *([processing] * 400))
    start = fake_time.t
    with pytest.raises(PollTimeout):
        async with client_for(ca, fake_time) as client:
            await obtain_certificate(
                client, request_for("a.example"), dict(solvers(ca, "http-01")),
                issuance_timeout=7,
            )  # fmt: skip
    assert 7.0 - 1e-9 <= fake_time.t - start <= 8.0
    assert "POST /order/1/finalize" in ca.paths()
