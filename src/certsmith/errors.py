"""The root of certsmith's exception tree.

This module imports nothing else of certsmith, so every layer (the ``acme`` core included) may use
it. Retryability is a property of the error, not of the call site. The whole tree, with the
module that defines a branch in brackets (``tests/unit/test_errors_tree.py`` holds the drawing
to the classes)::

    CertsmithError
    ├─ AcmeError                    (certsmith.acme.errors)
    │  ├─ TransportError            connect, timeout, TLS                           retryable
    │  │  └─ CertificateNotTrusted  the CA's TLS certificate did not verify
    │  ├─ ProtocolViolation         bad JSON, missing header, wrong type, oversized body
    │  │  └─ NotAnAcmeDirectory     the directory URL answered something else
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
    │  ├─ HostPortError             (certsmith.hostport) not an IP address[:port]
    │  └─ ManualRenewalNeedsHook    a --manual lineage without a hook, unattended
    ├─ SolverError                  a challenge could not be presented or cleaned up
    │  ├─ SelfCheckFailed           the manual self-check failed and the user stopped
    │  └─ PortInUse                 the standalone server's port is taken
    ├─ PreflightFailed              a check before ordering said no
    ├─ InstallError                 (certsmith.renewal.install) web server config restored
    └─ StorageError                 lineage or account files unreadable or unwritable
       ├─ FolderNotWritable         a folder certsmith must write cannot be written
       ├─ DiskWriteFailed           saving failed (disk full, permission, I/O error)
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
    """Bad input from the user: a name, a flag, a file. Nothing was changed.

    ``wording`` (a catalogue key and its values), when given, is what the CLI shows in the
    user's language; the message is then the English of the same key."""

    def __init__(
        self, message: str = "", *, wording: tuple[str, dict[str, object]] | None = None
    ) -> None:
        super().__init__(message)
        self.wording = wording


class ManualRenewalNeedsHook(UsageError):
    """A lineage made with --manual and no --manual-auth-hook, in a run nobody can answer:
    refused before any order. ``values``: ``name`` and ``domains`` (comma-separated)."""

    def __init__(self, message: str, *, name: str, domains: str) -> None:
        super().__init__(message)
        self.values = {"name": name, "domains": domains}


class SolverError(CertsmithError):
    """A challenge response could not be published or removed."""


class SelfCheckFailed(SolverError):
    """The manual self-check did not see the challenge response, and the run was stopped.
    ``values`` fill the catalogue's sentence (``url``, ``seen``)."""

    def __init__(self, message: str, *, url: str, seen: str) -> None:
        super().__init__(message)
        self.values = {"url": url, "seen": seen}


class PortInUse(SolverError):
    """The standalone server could not listen: ``values["port"]`` is taken (or privileged)."""

    def __init__(self, message: str, *, port: int, address: str = "") -> None:
        super().__init__(message)
        self.values = {"port": str(port), "address": address or "*"}


class PreflightFailed(CertsmithError):
    """A check run before ordering found a problem; no order was created. ``skippable``
    False: skipping the checks would only move the failure to the CA (a CAA record on a zone
    the user does not control), so the advice must not suggest --no-preflight."""

    def __init__(self, message: str = "", *, skippable: bool = True) -> None:
        super().__init__(message)
        self.skippable = skippable
        if not skippable:
            self.catalogue_key = "preflight.unskippable"


class StorageError(CertsmithError):
    """The lineage or account files could not be read or written."""


class FolderNotWritable(StorageError):
    """A folder certsmith must write is read-only, not a folder, or not ours to write.
    ``values``: ``folder`` and ``why`` (a short reason from the operating system)."""

    def __init__(self, message: str, *, folder: str, why: str) -> None:
        super().__init__(message)
        self.values = {"folder": folder, "why": why}


class DiskWriteFailed(StorageError):
    """Writing a lineage or an account failed with an operating-system error (``errno``: ENOSPC,
    EACCES, EIO...); the message names the cause in words ("the disk is full")."""

    def __init__(self, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class LineageCorrupt(StorageError):
    """A lineage's files are missing, unreadable or do not match each other."""


class LockHeld(StorageError):
    """Another process holds the lock of this lineage."""

    retryable = True
