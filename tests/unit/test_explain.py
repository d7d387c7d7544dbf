"""Explanations of every error (certsmith.cli.explain), and the message catalogue's completeness."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import certsmith
from certsmith.acme.errors import (
    PollTimeout,
    ProblemError,
    ProtocolViolation,
    TransportError,
    ValidationFailed,
    problem_from_json,
)
from certsmith.acme.identifier import Identifier
from certsmith.cli.explain import ERROR_KEYS, Explanation, error_key, explain, problem_suffix
from certsmith.errors import (
    CertsmithError,
    LineageCorrupt,
    LockHeld,
    PreflightFailed,
    SolverError,
    StorageError,
    UsageError,
)
from certsmith.hostport import HostPortError
from certsmith.preflight.messages import Catalogue, load_templates, placeholders, select_locale

URN = "urn:ietf:params:acme:error:"
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
LOCALE_DIR = Path(certsmith.__file__).parent / "locale"

PROBLEM_TYPES = [
    "accountDoesNotExist", "alreadyReplaced", "alreadyRevoked", "badCSR", "badNonce",
    "badPublicKey", "badRevocationReason", "badSignatureAlgorithm", "caa", "compound",
    "connection", "dns", "externalAccountRequired", "incorrectResponse", "invalidContact",
    "invalidProfile", "malformed", "orderNotReady", "rateLimited", "rejectedIdentifier",
    "serverInternal", "tls", "unauthorized", "unsupportedContact", "unsupportedIdentifier",
    "userActionRequired",
]  # fmt: skip


@pytest.fixture(autouse=True)
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    """The assertions read English messages, whatever the developer's locale."""
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


class FakeProblem(Exception):
    """Shaped like certsmith.acme.errors.ProblemError, without depending on it."""

    def __init__(self, suffix: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail)
        self.type = URN + suffix
        self.detail = detail
        self.subproblems: list[Any] = extra.pop("subproblems", [])
        self.status = extra.pop("status", 400)
        self.retry_after = extra.pop("retry_after", None)
        self.identifier = extra.pop("identifier", None)
        for key, value in extra.items():
            setattr(self, key, value)


@dataclass
class Ident:
    type: str
    value: str


def check(exp: Explanation) -> None:
    assert exp.sentence.strip() and exp.next_step.strip()
    assert "{" not in exp.sentence and "{" not in exp.next_step, exp
    assert exp.sentence != exp.next_step


@pytest.mark.parametrize("suffix", PROBLEM_TYPES)
@pytest.mark.parametrize("locale", ["en", "ko"])
def test_every_problem_type_has_sentence_and_next_step(suffix: str, locale: str) -> None:
    error = FakeProblem(suffix, "the CA's detail", identifier=Ident("dns", "example.com"))
    exp = explain(error, catalogue=Catalogue(locale), now=lambda: NOW)
    check(exp)
    assert exp.detail == "the CA's detail"
    if suffix not in ("rateLimited", "userActionRequired", "compound"):
        assert exp.key == f"problem.{suffix}"


def test_caa_names_the_identifier_and_the_command() -> None:
    exp = explain(
        FakeProblem(
            "caa", "CAA record for x prevents issuance", identifier=Ident("dns", "x.example")
        )
    )
    assert "x.example" in exp.sentence
    assert "certsmith caa-check x.example" in exp.next_step


@pytest.mark.parametrize(
    ("retry_after", "detail", "expected"),
    [
        (dt.datetime(2026, 1, 3, 10, 0, tzinfo=dt.UTC), "", "2026-01-03 10:00 UTC"),
        (3600, "", "2026-01-02 04:04 UTC"),
        (
            None,
            "too many certificates: retry after 2026-01-05 07:08:09 UTC",
            "2026-01-05 07:08 UTC",
        ),
    ],
)
def test_rate_limit_says_when_it_lifts(retry_after: Any, detail: str, expected: str) -> None:
    exp = explain(FakeProblem("rateLimited", detail, retry_after=retry_after), now=lambda: NOW)
    assert expected in exp.sentence
    check(exp)


def test_rate_limit_without_time() -> None:
    exp = explain(FakeProblem("rateLimited", "too many"), now=lambda: NOW)
    assert exp.key == "problem.rateLimited.unknown"


def test_user_action_required_gives_the_link() -> None:
    tos = "https://letsencrypt.org/documents/LE-SA-v1.5.pdf"
    exp = explain(FakeProblem("userActionRequired", "agree to new terms", instance=tos))
    assert tos in exp.sentence and tos in exp.next_step
    in_detail = explain(FakeProblem("userActionRequired", f"see {tos} first"))
    assert tos in in_detail.next_step
    nourl = explain(FakeProblem("userActionRequired", "do something"))
    assert nourl.key == "problem.userActionRequired.nourl"


