"""Every RFC 8555 problem a CA can answer, as a person sees it: the real issuance code against a
scripted CA (httpx.MockTransport), the error rendered by the CLI's Console. One sentence, one
"What to do" line, words specific to the problem, never a traceback."""

from __future__ import annotations

import datetime as dt
import email.utils
import io
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith import crypto
from certsmith.acme import AcmeClient, Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.cli.console import Console
from certsmith.issuance import IssuanceRequest, obtain_certificate
from certsmith.preflight.messages import Catalogue

BASE = "https://ca.test"
URN = "urn:ietf:params:acme:error:"
NAME = "www.example.test"


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """The assertions read English messages, whatever the developer's locale."""
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@dataclass
class Scripted:
    """Where the CA answers with a problem: ``stage`` is "order", "challenge" or "finalize"."""

    stage: str
    body: dict[str, Any]
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedCA:
    """Just enough of RFC 8555 for one order of NAME; the scripted problem comes at its stage."""

    def __init__(self, script: Scripted) -> None:
        self.script = script
        self.answered = False
        self.hits: dict[str, int] = {}
        self._nonce = 0
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.hits[path] = self.hits.get(path, 0) + 1
        response = self._route(request.method, path)
        self._nonce += 1
        response.headers["Replay-Nonce"] = f"nonce{self._nonce}"
        return response

    def _problem(self) -> httpx.Response:
        headers = {"Content-Type": "application/problem+json", **self.script.headers}
        return httpx.Response(self.script.status, json=self.script.body, headers=headers)

    def _route(self, method: str, path: str) -> httpx.Response:
        stage = self.script.stage
        if method == "GET" and path == "/dir":
            names = ["newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"]
            paths = ["/nonce", "/new-acct", "/new-order", "/revoke", "/key-change"]
            data: dict[str, Any] = {n: BASE + p for n, p in zip(names, paths, strict=True)}
            data["meta"] = {"termsOfService": f"{BASE}/tos"}
            return httpx.Response(200, json=data)
        if method == "HEAD" and path == "/nonce":
            return httpx.Response(200, headers={"Cache-Control": "no-store"})
        if path == "/new-order":
            return self._problem() if stage == "order" else self._order(201)
        if path == "/order/1":
            return self._order(200)
        if path == "/authz/1":
            return httpx.Response(200, json=self._authz())
        if path == "/chall/1":
            self.answered = True
            return httpx.Response(200, json=self._challenge())
        if path == "/order/1/finalize":
            return self._problem()
        raise AssertionError(f"unexpected {method} {path}")

    def _failed(self) -> bool:
        return self.answered and self.script.stage == "challenge"

    def _order(self, status: int) -> httpx.Response:
        state = "invalid" if self._failed() else ("ready" if self.answered else "pending")
        body = {
            "status": state,
            "identifiers": [{"type": "dns", "value": NAME}],
            "authorizations": [f"{BASE}/authz/1"],
            "finalize": f"{BASE}/order/1/finalize",
        }
        return httpx.Response(status, json=body, headers={"Location": f"{BASE}/order/1"})

    def _challenge(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "http-01",
            "url": f"{BASE}/chall/1",
            "token": "tok-1_abcdefghijklmnopqrstuvwxyz012345",
            "status": "invalid" if self._failed() else ("valid" if self.answered else "pending"),
        }
        if self._failed():
            body["error"] = self.script.body
        return body

    def _authz(self) -> dict[str, Any]:
        state = "invalid" if self._failed() else ("valid" if self.answered else "pending")
        return {
            "identifier": {"type": "dns", "value": NAME},
            "status": state,
            "challenges": [self._challenge()],
        }


class NullSolver:
    """Pretends to publish http-01 responses; the scripted CA decides the outcome."""

    challenge_type = "http-01"

    async def present(self, task: ChallengeTask) -> None:
        pass

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        pass

    async def cleanup(self, task: ChallengeTask) -> None:
        pass


async def _no_sleep(seconds: float) -> None:
    pass


