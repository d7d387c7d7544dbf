"""The one summary of a `renew` run: a line of text, or with ``--json`` one JSON object.

The JSON schema (docs/cli.md) is stable: ``schema`` is 1, keys are only ever added, counts are
whole numbers and ``seconds`` is the run's wall time.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from certsmith.cli.console import Console

SCHEMA = 1


@dataclass(frozen=True)
class RenewSummary:
    checked: int = 0  # lineages looked at
    due: int = 0  # found due (renewed + failed + locked)
    renewed: int = 0
    not_due: int = 0
    failed: int = 0
    locked: int = 0  # skipped: another certsmith held the lineage's lock
    ari_asked: int = 0  # renewalInfo requests sent this run
    ari_deferred: int = 0  # renewalInfo requests due but left for the next run

    def to_json(self, seconds: float) -> str:
        data = {"schema": SCHEMA, **asdict(self), "seconds": round(seconds, 3)}
        return json.dumps(data, sort_keys=True)


def say_summary(console: Console, summary: RenewSummary, started: float, as_json: bool) -> None:
    """Print the run's summary (``started``: its ``time.monotonic()`` at the beginning)."""
    if as_json:
        console.data(summary.to_json(time.monotonic() - started))
        return
    s = summary
    # The English line is format_renew_summary's, which log scrapers read (LANG=C); --json is
    # the form that does not change with the language.
    console.say(
        console.message(
            "renew.summary", renewed=s.renewed, not_due=s.not_due, failed=s.failed, locked=s.locked
        )
    )
    if s.ari_deferred:
        console.say(console.message("renew.ari_deferred", count=s.ari_deferred))
