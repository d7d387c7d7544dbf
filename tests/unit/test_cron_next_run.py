"""monitor/cron.py: when a cron line runs next, as `schedule status` shows it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from certsmith.monitor.cron import next_cron_run

KST = timezone(timedelta(hours=9))
NOW = datetime(2026, 12, 6, 14, 30, 45, tzinfo=KST)  # a Sunday


def at(day: int, hour: int, minute: int, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=KST)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("17 3,15 * * * root certsmith renew", at(6, 15, 17)),  # what `schedule install` writes
        ("17 3,15 * * * certsmith renew", at(6, 15, 17)),  # a user crontab line
        ("31 14 * * * root x", at(6, 14, 31)),  # the next minute, seconds dropped
        ("30 14 * * * root x", at(7, 14, 30)),  # this minute has begun: tomorrow
        ("*/20 * * * * root x", at(6, 14, 40)),
        ("0 9-17/4 * * * root x", at(6, 17, 0)),  # 9, 13, 17
        ("0 0 1 * * root x", at(1, 0, 0, month=1, year=2027)),
        ("0 0 * * 1 root x", at(7, 0, 0)),  # Monday
        ("0 0 * * 7 root x", at(13, 0, 0)),  # 7 is Sunday too; today's midnight has passed
        ("0 0 13 * 5 root x", at(11, 0, 0)),  # day 13 OR a Friday, whichever comes first
        ("0 0 29 2 * root x", at(29, 0, 0, month=2, year=2028)),
    ],
)
def test_next_run_follows_crontab_rules(line: str, expected: datetime) -> None:
    assert next_cron_run(line, NOW) == expected


@pytest.mark.parametrize(
    "line",
    ["@daily root x", "0 0 * jan * root x", "61 * * * * root x", "0 0 * * *", "", "0 0 31 2 * r x"],
)
def test_a_line_not_understood_or_never_due_has_no_next_run(line: str) -> None:
    assert next_cron_run(line, NOW) is None