async def order_error(script: Scripted) -> tuple[BaseException, ScriptedCA]:
    """Run one real order against the scripted CA; return the error it ends with."""
    ca = ScriptedCA(script)
    key = ec.generate_private_key(ec.SECP256R1())
    ident = Identifier("dns", NAME)
    csr = crypto.make_csr(key, [ident])
    request = IssuanceRequest(identifiers=[ident], csr_der=csr)
    client = AcmeClient(
        f"{BASE}/dir",
        key,
        account_url=f"{BASE}/acct/1",
        transport=ca.transport,
        sleep=_no_sleep,
        first_poll_delay=0.0,
    )
    async with client:
        with pytest.raises(Exception) as caught:
            await obtain_certificate(client, request, {"http-01": NullSolver()})
    return caught.value, ca


def render(error: BaseException, catalogue: Catalogue | None = None) -> tuple[str, list[str]]:
    """What Console.explain writes: (the sentence line, every line of stderr)."""
    out, err = io.StringIO(), io.StringIO()
    Console(out=out, err=err, catalogue=catalogue).explain(error)
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert "Traceback" not in err.getvalue()
    assert lines and lines[0].startswith("certsmith: "), lines
    return lines[0], lines


def what_to_do(lines: list[str], label: str = "What to do: ") -> str:
    found = [line.strip() for line in lines if line.strip().startswith(label)]
    assert len(found) == 1, lines
    return found[0].removeprefix(label)


def problem(kind: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"type": URN + kind, "detail": detail, **extra}


def case(stage: str, kind: str, detail: str, said: list[str], todo: list[str], id: str = "") -> Any:
    """One parametrized case: the CA answers ``stage`` with a ``kind`` problem."""
    return pytest.param(Scripted(stage, problem(kind, detail)), said, todo, id=id or kind)


SECONDARY = (
    "During secondary validation: 203.0.113.7: Fetching "
    "http://www.example.test/.well-known/acme-challenge/x: Timeout"
)
UNPAUSE = "https://portal.ca.test/sfe/v1/unpause?jwt=abc"
PAUSED = (
    "Your account is temporarily prevented from requesting certificates for www.example.test "
    f"and possibly others. Please visit: {UNPAUSE}"
)

# The CA answers; the sentence must carry the first words, the "What to do" line the second.
CASES = [
    case("challenge", "caa", "CAA record for www.example.test prevents issuance",
         ["CAA", NAME], ["caa-check", NAME]),
    case("challenge", "dns", "DNS problem: NXDOMAIN looking up A for www.example.test",
         ["DNS", NAME], ["name servers"]),
    case("challenge", "connection", "Fetching http://www.example.test/: Connection refused",
         ["connect", NAME], ["ports 80 and 443"]),
    case("challenge", "unauthorized", "Invalid response from http://www.example.test/: 404",
         ["proof of control", NAME], ["challenge response"]),
    case("challenge", "incorrectResponse", "key authorization mismatch",
         ["wrong content", NAME], ["proxy", f"certsmith doctor -d {NAME}"]),
    case("challenge", "tls", "remote error: tls: handshake failure", ["TLS", NAME], ["acme-tls/1"]),
    case("order", "rejectedIdentifier", 'Cannot issue for "www.example.test": forbidden by policy',
         ["policy", NAME], ["Remove this name"]),
    case("finalize", "badCSR", "key too small", ["certificate signing request"], ["key type"]),
    case("order", "malformed", "Request payload did not parse as JSON", ["malformed"], ["report"]),
    case("challenge", "unauthorized", SECONDARY, ["vantage points", NAME], ["every country"],
         id="secondary-validation"),
    case("order", "rateLimited", PAUSED, ["paused", NAME], [UNPAUSE], id="paused"),
]  # fmt: skip


@pytest.mark.parametrize(("script", "said", "todo"), CASES)
async def test_problem_is_explained(script: Scripted, said: list[str], todo: list[str]) -> None:
    error, _ = await order_error(script)
    sentence, lines = render(error)
    step = what_to_do(lines)
    for word in said:
        assert word in sentence, sentence
    for word in todo:
        assert word in step, step
    assert script.body["detail"] in "\n".join(lines)  # the CA's own words are shown too


async def test_rate_limit_retry_after_seconds_names_when_it_lifts() -> None:
    script = Scripted("order", problem("rateLimited", "too many certificates"), 429,
                      {"Retry-After": "7200"})  # fmt: skip
    before = dt.datetime.now(dt.UTC)
    error, _ = await order_error(script)
    sentence, lines = render(error)
    expected = {
        (before + dt.timedelta(seconds=7200 + s)).strftime("%Y-%m-%d %H:%M UTC") for s in (0, 60)
    }
    assert any(when in sentence for when in expected), (sentence, expected)
    assert "rate limit" in sentence
    assert "staging" in what_to_do(lines)


