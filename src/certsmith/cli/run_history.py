"""Append one `renew` run to the stores' history (storage/history.py): both paths of
cmd_renew (the fast all-not-due path and the engine's) end here. Stdlib only."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from certsmith.storage.history import Problem, RunRecord
from certsmith.storage.interface import Stores

if TYPE_CHECKING:
    from certsmith.renewal.engine import LineageResult


def record_not_due(stores: Stores, checked: int, started: float) -> None:
    """A run that found nothing due (``started``: its ``time.monotonic()``)."""
    _append(stores, started, checked=checked, not_due=checked)


def record_results(
    stores: Stores,
    results: Sequence[LineageResult],
    started: float,
    *,
    errors: Iterable[str] = (),
    dry_run: bool = False,
    forced: bool = False,
) -> None:
    from certsmith.renewal.engine import Outcome

    def problems(outcome: Outcome) -> tuple[Problem, ...]:
        return tuple(
            Problem(r.name, str(r.error) if r.error is not None else r.reason)
            for r in results
            if r.outcome == outcome
        )

    _append(
        stores,
        started,
        checked=len(results),
        not_due=sum(r.outcome == Outcome.NOT_DUE for r in results),
        renewed=tuple(r.name for r in results if r.outcome == Outcome.RENEWED),
        failed=problems(Outcome.FAILED),
        skipped=problems(Outcome.LOCKED),
        errors=tuple(errors),
        dry_run=dry_run,
        forced=forced,
    )


def _append(
    stores: Stores,
    started: float,
    *,
    checked: int,
    not_due: int,
    renewed: tuple[str, ...] = (),
    failed: tuple[Problem, ...] = (),
    skipped: tuple[Problem, ...] = (),
    errors: tuple[str, ...] = (),
    dry_run: bool = False,
    forced: bool = False,
) -> None:
    if stores.history is None:
        return
    duration = max(0.0, time.monotonic() - started)
    began = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=duration)
    stores.history.append(
        RunRecord(
            started=began,
            duration=duration,
            checked=checked,
            not_due=not_due,
            renewed=renewed,
            failed=failed,
            skipped=skipped,
            errors=errors,
            dry_run=dry_run,
            forced=forced,
        )
    )
