"""The status page: every lineage on a timeline, its state, the last runs and check's findings,
as one self-contained HTML document (inline CSS and SVG; no script, no external asset, so it
works offline and from ``file://``).

Everything that comes from a certificate, a conf or a run (names, reasons) is escaped with
:func:`html.escape`; the page is readable on a phone (a viewport meta, a table that becomes cards
on narrow screens, an SVG that scales to the width).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from html import escape
from typing import TYPE_CHECKING

from certsmith.report.timeline import TimelineRow, timeline_svg

if TYPE_CHECKING:
    from certsmith.preflight.messages import Catalogue
    from certsmith.storage.history import RunRecord

__all__ = ["FindingRow", "LineageFacts", "PageFacts", "State", "lineage_state", "render_page"]


class State(StrEnum):
    """Worst first: the order the page sorts by."""

    EXPIRED = "expired"
    STALE = "stale"
    EXPIRING = "expiring"
    FAILING = "failing"
    UNREADABLE = "unreadable"
    DUE = "due"
    OK = "ok"


_COLOURS: Mapping[State, str] = {
    State.EXPIRED: "#b3261e",
    State.STALE: "#b3261e",
    State.EXPIRING: "#d9480f",
    State.FAILING: "#e8590c",
    State.UNREADABLE: "#6c757d",
    State.DUE: "#e0a800",
    State.OK: "#2b8a3e",
}


@dataclass(frozen=True)
class LineageFacts:
    name: str
    names: tuple[str, ...] = ()
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    renew_at: datetime.datetime | None = None
    ari_window: tuple[datetime.datetime, datetime.datetime] | None = None
    alarming: bool = False  # past half-way from renew_at to expiry (notify.expiry_is_alarming)
    last_outcome: str | None = None  # "renewed" | "failed" | "skipped" (the run history)
    last_reason: str | None = None
    problem: str | None = None  # why it could not be read


@dataclass(frozen=True)
class FindingRow:
    severity: str  # "warning" | "critical"
    code: str
    lineage: str | None
    endpoint: str | None
    message: str


@dataclass(frozen=True)
class PageFacts:
    host: str
    generated: datetime.datetime
    lineages: Sequence[LineageFacts]
    runs: Sequence[RunRecord] = ()
    findings: Sequence[FindingRow] | None = None  # None: check has not been run


def lineage_state(
    facts: LineageFacts, findings: Sequence[FindingRow], now: datetime.datetime
) -> State:
    if facts.not_after is None:
        return State.UNREADABLE
    if now >= facts.not_after:
        return State.EXPIRED
    if any(f.lineage == facts.name and f.code == "stale" for f in findings):
        return State.STALE
    if facts.alarming:
        return State.EXPIRING
    if facts.last_outcome == "failed":
        return State.FAILING
    if facts.renew_at is not None and now >= facts.renew_at:
        return State.DUE
    return State.OK


_CSS = """
:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#fff;--muted:#5f6368;--line:#d0d4d9}
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e6;--bg:#141416;--muted:#a0a4a8;--line:#3a3d42}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Noto Sans KR",sans-serif;color:var(--fg);background:var(--bg);max-width:72rem;margin:auto}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.muted{color:var(--muted)}
.state{display:inline-block;padding:.1rem .5rem;border-radius:1rem;color:#fff;
font-size:.85rem;white-space:nowrap}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;font-size:.85rem;color:var(--muted)}
td.names{word-break:break-all}
.tl{overflow-x:auto}svg{width:100%;height:auto;display:block}.tl svg{min-width:40rem}
svg text{fill:var(--fg);font:12px system-ui,sans-serif}
.legend span{margin-right:1rem;white-space:nowrap;font-size:.85rem}
.sw{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}
@media (max-width:40rem){
 thead{display:none}
 table,tbody,tr,td{display:block;width:100%}
 tr{border:1px solid var(--line);border-radius:.5rem;margin:0 0 .7rem;padding:.3rem}
 td{border:0;padding:.2rem .4rem}
 td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:.85rem}
}
"""


def _time(moment: datetime.datetime | None) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _badge(state: State, catalogue: Catalogue) -> str:
    label = escape(catalogue.get(f"report.page.state.{state.value}"))
    return (
        f'<span class="state state-{state.value}" data-state="{state.value}" '
        f'style="background:{_COLOURS[state]}">{label}</span>'
    )


def _lineage_rows(
    items: Sequence[tuple[LineageFacts, State]], now: datetime.datetime, cat: Catalogue
) -> str:
    if not items:
        return f'<p class="muted">{escape(cat.get("report.page.no_lineages"))}</p>'

    def label(key: str) -> str:
        return escape(cat.get(f"report.page.col.{key}"), quote=True)

    head = "".join(
        f"<th>{label(k)}</th>" for k in ("name", "state", "expires", "renew_at", "last_run")
    )
    rows = []
    for facts, state in items:
        expires = _time(facts.not_after)
        if facts.not_after is not None and now < facts.not_after:
            days = (facts.not_after - now).total_seconds() / 86400
            expires += f' <span class="muted">({escape(cat.get("report.page.days_left", days=f"{days:.1f}"))})</span>'  # noqa: E501
        last = (
            escape(cat.get(f"report.page.run.{facts.last_outcome}")) if facts.last_outcome else "—"
        )
        if facts.last_reason:
            last += f'<br><span class="muted">{escape(facts.last_reason)}</span>'
        if facts.problem:
            last += f'<br><span class="muted">{escape(facts.problem)}</span>'
        names = escape(", ".join(facts.names))
        rows.append(
            f'<tr id="lineage-{escape(facts.name, quote=True)}">'
            f'<td class="names" data-label="{label("name")}"><strong>{escape(facts.name)}</strong>'
            f'<br><span class="muted">{names}</span></td>'
            f'<td data-label="{label("state")}">{_badge(state, cat)}</td>'
            f'<td data-label="{label("expires")}">{expires}</td>'
            f'<td data-label="{label("renew_at")}">{_time(facts.renew_at)}</td>'
            f'<td data-label="{label("last_run")}">{last}</td></tr>'
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _runs(runs: Sequence[RunRecord], cat: Catalogue, limit: int = 20) -> str:
    if not runs:
        return f'<p class="muted">{escape(cat.get("report.page.no_runs"))}</p>'
    started, result = cat.get("report.page.run.started"), cat.get("report.page.run.result")
    rows = []
    for run in list(reversed(runs))[:limit]:
        words = [cat.get("report.page.run.ok" if run.ok else "report.page.run.failed")]
        words.append(cat.get("report.page.run.checked", count=run.checked))
        detail = [f"{escape(cat.get('report.page.run.renewed'))}: {escape(n)}" for n in run.renewed]
        detail += [f"{escape(p.name)}: {escape(p.reason)}" for p in run.failed]
        detail += [escape(e) for e in run.errors]
        state = State.OK if run.ok else State.FAILING
        rows.append(
            f'<tr><td data-label="{escape(started)}">{_time(run.started)}</td>'
            f'<td data-label="{escape(result)}"><span class="sw" style="background:'
            f'{_COLOURS[state]}"></span>{escape(", ".join(words))}'
            + "".join(f'<br><span class="muted">{d}</span>' for d in detail)
            + "</td></tr>"
        )
    head = f"<thead><tr><th>{escape(started)}</th><th>{escape(result)}</th></tr></thead>"
    return f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"


def _findings(findings: Sequence[FindingRow] | None, cat: Catalogue) -> str:
    if findings is None:
        return f'<p class="muted">{escape(cat.get("report.page.findings_unknown"))}</p>'
    if not findings:
        return f'<p class="muted">{escape(cat.get("report.page.no_findings"))}</p>'
    items = []
    for f in findings:
        colour = _COLOURS[State.EXPIRED if f.severity == "critical" else State.DUE]
        where = " · ".join(escape(x) for x in (f.lineage, f.endpoint) if x)
        items.append(
            f'<li data-code="{escape(f.code, quote=True)}"><span class="sw" '
            f'style="background:{colour}"></span><strong>{escape(f.code)}</strong> '
            f'<span class="muted">{where}</span><br>{escape(f.message)}</li>'
        )
    return f"<ul>{''.join(items)}</ul>"


def _legend(cat: Catalogue) -> str:
    marks = [
        ("issued", "#8d99ae"),
        ("ari", "#74c0fc"),
        ("renew_at", "#1c7ed6"),
        ("expiry", "#b3261e"),
        ("today", "#7048e8"),
    ]
    return '<p class="legend">' + "".join(
        f'<span><span class="sw" style="background:{colour}"></span>'
        f"{escape(cat.get(f'report.page.legend.{key}'))}</span>"
        for key, colour in marks
    ) + "</p>"  # fmt: skip


def render_page(facts: PageFacts, catalogue: Catalogue) -> str:
    """The whole HTML document."""
    now = facts.generated
    found = facts.findings or ()
    states = [(lf, lineage_state(lf, found, now)) for lf in facts.lineages]
    order = list(State)
    states.sort(key=lambda item: (order.index(item[1]), item[0].name))
    rows = [
        TimelineRow(lf.name, _COLOURS[st], lf.not_before, lf.not_after, lf.renew_at, lf.ari_window)
        for lf, st in states
    ]
    title = escape(catalogue.get("report.page.title", host=facts.host))
    lang = escape(catalogue.locale, quote=True)
    generated = escape(catalogue.get("report.page.generated", time=_time(now)))
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>"
        f'<h1>{title}</h1><p class="muted">{generated}</p>'
        f"<h2>{escape(catalogue.get('report.page.timeline'))}</h2>"
        f'<div class="tl">{timeline_svg(rows, now)}</div>{_legend(catalogue)}'
        f"<h2>{escape(catalogue.get('report.page.certificates'))}</h2>"
        f"{_lineage_rows(states, now, catalogue)}"
        f"<h2>{escape(catalogue.get('report.page.findings'))}</h2>"
        f"{_findings(facts.findings, catalogue)}"
        f"<h2>{escape(catalogue.get('report.page.runs'))}</h2>{_runs(facts.runs, catalogue)}"
        "</body></html>\n"
    )