async def test_rate_limit_retry_after_http_date_names_when_it_lifts() -> None:
    lifts = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)).replace(second=30, microsecond=0)
    header = email.utils.format_datetime(lifts, usegmt=True)
    script = Scripted("order", problem("rateLimited", "too many new orders"), 429,
                      {"Retry-After": header})  # fmt: skip
    error, _ = await order_error(script)
    sentence, _ = render(error)
    assert lifts.strftime("%Y-%m-%d %H:%M UTC") in sentence, sentence


async def test_user_action_required_url_in_detail_is_the_link() -> None:
    url = "https://ca.test/terms/v2"
    body = problem("userActionRequired", f"Terms of service have changed: see {url}")
    error, _ = await order_error(Scripted("order", body, 403))
    sentence, lines = render(error)
    assert url in sentence, sentence
    assert url in what_to_do(lines)


async def test_rate_limit_without_retry_after_says_it_is_unknown() -> None:
    error, _ = await order_error(Scripted("order", problem("rateLimited", "slow down"), 429))
    sentence, lines = render(error)
    assert "rate limit" in sentence
    assert "did not say" in what_to_do(lines)


# userActionRequired: the link comes from the problem's "instance" or from the response's
# Link: rel="terms-of-service" header (RFC 8555 section 7.3.3).


async def test_user_action_required_instance_url_is_the_link() -> None:
    url = "https://ca.test/terms/v2"
    body = problem("userActionRequired", "Terms of service have changed", instance=url)
    error, _ = await order_error(Scripted("order", body, 403))
    sentence, lines = render(error)
    assert url in sentence, sentence
    assert url in what_to_do(lines)


async def test_user_action_required_terms_link_header_is_the_link() -> None:
    url = "https://ca.test/terms/v3"
    body = problem("userActionRequired", "Terms of service have changed")
    headers = {"Link": f'<{url}>;rel="terms-of-service"'}
    error, _ = await order_error(Scripted("order", body, 403, headers))
    sentence, lines = render(error)
    assert url in sentence, sentence
    assert url in what_to_do(lines)


async def test_compound_lists_each_subproblem() -> None:
    subs = [
        problem("caa", "CAA forbids", identifier={"type": "dns", "value": "a.example.test"}),
        problem("rejectedIdentifier", "policy", identifier={"type": "dns", "value": "b.test"}),
    ]  # fmt: skip
    body = problem("compound", "Cannot issue for 2 identifiers", subproblems=subs)
    error, _ = await order_error(Scripted("order", body))
    sentence, lines = render(error)
    assert "2 problems" in sentence
    assert what_to_do(lines)
    text = "\n".join(lines)
    assert "a.example.test: A CAA record" in text
    assert "b.test: The CA will not issue" in text


async def test_server_internal_500_repeatedly() -> None:
    script = Scripted("order", problem("serverInternal", "the database is down"), 500)
    error, ca = await order_error(script)
    sentence, lines = render(error)
    assert "internal error" in sentence
    assert "status page" in what_to_do(lines)
    assert 1 <= ca.hits["/new-order"] <= 5  # retried a bounded number of times at most


@pytest.mark.parametrize("kind", ["caa", "rateLimited"])
async def test_korean_catalogue(kind: str) -> None:
    headers = {"Retry-After": "60"} if kind == "rateLimited" else {}
    stage = "challenge" if kind == "caa" else "order"
    error, _ = await order_error(Scripted(stage, problem(kind, "scripted"), 400, headers))
    korean = Catalogue(locale="ko")
    sentence, lines = render(error, korean)
    english, _ = render(error)
    assert sentence != english
    assert any("\uac00" <= ch <= "\ud7a3" for ch in sentence), sentence  # Hangul syllables
    step = what_to_do(lines, korean.get("console.what_to_do") + ": ")
    assert any("\uac00" <= ch <= "\ud7a3" for ch in step), step
    if kind == "caa":
        assert "CAA" in sentence and NAME in sentence
        assert f"certsmith caa-check {NAME}" in step
