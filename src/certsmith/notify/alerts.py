"""What deserves an alert, and whether it was already sent (pure functions, clock injected).

Four problems, each about one lineage:

    renewal_failed   a `renew` run tried and failed (fingerprint: the kind of error)
    expiring         the certificate is half-way from its renewal moment to its expiry (or
                     expired) and no renewal succeeded: renewing is late, a person must look
                     (fingerprint: the certificate's expiry)
    stale            `certsmith check` found a server presenting another certificate than
                     live/ (fingerprint: the served serial)
    persist_until    the standing dns-persist-01 record of a dns-persist lineage stops
                     counting (``persistUntil``) within 30 days (fingerprint: that moment)

De-duplication (the memory is a JSON object the caller loads and saves): one alert per lineage
per problem until the problem changes (another fingerprint) or ``REPEAT_AFTER`` has passed since
it was sent. A problem a run looked at and found gone is forgotten, so its return alerts again.
The same rule keeps a failing channel from being reported on every run.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from certsmith.renewal.policy import default_renewal_time

__all__ = [
    "REPEAT_AFTER",
    "Alert",
    "Problem",
    "expiry_is_alarming",
    "forget",
    "remember",
    "worth_sending",
]

REPEAT_AFTER = datetime.timedelta(days=1)
MEMORY_VERSION = 1


class Problem(StrEnum):
    RENEWAL_FAILED = "renewal_failed"
    EXPIRING = "expiring"
    STALE = "stale"
    PERSIST_UNTIL = "persist_until"


@dataclass(frozen=True)
class Alert:
    """One problem of one lineage. ``facts`` fill the catalogue's sentences (strings)."""

    lineage: str
    problem: Problem
    fingerprint: str
    facts: Mapping[str, str]

    @property
    def key(self) -> str:
        return f"{self.problem.value}\t{self.lineage}"


def expiry_is_alarming(
    not_before: datetime.datetime, not_after: datetime.datetime, now: datetime.datetime
) -> bool:
    """Half of the time between the renewal moment and expiry has gone: with twice-daily runs
    that is many failed attempts (15 days for a 90-day certificate, a day for a 6-day one)."""
    renew_at = default_renewal_time(not_before, not_after)
    return now >= renew_at + (not_after - renew_at) / 2


def _when(entry: Any) -> datetime.datetime | None:
    if not isinstance(entry, dict):
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(entry.get("sent_at")))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _section(memory: Mapping[str, Any], name: str) -> dict[str, Any]:
    section = memory.get(name)
    return dict(section) if isinstance(section, dict) else {}


def worth_sending(
    memory: Mapping[str, Any], key: str, fingerprint: str, now: datetime.datetime,
    section: str = "alerts",
) -> bool:  # fmt: skip
    """Whether the problem ``key`` with ``fingerprint`` was not sent within ``REPEAT_AFTER``."""
    entry = _section(memory, section).get(key)
    sent_at = _when(entry)
    if sent_at is None or not isinstance(entry, dict):
        return True
    return entry.get("fingerprint") != fingerprint or now - sent_at >= REPEAT_AFTER


def remember(
    memory: Mapping[str, Any], keys: Iterable[tuple[str, str]], now: datetime.datetime,
    section: str = "alerts",
) -> dict[str, Any]:  # fmt: skip
    """A new memory with ``(key, fingerprint)`` pairs marked as sent ``now``."""
    out = dict(memory)
    entries = _section(memory, section)
    for key, fingerprint in keys:
        entries[key] = {"fingerprint": fingerprint, "sent_at": now.isoformat()}
    out[section] = entries
    out["version"] = MEMORY_VERSION
    return out


def forget(
    memory: Mapping[str, Any], keys: Iterable[str], section: str = "alerts"
) -> dict[str, Any]:
    """A new memory without ``keys`` (problems found gone: their return alerts again)."""
    out = dict(memory)
    if section in memory:
        entries = _section(memory, section)
        for key in keys:
            entries.pop(key, None)
        out[section] = entries
    return out
