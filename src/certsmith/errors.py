"""The root of certsmith's exception tree.

This module imports nothing else of certsmith, so every layer (the ``acme`` core included) may use
it. Retryability is a property of the error, not of the call site::

    CertsmithError
    ├─ AcmeError                      (certsmith.acme.errors)
    │  ├─ TransportError              connect, timeout                      retryable
    │  ├─ ProtocolViolation           bad JSON, missing header, oversized body
    │  └─ ProblemError(type, detail, subproblems, status, retry_after)
    │     ├─ BadNonce ├─ RateLimited ├─ ServerInternal ├─ AlreadyReplaced
    │     ├─ UserActionRequired       never auto-retried, never auto-agreed
    │     └─ Caa, Dns, Connection, Unauthorized, RejectedIdentifier, ...
    ├─ ValidationFailed               one identifier's challenge went invalid
    ├─ PollTimeout                    the overall deadline passed
    ├─ UsageError                     bad input from the user (names, flags, files)
    ├─ SolverError                    a challenge could not be presented or cleaned up
    ├─ PreflightFailed                a check before ordering said no
    └─ StorageError
       ├─ LineageCorrupt
       └─ LockHeld
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
