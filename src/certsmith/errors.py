"""The root of certsmith's exception tree.

This module imports nothing else of certsmith, so every layer (the ``acme`` core included) may use
it. Retryability is a property of the error, not of the call site. The whole tree, with the
module that defines a branch in brackets (``tests/unit/test_errors_tree.py`` holds the drawing
to the classes)::

    CertsmithError
    ├─ AcmeError                    (certsmith.acme.errors)
    │  ├─ TransportError            connect, timeout, TLS                           retryable
    │  ├─ ProtocolViolation         bad JSON, missing header, wrong type, oversized body
    │  ├─ ProblemError(type, detail, subproblems, status, retry_after, identifier)
    │  │  ├─ AccountDoesNotExist  ├─ AlreadyRevoked  ├─ AlreadyReplaced  ├─ BadCsr
    │  │  ├─ BadNonce (retryable)  ├─ BadPublicKey  ├─ BadRevocationReason
    │  │  ├─ BadSignatureAlgorithm  ├─ Caa  ├─ Compound  ├─ Connection  ├─ Dns
    │  │  ├─ ExternalAccountRequired  ├─ IncorrectResponse  ├─ InvalidContact  ├─ Malformed
    │  │  ├─ OrderNotReady  ├─ RateLimited (retryable)  ├─ RejectedIdentifier
    │  │  ├─ ServerInternal (retryable)  ├─ Tls  ├─ Unauthorized  ├─ UnsupportedContact
    │  │  ├─ UnsupportedIdentifier
    │  │  └─ UserActionRequired     never auto-retried, never auto-agreed
    │  ├─ ValidationFailed(identifier, problem)   one identifier's challenge went invalid
    │  └─ PollTimeout               the overall deadline passed                     retryable
    ├─ UsageError                   bad input from the user (names, flags, files)
    │  └─ HostPortError             (certsmith.hostport) not an IP address[:port]
    ├─ SolverError                  a challenge could not be presented or cleaned up
    ├─ PreflightFailed              a check before ordering said no
    ├─ InstallError                 (certsmith.renewal.install) web server config restored
    └─ StorageError                 lineage or account files unreadable or unwritable
       ├─ LineageCorrupt            files missing, unreadable or not matching
       └─ LockHeld                  another process holds the lineage's lock        retryable

A ``ProblemError`` of a type RFC 8555 does not list is retryable when the CA answered 5xx.
"""

from __future__ import annotations


class CertsmithError(Exception):
    """Base of every error certsmith raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(CertsmithError):
    """Bad input from the user: a name, a flag, a file. Nothing was changed."""


class SolverError(CertsmithError):
    """A challenge response could not be published or removed."""


class PreflightFailed(CertsmithError):
    """A check run before ordering found a problem; no order was created."""


class StorageError(CertsmithError):
    """The lineage or account files could not be read or written."""


class LineageCorrupt(StorageError):
    """A lineage's files are missing, unreadable or do not match each other."""


class LockHeld(StorageError):
    """Another process holds the lock of this lineage."""

    retryable = True
