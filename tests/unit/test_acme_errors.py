"""The ACME error tree, the problem-type registry and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from certsmith.acme import (
    PROBLEM_TYPES,
    AcmeError,
    AlreadyReplaced,
    BadNonce,
    PollTimeout,
    ProblemError,
    RateLimited,
    RejectedIdentifier,
    ServerInternal,
    TransportError,
    UserActionRequired,
    ValidationFailed,
    parse_retry_after,
    problem_from_json,
)
from certsmith.acme.identifier import Identifier
from certsmith.errors import CertsmithError

RFC8555_TYPES = [
    "accountDoesNotExist",
    "alreadyRevoked",
    "badCSR",
    "badNonce",
    "badPublicKey",
    "badRevocationReason",
    "badSignatureAlgorithm",
    "caa",
    "compound",
    "connection",
    "dns",
    "externalAccountRequired",
    "incorrectResponse",
    "invalidContact",
    "malformed",
    "orderNotReady",
    "rateLimited",
    "rejectedIdentifier",
    "serverInternal",
    "tls",
    "unauthorized",
    "unsupportedContact",
    "unsupportedIdentifier",
    "userActionRequired",
    "alreadyReplaced",
]


@pytest.mark.parametrize("name", RFC8555_TYPES)
def test_every_problem_type_has_its_own_class(name: str) -> None:
    urn = "urn:ietf:params:acme:error:" + name
    error = problem_from_json({"type": urn, "detail": "why"}, status=400)
    assert type(error) is PROBLEM_TYPES[urn]
    assert type(error) is not ProblemError
    assert isinstance(error, AcmeError) and isinstance(error, CertsmithError)
    assert error.type == urn and error.detail == "why" and error.status == 400
    assert type(error).__name__.lower() == name.lower()
    assert error.retryable is (name in {"badNonce", "rateLimited", "serverInternal"})


def test_retryability_is_a_property_of_the_error() -> None:
    assert BadNonce("t").retryable and RateLimited("t").retryable and ServerInternal("t").retryable
    assert not UserActionRequired("t").retryable
    assert TransportError("down").retryable
    assert not AlreadyReplaced("t").retryable


def test_unknown_type_and_odd_documents() -> None:
    unknown = problem_from_json({"type": "urn:example:weird", "detail": 5}, status=400)
    assert type(unknown) is ProblemError and unknown.detail == "" and not unknown.retryable
    assert problem_from_json({"detail": "x"}, status=502).retryable  # unknown 5xx: try later
    assert problem_from_json(["not", "a", "dict"]).type == "about:blank"


def test_subproblems_and_identifiers() -> None:
    doc = {
        "type": "urn:ietf:params:acme:error:compound",
        "detail": "several",
        "subproblems": [
            {
                "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                "detail": "no",
                "identifier": {"type": "dns", "value": "bad.example"},
            },
            {
                "type": "urn:ietf:params:acme:error:caa",
                "identifier": {"type": "x", "value": 1},
                "subproblems": [{"type": "urn:ietf:params:acme:error:dns"}],
            },
        ],
    }
    error = problem_from_json(doc, status=403, retry_after=3.0)
    assert error.retry_after == 3.0
    first, second = error.subproblems
    assert isinstance(first, RejectedIdentifier)
    assert first.identifier == Identifier.dns("bad.example")
    assert second.identifier is None  # an unreadable identifier is dropped, not fatal
    assert second.subproblems == ()  # subproblems are one level deep


def test_validation_failed_and_poll_timeout() -> None:
    problem = problem_from_json({"type": "urn:ietf:params:acme:error:dns", "detail": "NXDOMAIN"})
    error = ValidationFailed(Identifier.dns("a.example"), problem)
    assert isinstance(error, AcmeError)
    assert "a.example" in str(error) and "NXDOMAIN" in str(error)
    assert error.problem is problem
    assert isinstance(PollTimeout("late"), AcmeError)


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Fri, 02 Jan 2026 03:05:05 GMT", 60.0),
        ("Thu, 01 Jan 2026 00:00:00 GMT", 0.0),  # in the past: no wait
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_acme_imports_nothing_of_certsmith_but_errors() -> None:
    import ast
    from pathlib import Path

    import certsmith.acme

    package = Path(certsmith.acme.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("certsmith"):
                    assert name == "certsmith.errors" or name.startswith("certsmith.acme"), (
                        f"{module.name} imports {name}"
                    )


def test_public_api_is_exported() -> None:
    import certsmith.acme

    assert len(set(certsmith.acme.__all__)) == len(certsmith.acme.__all__)
    for name in certsmith.acme.__all__:
        assert getattr(certsmith.acme, name) is not None
    assert {"AcmeClient", "ProblemError", "AlreadyReplaced", "PollTimeout"} <= set(
        certsmith.acme.__all__
    )
