"""`certsmith report --html FILE | --serve 127.0.0.1:PORT`: the status page.

The facts come from what is on disk, read-only (no lock, no heal, no private key): each
lineage's certificate and renewal moment (with the CA's ARI window when `renew` cached one), the
run history, the findings of a disk-only `check` run in-process, and the endpoint findings of
the last `certsmith check` that had endpoints (saved by it). ``--serve`` makes the page again
at most every 30 seconds for as long as it runs.
"""

from __future__ import annotations

import datetime
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from certsmith.cli.console import Console
from certsmith.cli.options import ReportOptions
from certsmith.errors import UsageError
from certsmith.notify.alerts import expiry_is_alarming
from certsmith.report import FindingRow, LineageFacts, PageFacts, render_page
from certsmith.storage.files import atomic_write
from certsmith.storage.filesystem import file_stores
from certsmith.storage.notify_files import NotifyFiles

if TYPE_CHECKING:
    from pathlib import Path

    from certsmith.monitor.check import CheckReport
    from certsmith.monitor.compare import OnDisk
    from certsmith.storage.interface import Stores

log = logging.getLogger(__name__)


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _ari(stores: Stores, name: str) -> tuple[datetime.datetime, datetime.datetime] | None:
    from certsmith.renewal.ari_cache import AriCacheRecord

    try:
        state = stores.states.load(name, stores.lineages.revision(name))
        if state is None or not state.ari:
            return None
        return AriCacheRecord.from_json(state.ari).window
    except Exception:  # a cache is a hint: an unreadable one leaves the window out
        log.debug("no ARI window for %s", name, exc_info=True)
        return None


def _renew_at(disk: OnDisk, window: Any, now: datetime.datetime) -> datetime.datetime | None:
    if window is None:
        return disk.renew_at
    from certsmith.renewal.policy import certificate_rng, decide

    cert = disk.cert
    decision = decide(
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        now,
        ari_window=window,
        rng=certificate_rng(cert.serial_number),
    )
    moments = [m for m in (decision.renew_at, disk.renew_at) if m is not None]
    return min(moments) if moments else None  # renew_before_expiry may make it earlier


def _lineages(stores: Stores, report: CheckReport, now: datetime.datetime) -> list[LineageFacts]:
    facts = []
    for disk in report.disks:
        window = _ari(stores, disk.name)
        last = report.last_runs.get(disk.name)
        nb, na = disk.cert.not_valid_before_utc, disk.cert.not_valid_after_utc
        facts.append(
            LineageFacts(
                name=disk.name,
                names=disk.names,
                not_before=nb,
                not_after=na,
                renew_at=_renew_at(disk, window, now),
                ari_window=window,
                alarming=expiry_is_alarming(nb, na, now),
                last_outcome=last[1] if last else None,
                last_reason=last[0].reason_for(disk.name) if last else None,
            )
        )
    for finding in report.findings:
        if str(finding.code) == "unreadable" and finding.lineage:
            problem = str(finding.facts.get("error", ""))
            facts.append(LineageFacts(finding.lineage, problem=problem))
    return facts


def _saved_endpoint_findings(files: NotifyFiles) -> list[FindingRow]:
    rows = []
    for item in files.load_check().get("findings", []):
        if isinstance(item, dict) and item.get("endpoint"):
            rows.append(
                FindingRow(
                    str(item.get("severity", "")), str(item.get("code", "")),
                    item.get("lineage"), str(item["endpoint"]), str(item.get("message", "")),
                )
            )  # fmt: skip
    return rows


def page_facts(
    console: Console, config_dir: Path, now: datetime.datetime | None = None
) -> PageFacts:
    from certsmith.cli.cmd_check import wording
    from certsmith.monitor.check import run_check

    now = now or _utcnow()
    stores = file_stores(config_dir)
    report = run_check(stores, (), now=now)
    findings = [
        FindingRow(f.severity.label, str(f.code), f.lineage, f.endpoint, wording(console, f)[0])
        for f in report.findings
    ]
    findings += _saved_endpoint_findings(NotifyFiles(config_dir))
    runs = stores.history.recent(20) if stores.history is not None else []
    return PageFacts(socket.gethostname(), now, _lineages(stores, report, now), runs, findings)


def _serve_address(text: str, console: Console) -> tuple[str, int]:
    from certsmith.hostport import HostPortError, parse_host_port
    from certsmith.report.serve import is_loopback

    try:
        host, port = parse_host_port(text, default_port=8080)
    except HostPortError:
        raise UsageError(console.message("report.bad_address", address=text)) from None
    if not is_loopback(host):
        raise UsageError(console.message("report.not_loopback", address=text))
    return host, port


def report(options: ReportOptions, console: Console) -> int:
    if options.html is None and options.serve is None:
        raise UsageError(console.message("report.nothing"))
    address = _serve_address(options.serve, console) if options.serve else None
    config_dir = options.common.config_dir

    def render() -> str:
        return render_page(page_facts(console, config_dir), console.catalogue)

    if options.html is not None:
        facts = page_facts(console, config_dir)
        atomic_write(options.html, render_page(facts, console.catalogue).encode("utf-8"))
        count = len(facts.lineages)
        console.say(console.message("report.written", path=options.html, count=count))
    if address is not None:
        serve(address, render, console)
    return 0


def serve(address: tuple[str, int], render: Callable[[], str], console: Console) -> None:
    """Until Ctrl-C (the way to stop a server run by hand)."""
    from certsmith.report.serve import StatusServer

    server = StatusServer(address[0], address[1], render)
    console.say(console.message("report.serving", url=server.url))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        return
