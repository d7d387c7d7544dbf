"""When a cron line runs next, for `schedule status` (standard library only).

Understands the five time fields of crontab(5) with numbers, ``*``, ranges, lists and steps
(``*/5``, ``1-10/2``), and cron's rule that a line restricting both the day of the month and
the day of the week runs when either matches. Names (``mon``, ``jan``) and ``@daily``-style
shortcuts are not parsed: the answer is then ``None`` ("unknown"), never a wrong time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_SEARCH_DAYS = 366 * 4 + 1  # a 29 February line runs within four years


def _field(text: str, low: int, high: int) -> frozenset[int] | None:
    values: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        if spec == "*":
            start, end = low, high
        elif "-" in spec:
            first, _, last = spec.partition("-")
            if not (first.isdigit() and last.isdigit()):
                return None
            start, end = int(first), int(last)
        elif spec.isdigit():
            start = int(spec)
            end = high if step_text else start
        else:
            return None
        if step_text and not step_text.isdigit():
            return None
        step = int(step_text) if step_text else 1
        if step < 1 or not low <= start <= end <= high:
            return None
        values.update(range(start, end + 1, step))
    return frozenset(values)


def next_cron_run(line: str, now: datetime) -> datetime | None:
    """The first minute after ``now`` (in ``now``'s time zone) that ``line`` fires at, or
    ``None`` when the line is not understood. A system crontab line (user before the command)
    and a user crontab line read the same: only the first five fields count."""
    fields = line.split()
    if len(fields) < 6:
        return None
    parsed = [
        _field(text, low, high) for text, (low, high) in zip(fields[:5], _RANGES, strict=True)
    ]
    if any(p is None for p in parsed):
        return None
    minutes, hours, days, months, weekdays = (p or frozenset() for p in parsed)
    weekdays = frozenset(d % 7 for d in weekdays)  # 7 is Sunday too
    any_day, any_weekday = fields[2].startswith("*"), fields[4].startswith("*")  # as Vixie cron
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    for _ in range(_SEARCH_DAYS):
        if day.month in months and _day_matches(day, days, weekdays, any_day, any_weekday):
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate >= start:
                        return candidate
        day += timedelta(days=1)
    return None


def _day_matches(
    day: datetime,
    days: frozenset[int],
    weekdays: frozenset[int],
    any_day: bool,
    any_weekday: bool,
) -> bool:
    in_month = day.day in days
    in_week = (day.isoweekday() % 7) in weekdays  # cron counts Sunday as 0
    if any_day or any_weekday:
        return in_month and in_week
    return in_month or in_week
