"""Errors of the ACME protocol core.

Retryability is a property of the error, not of the call site::

    CertsmithError                       (certsmith.errors)
    └─ AcmeError
       ├─ TransportError                 connect, timeout, TLS                     retryable
       │  └─ CertificateNotTrusted       the CA's TLS certificate did not verify
       ├─ ProtocolViolation              bad JSON, missing header, wrong type, oversized body
       │  └─ NotAnAcmeDirectory          the directory URL answered something else
       ├─ ProblemError(type, detail, subproblems, status, retry_after, identifier)
       │  ├─ AccountDoesNotExist  ├─ AlreadyRevoked  ├─ AlreadyReplaced (RFC 9773)
       │  ├─ BadCsr  ├─ BadNonce (retryable)  ├─ BadPublicKey  ├─ BadRevocationReason
       │  ├─ BadSignatureAlgorithm  ├─ Caa  ├─ Compound  ├─ Connection  ├─ Dns
       │  ├─ ExternalAccountRequired  ├─ IncorrectResponse  ├─ InvalidContact  ├─ Malformed
       │  ├─ OrderNotReady  ├─ RateLimited (retryable after retry_after)
       │  ├─ RejectedIdentifier  ├─ ServerInternal (retryable)  ├─ Tls  ├─ Unauthorized
       │  ├─ UnsupportedContact  ├─ UnsupportedIdentifier
       │  └─ UserActionRequired         never auto-retried, never auto-agreed
       ├─ ValidationFailed(identifier, problem)   an authorization went invalid
       └─ PollTimeout                    the overall deadline passed while polling   retryable

``problem_from_json`` maps a problem document (RFC 7807 / RFC 8555 section 6.7) to the class
registered for its ``type`` URN; unknown types become a plain ``ProblemError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from certsmith.acme.identifier import Identifier
from certsmith.errors import CertsmithError

ACME_URN = "urn:ietf:params:acme:error:"


class AcmeError(CertsmithError):
    """Any failure of the ACME protocol core.

    ``attempts``: how many times the request was sent before this error (see ``acme.retry``);
    above 1, an earlier try may have taken effect at the CA although its answer was lost.
    """

    attempts: int = 1


class TransportError(AcmeError):
    """The CA could not be reached or did not answer in time (connect, TLS, timeout).

    ``sent``: whether the request may have reached the CA (False when connecting failed);
    ``what``: the failure in a few words ("the CA did not answer in time"), empty if unknown;
    ``code``, ``request`` and ``raw``: the same as a short code ("read_timeout"), the request
    ("GET https://..."), and the underlying error's text, so the CLI can word the message in the
    user's language; ``not_resent``: a request that may have acted was not sent again.
    """

    retryable = True
    sent: bool = True
    what: str = ""
    code: str = ""
    request: str = ""
    raw: str = ""
    not_resent: bool = False


class CertificateNotTrusted(TransportError):
    """The CA's TLS certificate did not verify against the trusted roots (a private or test CA
    without --ca-bundle / REQUESTS_CA_BUNDLE, a TLS-intercepting proxy, a wrong clock)."""

    retryable = False


class ProtocolViolation(AcmeError):
    """The CA answered something RFC 8555 does not allow (bad JSON, missing header, ...)."""


class NotAnAcmeDirectory(ProtocolViolation):
    """The directory URL answered, but not with an ACME directory (a 404, a web page)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.values = {"url": url}


class ProblemError(AcmeError):
    """The CA answered with a problem document.

    ``type`` is the full URN, ``retry_after`` the seconds the CA asked us to wait (or None),
    ``subproblems`` the per-identifier problems of RFC 8555 section 6.7.1.
    """

    acme_type: ClassVar[str] = ""

    def __init__(
        self,
        type: str,
        detail: str = "",
        *,
        status: int | None = None,
        subproblems: tuple[ProblemError, ...] = (),
        retry_after: float | None = None,
        identifier: Identifier | None = None,
        instance: str | None = None,
        tos_url: str | None = None,
    ) -> None:
        short = type.removeprefix(ACME_URN)
        super().__init__(f"{short}: {detail}" if detail else short)
        self.type = type
        self.detail = detail
        self.status = status
        self.subproblems = subproblems
        self.retry_after = retry_after
        self.identifier = identifier
        # RFC 7807 `instance` (Let's Encrypt's unpause and terms pages) and, for
        # userActionRequired, the `Link: rel="terms-of-service"` of RFC 8555 section 7.3.3.
        self.instance = instance
        self.tos_url = tos_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.type!r}, {self.detail!r}, status={self.status})"


_P = TypeVar("_P", bound=ProblemError)
_REGISTRY: dict[str, type[ProblemError]] = {}


def _registered(cls: type[_P]) -> type[_P]:
    _REGISTRY[cls.acme_type] = cls
    return cls


@_registered
class AccountDoesNotExist(ProblemError):
    acme_type = ACME_URN + "accountDoesNotExist"


