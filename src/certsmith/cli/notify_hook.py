"""Alerts at the end of `renew` and `check`: turn their results into alerts and send them.

Nothing here may fail the run that calls it: without ``notify.toml`` it returns at once (one
stat); an unreadable settings file, a dead channel or a bug in sending is logged, and a channel
failure is shown once a day (``Dispatch.new_failures``). The exit code stays the run's own.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certsmith.cli.console import Console
from certsmith.errors import CertsmithError
from certsmith.storage.notify_files import NotifyFiles

if TYPE_CHECKING:
    import httpx

    from certsmith.notify import Alert, Notifier
    from certsmith.renewal.engine import LineageResult
    from certsmith.storage.interface import AccountStorage, LineageStorage

log = logging.getLogger(__name__)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def load_notifier(
    console: Console,
    config_dir: Path,
    *,
    now: Callable[[], datetime.datetime] = _utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Notifier | None:
    """The configured channels, or None (none set up, or the settings cannot be read)."""
    files = NotifyFiles(config_dir)
    try:
        text = files.read_config()
    except OSError as exc:
        console.note(console.message("notify.unreadable", path=files.config_path, error=exc))
        return None
    if text is None:
        return None
    from certsmith.notify import Notifier, parse_config
    from certsmith.preflight.messages import SUPPORTED_LOCALES, Catalogue

    try:
        config = parse_config(text, str(files.config_path))
    except CertsmithError as exc:
        console.note(console.message("notify.unreadable", path=files.config_path, error=exc))
        return None
    if config.empty:
        return None
    lang = config.language
    catalogue = Catalogue(lang) if lang in SUPPORTED_LOCALES else console.catalogue
    return Notifier(config, files, catalogue, socket.gethostname(), now=now, transport=transport)


def deliver(
    console: Console, notifier: Notifier, alerts: Sequence[Alert], cleared: Iterable[str]
) -> None:
    """Send (de-duplicated); show each newly failing channel once. Never raises."""
    try:
        dispatch = asyncio.run(notifier.alert(alerts, list(cleared)))
    except Exception:  # an alert must never fail the run that sends it
        log.exception("sending alerts failed")
        return
    for channel, error in dispatch.new_failures:
        name = console.message(f"notify.channel.{channel}")
        console.note(console.message("notify.channel_failed", channel=name, error=error))


def _expiry(store: LineageStorage, name: str) -> tuple[datetime.datetime, datetime.datetime] | None:
    from certsmith import crypto

    try:
        info = crypto.inspect_certificate(crypto.load_certificates(store.read_live_cert(name))[0])
    except (CertsmithError, ValueError, IndexError, OSError):
        return None
    return info.not_before, info.not_after


def _reason(console: Console, error: BaseException | None) -> str:
    if error is None:
        return "?"
    from certsmith.cli.explain import explain

    text = explain(error, catalogue=console.catalogue).sentence.strip()
    return text if len(text) <= 400 else text[:399] + "…"


def renew_alerts(
    console: Console,
    store: LineageStorage,
    results: Sequence[LineageResult],
    now: datetime.datetime,
) -> tuple[list[Alert], list[str]]:
    """The alerts of a `renew` run, and the problem keys it found gone."""
    from certsmith.notify import Alert, Problem, expiry_is_alarming
    from certsmith.renewal.engine import Outcome

    alerts: list[Alert] = []
    cleared: list[str] = []
    for result in results:
        if result.outcome in (Outcome.RENEWED, Outcome.NOT_DUE):
            cleared += [
                f"{p.value}\t{result.name}" for p in (Problem.RENEWAL_FAILED, Problem.EXPIRING)
            ]
            continue
        if result.outcome is not Outcome.FAILED:
            continue  # LOCKED: another certsmith is renewing it and will say how it went
        dates = _expiry(store, result.name)
        facts: dict[str, str] = {"not_after": "?", "days": "?"}
        if dates is not None:
            days = (dates[1] - now).total_seconds() / 86400
            facts = {"not_after": dates[1].strftime("%Y-%m-%d %H:%M UTC"), "days": f"{days:.1f}"}
        error = result.error
        kind = type(error).__name__ if error is not None else "unknown"
        reason = _reason(console, error)
        alerts.append(Alert(result.name, Problem.RENEWAL_FAILED, kind, {**facts, "reason": reason}))
        if dates is not None and expiry_is_alarming(dates[0], dates[1], now):
            alerts.append(Alert(result.name, Problem.EXPIRING, dates[1].isoformat(), facts))
    return alerts, cleared


def persist_alerts(
    store: LineageStorage, accounts: AccountStorage, names: Iterable[str], now: datetime.datetime
) -> tuple[list[Alert], list[str]]:
    """dns-persist lineages whose standing record stops counting within 30 days (a lookup for
    each of them only); those checked and fine are cleared, those not checked are left alone."""
    from certsmith.cli.persist_watch import persist_checks
    from certsmith.notify import Alert, Problem

    alerts: list[Alert] = []
    cleared: list[str] = []
    for name, check in persist_checks(store, accounts, names, now).items():
        if check.error is not None:
            continue
        if not check.soon or check.until is None:
            cleared.append(f"{Problem.PERSIST_UNTIL.value}\t{name}")
            continue
        days = (check.until - now).total_seconds() / 86400
        facts = {
            "until": check.until.strftime("%Y-%m-%d %H:%M UTC"),
            "days": f"{days:.1f}",
            "names": ", ".join(check.names),
            "domain": check.names[0].removeprefix("*.") if check.names else name,
        }
        alerts.append(Alert(name, Problem.PERSIST_UNTIL, check.until.isoformat(), facts))
    return alerts, cleared


def alert_after_renew(
    console: Console,
    config_dir: Path,
    store: LineageStorage,
    results: Sequence[LineageResult],
    *,
    accounts: AccountStorage | None = None,
    dry_run: bool = False,
    now: Callable[[], datetime.datetime] = _utcnow,
) -> None:
    """The end of `renew`: failures and late renewals to the channels (a dry run sends none);
    with ``accounts``, a dns-persist record running out too."""
    if dry_run:
        return
    try:
        notifier = load_notifier(console, config_dir, now=now)
        if notifier is None:
            return
        alerts, cleared = renew_alerts(console, store, results, now())
        if accounts is not None:
            more, gone = persist_alerts(store, accounts, [r.name for r in results], now())
            alerts, cleared = alerts + more, cleared + gone
    except Exception:  # never fail the renewal for its alerts
        log.exception("preparing alerts failed")
        return
    deliver(console, notifier, alerts, cleared)


def check_alerts(findings: Sequence[Any]) -> tuple[list[Alert], list[str]]:
    """Alerts from `check` findings (``certsmith.monitor.findings.Finding``): a stale served
    certificate, and an expired one; the lineages checked without them are cleared."""
    from certsmith.notify import Alert, Problem

    alerts: list[Alert] = []
    for finding in findings:
        code, lineage, facts = str(finding.code), finding.lineage, dict(finding.facts)
        if lineage is None:
            continue
        values = {k: str(v) for k, v in facts.items()}
        values["endpoint"] = finding.endpoint or ""
        if code == "stale":
            fingerprint = f"{finding.endpoint}:{facts.get('served_serial')}"
            alerts.append(Alert(lineage, Problem.STALE, fingerprint, values))
        elif code == "expired":
            values.setdefault("days", "0")
            alerts.append(Alert(lineage, Problem.EXPIRING, str(facts.get("not_after")), values))
    return alerts, []


def alert_after_check(
    console: Console,
    config_dir: Path,
    findings: Sequence[Any],
    lineages: Iterable[str] = (),
    *,
    now: Callable[[], datetime.datetime] = _utcnow,
) -> None:
    """The end of `check`: stale and expired certificates to the channels. ``lineages``: those
    the check compared with a server; a stale alert of theirs that was not found again is
    forgotten (it alerts anew when it returns)."""
    try:
        notifier = load_notifier(console, config_dir, now=now)
        if notifier is None:
            return
        alerts, _ = check_alerts(findings)
        stale = {a.lineage for a in alerts if a.problem.value == "stale"}
        cleared = [f"stale\t{name}" for name in lineages if name not in stale]
    except Exception:
        log.exception("preparing alerts failed")
        return
    deliver(console, notifier, alerts, cleared)


def after_check(
    console: Console,
    config_dir: Path,
    report: Any,
    wording: Callable[[Any], tuple[str, str]],
) -> None:
    """The end of `check` (``report``: a ``certsmith.monitor.check.CheckReport``): keep the
    endpoint findings for the status page, then alert. Never raises."""
    try:
        if report.endpoints:
            rows = [{**f.to_json(), "message": wording(f)[0]} for f in report.findings]
            at = report.checked_at.isoformat()
            NotifyFiles(config_dir).save_check({"checked_at": at, "findings": rows})
        compared = {e.lineage for e in report.endpoints if e.lineage}
    except Exception:
        log.exception("keeping the findings of check failed")
        return
    alert_after_check(console, config_dir, report.findings, compared)
