"""One `certsmith check`: every lineage on disk, then every endpoint, to findings and facts.

    run_check(stores, endpoints, ...) -> CheckReport    (the TLS fetch is injected)
    CheckReport.to_json(...)                            the stable ``--json`` document
    prometheus_text(report) / write_prometheus(path)    node_exporter's textfile format

The schema and the metrics are documented in docs/monitoring.md; add fields, never rename.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from certsmith import crypto
from certsmith.hostport import is_ip_literal
from certsmith.monitor.compare import (
    OnDisk,
    choose_lineage,
    days_left,
    disk_findings,
    read_lineage,
    served_findings,
)
from certsmith.monitor.findings import SCHEMA, Code, Finding, Severity, worst
from certsmith.monitor.served import ServedChain, fetch_chain
from certsmith.storage.files import atomic_write
from certsmith.storage.history import RunRecord, last_result_per_lineage
from certsmith.storage.interface import Stores

Fetch = Callable[[str, int, str | None], ServedChain]


@dataclass(frozen=True)
class EndpointResult:
    endpoint: str
    server_name: str | None
    lineage: str | None
    served: x509.Certificate | None
    matches_disk: bool


@dataclass
class CheckReport:
    checked_at: datetime.datetime
    disks: list[OnDisk] = field(default_factory=list)
    endpoints: list[EndpointResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    last_runs: dict[str, tuple[RunRecord, str]] = field(default_factory=dict)
    newest_run: RunRecord | None = None

    @property
    def severity(self) -> Severity:
        return worst(self.findings)

    def to_json(self, wording: Callable[[Finding], tuple[str, str]]) -> dict[str, Any]:
        """The ``--json`` document; ``wording`` gives each finding's message and advice."""
        now = self.checked_at

        def last_run(name: str) -> dict[str, Any] | None:
            if name not in self.last_runs:
                return None
            record, outcome = self.last_runs[name]
            return {
                "started": _iso(record.started),
                "outcome": outcome,
                "reason": record.reason_for(name),
            }

        return {
            "schema": SCHEMA,
            "checked_at": _iso(now),
            "status": self.severity.label,
            "exit_code": int(self.severity),
            "lineages": [
                {
                    "name": d.name,
                    "names": list(d.names),
                    "not_after": _iso(d.cert.not_valid_after_utc),
                    "days_left": days_left(d.cert, now),
                    "renew_at": _iso(d.renew_at) if d.renew_at else None,
                    "last_run": last_run(d.name),
                }
                for d in self.disks
            ],
            "endpoints": [
                {
                    "endpoint": e.endpoint,
                    "server_name": e.server_name,
                    "lineage": e.lineage,
                    "served": _served_json(e.served),
                    "matches_disk": e.matches_disk,
                }
                for e in self.endpoints
            ],
            "findings": [
                {**f.to_json(), "message": words[0], "advice": words[1]}
                for f in self.findings
                for words in [wording(f)]
            ],
        }


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat()


def _served_json(cert: x509.Certificate | None) -> dict[str, Any] | None:
    if cert is None:
        return None
    from cryptography.hazmat.primitives import hashes

    return {
        "serial": format(cert.serial_number, "x"),
        "not_after": _iso(cert.not_valid_after_utc),
        "names": [i.value for i in crypto.certificate_identifiers(cert)],
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }


def endpoint_text(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run_check(
    stores: Stores,
    endpoints: Sequence[tuple[str, int]] = (),
    *,
    server_name: str | None = None,
    warn_days: float | None = None,
    now: datetime.datetime | None = None,
    fetch: Fetch = fetch_chain,
) -> CheckReport:
    report = CheckReport(now or datetime.datetime.now(datetime.UTC))
    now = report.checked_at
    names = stores.lineages.names()
    records = stores.history.recent() if stores.history is not None else []
    report.newest_run = records[-1] if records else None
    report.last_runs = last_result_per_lineage(records, names)
    for name in names:
        disk = read_lineage(stores, name, now)
        if isinstance(disk, Finding):
            report.findings.append(disk)
            continue
        report.disks.append(disk)
        report.findings += disk_findings(disk, now, warn_days, report.last_runs.get(name))
    for host, port in endpoints:
        _check_endpoint(report, host, port, server_name, warn_days, fetch)
    return report


def _check_endpoint(
    report: CheckReport,
    host: str,
    port: int,
    server_name: str | None,
    warn_days: float | None,
    fetch: Fetch,
) -> None:
    where = endpoint_text(host, port)
    sni = server_name or (None if is_ip_literal(host) else host)
    chain = fetch(host, port, sni)
    if chain.error is not None or not chain.certificates:
        facts = {"error": chain.error or "no certificate"}
        report.findings.append(Finding(Code.UNREACHABLE, None, where, facts))
        report.endpoints.append(EndpointResult(where, sni, None, None, False))
        return
    served = [x509.load_der_x509_certificate(der) for der in chain.certificates]
    served_names = [i.value for i in crypto.certificate_identifiers(served[0])]
    disk = choose_lineage(report.disks, sni, served_names)
    if disk is None:
        facts = {"server_name": sni or " ".join(served_names)}
        report.findings.append(Finding(Code.NO_LINEAGE, None, where, facts))
        report.endpoints.append(EndpointResult(where, sni, None, served[0], False))
        return
    report.findings += served_findings(
        disk, served, chain.complete, where, sni, report.checked_at, warn_days
    )
    report.endpoints.append(
        EndpointResult(where, sni, disk.name, served[0], served[0] == disk.cert)
    )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(report: CheckReport) -> str:
    """node_exporter's textfile format (docs/monitoring.md lists the metrics)."""
    out: list[str] = []

    def metric(name: str, help_: str, rows: list[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} gauge")
        for labels, value in rows:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")

    now = report.checked_at
    metric(
        "certsmith_certificate_expiry_timestamp_seconds",
        "When the deployed certificate expires (Unix time).",
        [({"lineage": d.name}, d.cert.not_valid_after_utc.timestamp()) for d in report.disks],
    )
    metric(
        "certsmith_certificate_days_left",
        "Days until the deployed certificate expires.",
        [({"lineage": d.name}, days_left(d.cert, now)) for d in report.disks],
    )
    metric(
        "certsmith_last_renewal_success",
        "1 when the newest renew run that named the lineage renewed it, 0 when it failed.",
        [
            ({"lineage": name}, 1.0 if outcome == "renewed" else 0.0)
            for name, (_, outcome) in sorted(report.last_runs.items())
            if outcome in ("renewed", "failed")
        ],
    )
    if report.newest_run is not None:
        run = report.newest_run
        metric(
            "certsmith_last_run_timestamp_seconds",
            "When the newest renew run started (Unix time).",
            [({}, run.started.timestamp())],
        )
        metric(
            "certsmith_last_run_success",
            "1 when the newest renew run succeeded.",
            [({}, 1.0 if run.ok else 0.0)],
        )
    metric(
        "certsmith_served_matches_disk",
        "1 when the endpoint serves the lineage's deployed certificate.",
        [
            ({"lineage": e.lineage or "", "endpoint": e.endpoint}, float(e.matches_disk))
            for e in report.endpoints
        ],
    )
    metric("certsmith_check_status", "0 ok, 1 warning, 2 critical.", [({}, report.severity)])
    return "\n".join(out) + "\n"


def write_prometheus(path: Path, text: str) -> None:
    """Atomically (the collector never reads half a file), readable by node_exporter (0644)."""
    atomic_write(path, text.encode(), 0o644)