def test_secondary_validation_failure() -> None:
    detail = (
        "During secondary validation: 203.0.113.7: Fetching http://example.com/.well-known/"
        "acme-challenge/x: Timeout during connect (likely firewall problem)"
    )
    exp = explain(FakeProblem("connection", detail, identifier=Ident("dns", "example.com")))
    assert exp.key == "problem.secondary"
    assert "vantage" in exp.sentence and "geo-blocking" in exp.next_step
    assert exp.detail == detail


def test_paused_identifier_gives_unpause_url() -> None:
    url = "https://portal.letsencrypt.org/sfe/v1/unpause?jwt=abc.def"
    detail = (
        "Your account is temporarily prevented from requesting certificates for example.com "
        f"and possibly others. Please visit: {url}"
    )
    exp = explain(
        FakeProblem("rateLimited", detail + " (paused)", identifier=Ident("dns", "example.com"))
    )
    assert exp.key == "problem.paused"
    assert url in exp.next_step


def test_compound_has_one_line_per_subproblem() -> None:
    subs = [
        {
            "type": URN + "caa",
            "detail": "CAA forbids",
            "identifier": {"type": "dns", "value": "a.example"},
        },
        FakeProblem("dns", "NXDOMAIN", identifier=Ident("dns", "b.example")),
        {"type": "urn:example:custom", "detail": "?"},
    ]
    exp = explain(FakeProblem("compound", "Error creating new order", subproblems=subs))
    assert "3" in exp.sentence
    lines = exp.detail.splitlines()
    assert lines[0] == "Error creating new order"
    assert lines[1].startswith("a.example: ") and "CAA" in lines[1]
    assert lines[2].startswith("b.example: ")
    assert len(lines) == 4
    check(exp)


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (TransportError("connect failed"), "error.TransportError"),
        (ProtocolViolation("no Replay-Nonce"), "error.ProtocolViolation"),
        (PollTimeout("deadline"), "error.PollTimeout"),
        (UsageError("--domain is required"), "error.UsageError"),
        (LockHeld("held by pid 12"), "error.LockHeld"),
        (LineageCorrupt("cert.pem missing"), "error.LineageCorrupt"),
        (StorageError("disk full"), "error.StorageError"),
        (SolverError("webroot not writable"), "error.SolverError"),
        (PreflightFailed("CAA forbids"), "error.PreflightFailed"),
        (CertsmithError("something"), "error.CertsmithError"),
        (PermissionError("port 80"), "error.PermissionError"),
        (ConnectionRefusedError("refused"), "error.ConnectionError"),
        (FileNotFoundError("x"), "error.OSError"),
        (TimeoutError(), "error.TimeoutError"),
        (ValueError("boom"), "error.unknown"),
    ],
)
def test_non_problem_errors(error: BaseException, key: str) -> None:
    exp = explain(error)
    assert exp.key == key
    check(exp)
    assert exp.detail == str(error)


def test_validation_failed_explains_the_inner_problem() -> None:
    inner = problem_from_json(
        {
            "type": URN + "incorrectResponse",
            "detail": "got 'nginx welcome'",
            "identifier": {"type": "dns", "value": "w.example"},
        }
    )
    exp = explain(ValidationFailed(Identifier.dns("w.example"), inner))
    assert exp.key == "problem.incorrectResponse"
    assert "w.example" in exp.sentence
    # A challenge's error names no identifier; the ValidationFailed around it does.
    bare = problem_from_json({"type": URN + "connection", "detail": "Timeout during connect"})
    from_challenge = explain(ValidationFailed(Identifier.dns("c.example"), bare))
    assert from_challenge.key == "problem.connection" and "c.example" in from_challenge.sentence
    plain = explain(ValidationFailed(Identifier.dns("w.example"), None))
    assert plain.key == "error.ValidationFailed" and "w.example" in plain.sentence


class LockHeldByCertbot(LockHeld):
    """A subclass no catalogue entry names."""


# Named like certsmith.errors.UsageError, but not that class.
Impostor = type("UsageError", (Exception,), {})


def test_a_subclass_gets_its_nearest_catalogued_ancestors_entry() -> None:
    assert error_key(HostPortError("bad port")) == "error.UsageError"
    assert error_key(LockHeldByCertbot("pid 7")) == "error.LockHeld"
    assert error_key(ConnectionResetError()) == "error.ConnectionError"
    assert explain(LockHeldByCertbot("pid 7")).key == "error.LockHeld"
    not_acme = explain(ProblemError("about:blank", "odd"))  # a problem type outside RFC 8555's
    assert not_acme.key == "error.AcmeError" and not_acme.detail == "odd"


