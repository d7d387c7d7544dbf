"""The run history: one record per `renew` run, bounded, newest last.

    RunRecord        what one run did (schema below; ``SCHEMA`` names its version)
    HistoryStorage   the Protocol: ``append`` one record, ``recent`` records (oldest first)
    HistoryFile      the file backend: ``<config_dir>/.certsmith-state/history.jsonl``
    MemoryHistory    the memory backend (a bounded list)

One JSON object per line (``RunRecord.to_json``)::

    {"schema": 1, "started": "2025-06-01T03:00:00+00:00", "duration": 1.25,
     "dry_run": false, "forced": false, "checked": 12, "not_due": 10,
     "renewed": ["example.com"],
     "failed": [{"name": "b.example", "reason": "..."}],
     "skipped": [{"name": "c.example", "reason": "..."}],
     "errors": ["a hook or reload error, as a sentence"]}

Lineages that were checked and not due are only counted (a fleet of thousands keeps each record
small); every renewed, failed or skipped lineage is named. Readers skip lines they cannot parse
(a torn last line after a crash, a newer schema's extra fields are ignored).

Bounds: when an append makes the file larger than ``max_bytes`` it is rewritten (temp file,
fsync, rename) with the newest records that fit in half of it, at most ``max_records``;
``recent`` never returns more than ``max_records``. Appends and rewrites hold an ``flock`` on
a lock file beside it, so concurrent runs neither lose nor interleave records.

Stdlib only: `renew`'s fast path appends without importing anything heavy.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

SCHEMA = 1
MAX_RECORDS = 500
MAX_BYTES = 1024 * 1024
STATE_FOLDER = ".certsmith-state"
FILE_NAME = "history.jsonl"


@dataclass(frozen=True)
class Problem:
    """A lineage that failed or was skipped in a run, and why (one sentence)."""

    name: str
    reason: str


@dataclass(frozen=True)
class RunRecord:
    """What one `renew` run did (see the module docstring for the JSON form)."""

    started: datetime.datetime  # aware, UTC
    duration: float  # seconds
    checked: int
    not_due: int = 0
    renewed: tuple[str, ...] = ()
    failed: tuple[Problem, ...] = ()
    skipped: tuple[Problem, ...] = ()
    errors: tuple[str, ...] = ()  # hook and reload failures: the run failed, no lineage did
    dry_run: bool = False
    forced: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.errors

    def outcome_of(self, name: str) -> str | None:
        """``renewed``, ``failed`` or ``skipped`` when this run named ``name``, else None
        (not due, or not part of the run)."""
        if name in self.renewed:
            return "renewed"
        if any(p.name == name for p in self.failed):
            return "failed"
        if any(p.name == name for p in self.skipped):
            return "skipped"
        return None

    def reason_for(self, name: str) -> str | None:
        for problem in (*self.failed, *self.skipped):
            if problem.name == name:
                return problem.reason
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "started": self.started.astimezone(datetime.UTC).isoformat(),
            "duration": round(self.duration, 3),
            "dry_run": self.dry_run,
            "forced": self.forced,
            "checked": self.checked,
            "not_due": self.not_due,
            "renewed": list(self.renewed),
            "failed": [{"name": p.name, "reason": p.reason} for p in self.failed],
            "skipped": [{"name": p.name, "reason": p.reason} for p in self.skipped],
            "errors": list(self.errors),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """ValueError (or KeyError/TypeError) when ``data`` is not a record."""

        def problems(key: str) -> tuple[Problem, ...]:
            return tuple(Problem(str(p["name"]), str(p["reason"])) for p in data.get(key, ()))

        started = datetime.datetime.fromisoformat(str(data["started"]))
        if started.tzinfo is None:
            raise ValueError("naive start time")
        return cls(
            started=started,
            duration=float(data["duration"]),
            checked=int(data["checked"]),
            not_due=int(data.get("not_due", 0)),
            renewed=tuple(str(n) for n in data.get("renewed", ())),
            failed=problems("failed"),
            skipped=problems("skipped"),
            errors=tuple(str(e) for e in data.get("errors", ())),
            dry_run=bool(data.get("dry_run", False)),
            forced=bool(data.get("forced", False)),
        )


class HistoryStorage(Protocol):
    """The bounded run history. ``append`` never raises on a full or read-only disk (the run
    must not fail for its diary): it logs and returns False."""

    def append(self, record: RunRecord) -> bool: ...

    def recent(self, limit: int = MAX_RECORDS) -> list[RunRecord]:
        """At most ``limit`` records, oldest first."""


def last_result_per_lineage(
    records: Sequence[RunRecord], names: Sequence[str]
) -> dict[str, tuple[RunRecord, str]]:
    """For each of ``names``, the newest record that renewed, failed or skipped it, and which."""
    found: dict[str, tuple[RunRecord, str]] = {}
    wanted = set(names)
    for record in reversed(records):
        for name in wanted - found.keys():
            outcome = record.outcome_of(name)
            if outcome is not None:
                found[name] = (record, outcome)
        if found.keys() >= wanted:
            break
    return found


def parse_lines(text: str) -> list[RunRecord]:
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append(RunRecord.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.debug("history: skipping an unreadable line")
    return records


class HistoryFile:
    """The file backend of ``HistoryStorage`` under one config dir."""

    def __init__(
        self, config_dir: Path, *, max_records: int = MAX_RECORDS, max_bytes: int = MAX_BYTES
    ) -> None:
        self.folder = config_dir / STATE_FOLDER
        self.path = self.folder / FILE_NAME
        self.max_records, self.max_bytes = max_records, max_bytes

    def append(self, record: RunRecord) -> bool:
        line = (json.dumps(record.to_json(), separators=(",", ":")) + "\n").encode()
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock_fd = os.open(self.folder / (FILE_NAME + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    end = os.fstat(fd).st_size
                    if end and os.pread(fd, 1, end - 1) != b"\n":
                        line = b"\n" + line  # a torn last line (a crash) stays on its own
                    os.write(fd, line)
                    size = os.fstat(fd).st_size
                finally:
                    os.close(fd)
                if size > self.max_bytes:
                    self._compact()
            finally:
                os.close(lock_fd)  # releases the flock
        except OSError as exc:
            log.warning("could not record this run in %s: %s", self.path, exc)
            return False
        return True

    def recent(self, limit: int = MAX_RECORDS) -> list[RunRecord]:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.warning("could not read %s: %s", self.path, exc)
            return []
        records = parse_lines(text)
        return records[-min(limit, self.max_records) :] if limit > 0 else []

    def _compact(self) -> None:
        """Keep the newest records that fit in half of ``max_bytes`` (under the lock)."""
        lines = self.path.read_bytes().splitlines(keepends=True)
        kept: list[bytes] = []
        size = 0
        for line in reversed(lines[-self.max_records :]):
            if size + len(line) > self.max_bytes // 2:
                break
            kept.append(line)
            size += len(line)
        tmp = self.path.with_name(FILE_NAME + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"".join(reversed(kept)))
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(self.path)
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@dataclass
class MemoryHistory:
    """The memory backend of ``HistoryStorage``."""

    max_records: int = MAX_RECORDS
    records: list[RunRecord] = field(default_factory=list)

    def append(self, record: RunRecord) -> bool:
        self.records.append(record)
        del self.records[: -self.max_records]
        return True

    def recent(self, limit: int = MAX_RECORDS) -> list[RunRecord]:
        return list(self.records[-limit:]) if limit > 0 else []
