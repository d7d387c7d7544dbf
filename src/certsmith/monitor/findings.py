"""The findings of `certsmith check`: a stable vocabulary other tools (alerts, the status page,
monitoring systems through ``--json``) read. Add codes; never rename or remove one.

    Severity   ok < warning < critical  (the exit code of `check`: 0, 1, 2)
    Code       what was found (the table below)
    Finding    one fact about one lineage, and optionally one endpoint, with its details

    code            severity  facts (``Finding.facts`` keys)
    expired         critical  not_after
    expiring        warning   not_after, days_left, renew_at   (past its renewal moment)
    names_missing   critical  missing (list of names the served certificate lacks)
    stale           critical  served_serial, live_serial, served_not_after, live_not_after
    chain_invalid   critical  error (one sentence)
    key_mismatch    critical  (none: the served key is not the lineage's key)
    unreachable     critical  error (connection or handshake failure, one sentence)
    unreadable      critical  error (the lineage on disk cannot be read)
    no_lineage      warning   server_name (an endpoint no lineage covers; nothing compared)
    last_run_failed warning   started, reason (the newest `renew` run that named it failed)

Stdlib only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

SCHEMA = 1


class Severity(IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class Code(StrEnum):
    EXPIRED = "expired"
    EXPIRING = "expiring"
    NAMES_MISSING = "names_missing"
    STALE = "stale"
    CHAIN_INVALID = "chain_invalid"
    KEY_MISMATCH = "key_mismatch"
    UNREACHABLE = "unreachable"
    UNREADABLE = "unreadable"
    NO_LINEAGE = "no_lineage"
    LAST_RUN_FAILED = "last_run_failed"


SEVERITY: Mapping[Code, Severity] = {
    Code.EXPIRED: Severity.CRITICAL,
    Code.EXPIRING: Severity.WARNING,
    Code.NAMES_MISSING: Severity.CRITICAL,
    Code.STALE: Severity.CRITICAL,
    Code.CHAIN_INVALID: Severity.CRITICAL,
    Code.KEY_MISMATCH: Severity.CRITICAL,
    Code.UNREACHABLE: Severity.CRITICAL,
    Code.UNREADABLE: Severity.CRITICAL,
    Code.NO_LINEAGE: Severity.WARNING,
    Code.LAST_RUN_FAILED: Severity.WARNING,
}


@dataclass(frozen=True)
class Finding:
    """One problem. ``endpoint`` is ``host:port`` for what a server presents, None for the
    certificate on disk; ``facts`` holds JSON values only (strings, numbers, lists)."""

    code: Code
    lineage: str | None
    endpoint: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.code]

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.label,
            "code": str(self.code),
            "lineage": self.lineage,
            "endpoint": self.endpoint,
            "facts": dict(self.facts),
        }


def worst(findings: Iterable[Finding]) -> Severity:
    """The exit code of a check: the worst severity found, OK when none."""
    return max((f.severity for f in findings), default=Severity.OK)