def test_errors_are_matched_by_class_not_by_name() -> None:
    assert Impostor.__name__ == UsageError.__name__
    assert error_key(Impostor("same name, other class")) is None
    assert explain(Impostor("same name, other class")).key == "error.unknown"


def test_every_error_entry_of_the_catalogue_belongs_to_a_class() -> None:
    en = load_templates("en")
    for cls, key in ERROR_KEYS.items():
        assert key in en and key + ".next" in en, cls
    sentences = {k for k in en if k.startswith("error.") and not k.endswith(".next")}
    assert sentences - {"error.unknown"} == set(ERROR_KEYS.values())


class Weird:
    @property
    def type(self) -> str:
        raise RuntimeError("hostile attribute")


@pytest.mark.parametrize(
    "error", [Weird(), object(), None, {"type": 7}, FakeProblem("neverHeardOf", "x")]
)
def test_never_raises(error: Any) -> None:
    check(explain(error))


def test_unknown_problem_type_falls_back() -> None:
    exp = explain(FakeProblem("neverHeardOf", "x"))
    assert exp.key == "problem.other" and "neverHeardOf" in exp.sentence


def test_problem_suffix() -> None:
    assert problem_suffix({"type": URN + "caa"}) == "caa"
    assert problem_suffix({"type": "urn:acme:error:dns"}) == "dns"
    assert problem_suffix({"type": URN}) is None
    assert problem_suffix({"type": "about:blank"}) is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "ko_KR.UTF-8"}, "ko"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"),
        ({"LC_MESSAGES": "ko", "LANG": "en_GB.UTF-8"}, "ko"),
        ({"LC_ALL": "", "LANG": "ko_KR"}, "ko"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({}, "en"),
    ],
)
def test_locale_selection(env: dict[str, str], expected: str) -> None:
    assert select_locale(env) == expected
    assert Catalogue(environ=env).locale == expected


def test_korean_explanation() -> None:
    exp = explain(
        FakeProblem("dns", "x", identifier=Ident("dns", "a.example")), catalogue=Catalogue("ko")
    )
    assert "a.example" in exp.sentence and "DNS" in exp.sentence
    assert exp.sentence != explain(FakeProblem("dns", "x")).sentence


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    en, ko = load_templates("en"), load_templates("ko")
    assert set(en) == set(ko), set(en) ^ set(ko)
    for key in en:
        assert placeholders(en[key]) == placeholders(ko[key]), key
        assert ko[key].strip(), key


def test_catalogue_files_are_plain_json_objects() -> None:
    for path in sorted(LOCALE_DIR.glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        assert isinstance(data, dict) and all(isinstance(v, str) for v in data.values())


def test_every_sentence_key_has_a_next_step() -> None:
    en = load_templates("en")
    for key in en:
        if key.startswith(("problem.", "error.")) and not key.endswith((".next", ".line")):
            assert key + ".next" in en, key


def test_catalogue_fills_and_keeps_missing_placeholders() -> None:
    cat = Catalogue("en")
    assert "example.com" in cat.get("problem.caa", identifier="example.com")
    assert "{identifier}" in cat.get("problem.caa")
    assert cat.get("no.such.key") == "no.such.key"
    with pytest.raises(ValueError):
        Catalogue("xx")


@pytest.mark.parametrize("suffix", PROBLEM_TYPES)
def test_real_problem_errors_from_the_acme_layer(suffix: str) -> None:
    from certsmith.acme.errors import ValidationFailed as RealValidationFailed, problem_from_json
    from certsmith.acme.identifier import Identifier

    doc = {"type": URN + suffix, "detail": "d", "identifier": {"type": "dns", "value": "r.example"}}
    error = problem_from_json(doc, status=403, retry_after=60.0)
    exp = explain(error, now=lambda: NOW)
    check(exp)
    if suffix not in ("rateLimited", "userActionRequired", "compound"):
        assert exp.key == f"problem.{suffix}"
    wrapped = explain(RealValidationFailed(Identifier.dns("r.example"), error), now=lambda: NOW)
    assert wrapped.key == exp.key


def test_secondary_server_internal_is_the_cas_problem() -> None:
    detail = "During secondary validation: Remote PerformValidation RPC failed"
    assert explain(FakeProblem("serverInternal", detail)).key == "problem.serverInternal"