@_registered
class AlreadyRevoked(ProblemError):
    acme_type = ACME_URN + "alreadyRevoked"


@_registered
class BadCsr(ProblemError):
    acme_type = ACME_URN + "badCSR"


@_registered
class BadNonce(ProblemError):
    acme_type = ACME_URN + "badNonce"
    retryable = True


@_registered
class BadPublicKey(ProblemError):
    acme_type = ACME_URN + "badPublicKey"


@_registered
class BadRevocationReason(ProblemError):
    acme_type = ACME_URN + "badRevocationReason"


@_registered
class BadSignatureAlgorithm(ProblemError):
    acme_type = ACME_URN + "badSignatureAlgorithm"


@_registered
class Caa(ProblemError):
    acme_type = ACME_URN + "caa"


@_registered
class Compound(ProblemError):
    acme_type = ACME_URN + "compound"


@_registered
class Connection(ProblemError):
    acme_type = ACME_URN + "connection"


@_registered
class Dns(ProblemError):
    acme_type = ACME_URN + "dns"


@_registered
class ExternalAccountRequired(ProblemError):
    acme_type = ACME_URN + "externalAccountRequired"


@_registered
class IncorrectResponse(ProblemError):
    acme_type = ACME_URN + "incorrectResponse"


@_registered
class InvalidContact(ProblemError):
    acme_type = ACME_URN + "invalidContact"


@_registered
class Malformed(ProblemError):
    acme_type = ACME_URN + "malformed"


@_registered
class OrderNotReady(ProblemError):
    acme_type = ACME_URN + "orderNotReady"


@_registered
class RateLimited(ProblemError):
    acme_type = ACME_URN + "rateLimited"
    retryable = True


@_registered
class RejectedIdentifier(ProblemError):
    acme_type = ACME_URN + "rejectedIdentifier"


@_registered
class ServerInternal(ProblemError):
    acme_type = ACME_URN + "serverInternal"
    retryable = True


@_registered
class Tls(ProblemError):
    acme_type = ACME_URN + "tls"


@_registered
class Unauthorized(ProblemError):
    acme_type = ACME_URN + "unauthorized"


@_registered
class UnsupportedContact(ProblemError):
    acme_type = ACME_URN + "unsupportedContact"


@_registered
class UnsupportedIdentifier(ProblemError):
    acme_type = ACME_URN + "unsupportedIdentifier"


@_registered
class UserActionRequired(ProblemError):
    # Never retried automatically: a human must act (e.g. agree to new terms).
    acme_type = ACME_URN + "userActionRequired"


@_registered
class AlreadyReplaced(ProblemError):
    # RFC 9773 section 5: the certificate named in "replaces" was already replaced.
    acme_type = ACME_URN + "alreadyReplaced"


PROBLEM_TYPES: Mapping[str, type[ProblemError]] = _REGISTRY


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in text)


def problem_from_json(
    data: Any,
    *,
    status: int | None = None,
    retry_after: float | None = None,
    _nested: bool = False,
) -> ProblemError:
    """Build the typed exception for a problem document; never raises on odd input.

    Subproblems (section 6.7.1) are read one level deep; theirs are ignored.
    """
    if not isinstance(data, dict):
        return ProblemError("about:blank", "unreadable problem document", status=status)
    kind = data.get("type")
    kind = kind if isinstance(kind, str) and kind else "about:blank"
    detail = data.get("detail")
    # The detail ends up on a terminal and in logs: no escape sequences or forged lines.
    detail = _printable(detail[:2000]) if isinstance(detail, str) else ""
    identifier: Identifier | None = None
    try:
        if "identifier" in data:
            identifier = Identifier.from_json(data["identifier"])
    except ValueError:
        identifier = None
    raw_subs = data.get("subproblems")
    subs = tuple(
        problem_from_json(sub, status=status, _nested=True)
        for sub in (raw_subs if isinstance(raw_subs, list) and not _nested else [])[:100]
    )
    cls = _REGISTRY.get(kind, ProblemError)
    error = cls(
        kind,
        detail,
        status=status,
        subproblems=subs,
        retry_after=retry_after,
        identifier=identifier,
        instance=instance if isinstance(instance := data.get("instance"), str) else None,
    )
    if cls is ProblemError and status is not None and status >= 500:
        error.retryable = True  # an unknown server-side failure: worth another try later
    return error


class ValidationFailed(AcmeError):
    """The CA could not validate one identifier; ``problem`` is the challenge's error."""

    def __init__(self, identifier: Identifier, problem: ProblemError | None) -> None:
        why = str(problem) if problem is not None else "authorization is invalid"
        super().__init__(f"validation of {identifier} failed: {why}")
        self.identifier = identifier
        self.problem = problem


class PollTimeout(AcmeError):
    """The overall deadline passed before the authorization or order reached its goal."""

    retryable = True
