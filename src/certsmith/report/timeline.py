"""The status page's timeline: one row per lineage on a shared time axis, as inline SVG.

Each row: the lineage's name, its lifetime as a bar in the colour of its state (issued to
expiry), the CA's ARI window as a light band over it, a tick at the renewal moment, a mark at
expiry; one vertical line for today across every row, and month ticks along the axis. The SVG
scales to the page's width (``viewBox``), so a phone sees it whole.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["TimelineRow", "timeline_svg"]

WIDTH = 1000
LEFT, RIGHT = 8, 8
ROW = 38
TOP = 22  # the axis labels


@dataclass(frozen=True)
class TimelineRow:
    name: str
    colour: str
    not_before: datetime.datetime | None
    not_after: datetime.datetime | None
    renew_at: datetime.datetime | None = None
    ari_window: tuple[datetime.datetime, datetime.datetime] | None = None


def _span(rows: Sequence[TimelineRow], now: datetime.datetime) -> tuple[float, float]:
    moments = [now.timestamp()]
    for row in rows:
        for moment in (row.not_before, row.not_after):
            if moment is not None:
                moments.append(moment.timestamp())
    start, end = min(moments), max(moments)
    pad = max((end - start) * 0.03, 86400.0)
    return start - pad, end + pad


def _month_ticks(start: float, end: float) -> list[datetime.datetime]:
    first = datetime.datetime.fromtimestamp(start, datetime.UTC)
    month = datetime.datetime(first.year, first.month, 1, tzinfo=datetime.UTC)
    ticks = []
    for _ in range(240):  # bounded: twenty years of months
        month = (month + datetime.timedelta(days=32)).replace(day=1)
        if month.timestamp() > end:
            break
        ticks.append(month)
    step = max(1, len(ticks) // 8)  # at most about eight labels
    return ticks[::step]


def timeline_svg(rows: Sequence[TimelineRow], now: datetime.datetime) -> str:
    start, end = _span(rows, now)
    scale = (WIDTH - LEFT - RIGHT) / (end - start)

    def x(moment: datetime.datetime) -> float:
        return round(LEFT + (moment.timestamp() - start) * scale, 1)

    height = TOP + ROW * max(len(rows), 1) + 6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="timeline">'
    ]
    for tick in _month_ticks(start, end):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx}" y1="{TOP - 4}" x2="{tx}" y2="{height}" stroke="#8885" '
            f'stroke-width="1"/><text x="{tx + 3}" y="{TOP - 8}">{tick:%Y-%m}</text>'
        )
    for index, row in enumerate(rows):
        y = TOP + index * ROW
        parts.append(f'<g class="row" data-lineage="{escape(row.name, quote=True)}">')
        parts.append(f'<text x="{LEFT}" y="{y + 12}">{escape(row.name)}</text>')
        if row.not_before is not None and row.not_after is not None:
            x0, x1 = x(row.not_before), x(row.not_after)
            parts.append(
                f'<rect x="{x0}" y="{y + 17}" width="{max(x1 - x0, 1)}" height="12" rx="3" '
                f'fill="{row.colour}" fill-opacity="0.35" stroke="{row.colour}"/>'
                f'<rect x="{x0 - 1}" y="{y + 15}" width="3" height="16" fill="#8d99ae"/>'
            )
            if row.ari_window is not None:
                a0, a1 = x(row.ari_window[0]), x(row.ari_window[1])
                parts.append(
                    f'<rect x="{a0}" y="{y + 17}" width="{max(a1 - a0, 2)}" height="12" '
                    f'fill="#74c0fc" fill-opacity="0.8"/>'
                )
            if row.renew_at is not None:
                rx = x(row.renew_at)
                parts.append(
                    f'<path d="M{rx} {y + 15} l5 8 l-5 8 l-5 -8 z" fill="#1c7ed6">'
                    f"<title>{row.renew_at:%Y-%m-%d %H:%M}</title></path>"
                )
            parts.append(
                f'<rect x="{x1 - 2}" y="{y + 14}" width="4" height="18" fill="#b3261e">'
                f"<title>{row.not_after:%Y-%m-%d %H:%M}</title></rect>"
            )
        parts.append("</g>")
    nx = x(now)
    parts.append(
        f'<line x1="{nx}" y1="{TOP - 4}" x2="{nx}" y2="{height}" stroke="#7048e8" '
        f'stroke-width="2" stroke-dasharray="4 3"/></svg>'
    )
    return "".join(parts)
