"""`certsmith check`: what is on disk and what servers present, one line per finding.

Exit codes: 0 ok, 1 warning, 2 critical (monitor/findings.py). Worded from the catalogue
(``check.*`` keys); ``--json`` and ``--prometheus`` as docs/monitoring.md describes them.
"""

from __future__ import annotations

import json

from certsmith.cli.console import Console
from certsmith.cli.monitor_args import CheckOptions
from certsmith.monitor.check import prometheus_text, run_check, write_prometheus
from certsmith.monitor.findings import Finding, Severity
from certsmith.storage.filesystem import file_stores


def wording(console: Console, finding: Finding) -> tuple[str, str]:
    """The finding's sentence and what to do, in the console's language."""
    facts = {k: ", ".join(v) if isinstance(v, list) else v for k, v in finding.facts.items()}
    values = {
        "lineage": finding.lineage or "",
        "endpoint": finding.endpoint or "",
        **facts,
    }
    key = f"monitor.{finding.code}"
    return console.message(key, **values), console.message(f"{key}.advice", **values)


def check(options: CheckOptions, console: Console) -> int:
    stores = file_stores(options.common.config_dir)
    report = run_check(
        stores,
        options.endpoints,
        server_name=options.server_name,
        warn_days=options.warn_days,
    )
    from certsmith.cli.notify_hook import after_check  # alerts; never fails the check

    after_check(console, options.common.config_dir, report, lambda f: wording(console, f))
    if options.prometheus is not None:
        write_prometheus(options.prometheus, prometheus_text(report))
    if options.json:
        document = report.to_json(lambda f: wording(console, f))
        console.data(json.dumps(document, indent=2))
        return int(report.severity)
    for finding in report.findings:
        message, advice = wording(console, finding)
        label = console.message(f"monitor.severity.{finding.severity.label}")
        console.say(f"{label}: {message}\n  {advice}")
    counts = {s: sum(f.severity is s for f in report.findings) for s in Severity}
    console.say(
        console.message(
            "monitor.summary",
            lineages=len(report.disks),
            endpoints=len(report.endpoints),
            critical=counts[Severity.CRITICAL],
            warning=counts[Severity.WARNING],
        )
    )
    return int(report.severity)
