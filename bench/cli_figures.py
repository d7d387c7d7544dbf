"""Figures 3-6: the `certsmith` command side by side with certbot 5.8.0 against one Pebble."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

from common import CERTBOT, CERTSMITH, Completed, Row, judge, median, not_run, pebble, run_cmd
from core import fresh_names
from lineages import archive_cert_count, build, clone_config

HTTP01_ADDRESS = "127.0.0.2"
# The issue "One engine behind every command": one CLI issuance at most 1/5 of certbot's wall
# time, --help under 0.3x.
ISSUANCE_TARGET = 0.20
HELP_TARGET = 0.30
# The request lines certsmith's transport logs (at DEBUG, always written to the log file).
_REQUEST_LINE = re.compile(r":certsmith\.acme\.transport:(GET|HEAD|POST) ")


def _dirs(base: Path) -> list[str]:
    return [
        "--config-dir",
        str(base / "etc"),
        "--work-dir",
        str(base / "work"),
        "--logs-dir",
        str(base / "logs"),
    ]


def certsmith_cmd(ca: Any, base: Path, *args: str) -> list[str]:
    return [
        str(CERTSMITH),
        *args,
        "--server",
        ca.directory_url,
        "--ca-bundle",
        str(ca.ca_bundle),
        "-n",
        *_dirs(base),
    ]


def certbot_cmd(ca: Any, base: Path, *args: str) -> list[str]:
    return [str(CERTBOT), *args, "--server", ca.directory_url, "-n", *_dirs(base)]


def certbot_env(ca: Any) -> dict[str, str]:
    return {"REQUESTS_CA_BUNDLE": str(ca.ca_bundle)}


def _standalone(ca: Any, name: str) -> list[str]:
    return [
        "certonly",
        "--standalone",
        "-d",
        name,
        "--http-01-address",
        HTTP01_ADDRESS,
        "--http-01-port",
        str(ca.http01_port),
        "--agree-tos",
        "--register-unsafely-without-email",
    ]


def _failure(tool: str, done: Completed) -> str:
    return f"{tool} exited {done.returncode}: {done.tail()}"


def _logged_requests(logs_dir: Path) -> int | None:
    """HTTP requests to the CA that certsmith logged in ``logs_dir``; None when none are found
    (the log format changed, or nothing was logged)."""
    count = 0
    for path in logs_dir.glob("*.log*"):
        count += len(_REQUEST_LINE.findall(path.read_text(errors="replace")))
    return count or None


def figure3(workdir: Path, runs: int = 5) -> list[Row]:
    """One issuance through each CLI, side by side against one Pebble (validation sleep off,
    NONCEREJECT=0): ``runs`` rounds, each tool once per round in a fresh config dir (account
    registration included), alternating which goes first; median wall times and their ratio."""
    times: dict[str, list[float]] = {"certsmith": [], "certbot": []}
    requests: list[int] = []
    failure: dict[str, str] = {}
    with pebble(workdir / "fig3", nonce_reject=0) as ca:
        for i in range(runs):
            order = ("certbot", "certsmith") if i % 2 == 0 else ("certsmith", "certbot")
            for tool in order:
                if tool in failure:
                    continue
                [name] = fresh_names(1, tool[:5])
                ca.add_a(name, [HTTP01_ADDRESS])
                base = workdir / "fig3" / f"{tool}-{i}"
                if tool == "certsmith":
                    argv = certsmith_cmd(ca, base, *_standalone(ca, name), "--no-preflight")
                    done = run_cmd(argv, timeout=90)
                else:
                    done = run_cmd(
                        certbot_cmd(ca, base, *_standalone(ca, name)), certbot_env(ca), timeout=90
                    )
                if done.returncode != 0 or not (base / "etc/live" / name / "cert.pem").exists():
                    failure[tool] = _failure(tool, done)
                else:
                    times[tool].append(done.seconds)
                    logged = _logged_requests(base / "logs") if tool == "certsmith" else None
                    if logged is not None:
                        requests.append(logged)
    rows = []
    for tool in ("certbot", "certsmith"):
        if times[tool]:
            rows.append(
                Row(
                    "3",
                    f"{tool} certonly --standalone, 1 name (median of {len(times[tool])})",
                    median(times[tool]),
                    "s",
                    details={"runs": times[tool]},
                )
            )
        else:
            rows.append(not_run("3", f"{tool} certonly --standalone", failure[tool]))
    if requests:
        rows.append(
            Row(
                "3",
                "certsmith requests to the CA per run (from its log, median)",
                median(requests),
                "req",
                note="account registration included; 9 + newAccount is the floor",
                details={"runs": requests},
            )
        )
    target = f"<= {ISSUANCE_TARGET:.2f}"
    if times["certbot"] and times["certsmith"]:
        ratio = median(times["certsmith"]) / median(times["certbot"])
        rows.append(
            Row(
                "3",
                "certsmith / certbot issuance wall time",
                ratio,
                "x",
                target,
                judge(ratio, ISSUANCE_TARGET),
                "NONCEREJECT=0, fresh account each run",
            )
        )
    else:
        rows.append(
            not_run(
                "3",
                "certsmith / certbot issuance wall time",
                "; ".join(failure.values()),
                target,
            )
        )
    return rows


def figure4(runs: int = 7) -> list[Row]:
    """Start-up: ``--help`` wall time, median of ``runs`` after one warm-up run each."""
    times: dict[str, list[float]] = {"certsmith": [], "certbot": []}
    failure: dict[str, str] = {}
    for i in range(runs + 1):
        for tool, exe in (("certbot", CERTBOT), ("certsmith", CERTSMITH)):
            done = run_cmd([str(exe), "--help"], timeout=30)
            if done.returncode != 0:
                failure[tool] = _failure(tool, done)
            elif i > 0:
                times[tool].append(done.seconds)
    target = f"<= {HELP_TARGET:.2f}"
    if failure:
        return [not_run("4", "--help start-up", "; ".join(failure.values()), target)]
    smith, bot = median(times["certsmith"]), median(times["certbot"])
    return [
        Row("4", "certbot --help (median)", bot, "s", details={"runs": times["certbot"]}),
        Row("4", "certsmith --help (median)", smith, "s", details={"runs": times["certsmith"]}),
        Row(
            "4",
            "certsmith / certbot --help time",
            smith / bot,
            "x",
            target,
            judge(smith / bot, HELP_TARGET),
        ),
    ]


def _renew_runs(
    figure: str, ca: Any, bases: dict[str, Path], extra: dict[str, list[str]], timeout: float
) -> tuple[dict[str, list[Completed]], dict[str, str]]:
    """Run each tool's ``renew`` twice on its own config dir; stops a tool at its first failure."""
    done: dict[str, list[Completed]] = {"certbot": [], "certsmith": []}
    failure: dict[str, str] = {}
    for _ in range(2):
        for tool, base in bases.items():
            if tool in failure:
                continue
            args = ["renew", "--no-random-sleep-on-renew", *extra.get(tool, [])]
            if tool == "certsmith":
                result = run_cmd(certsmith_cmd(ca, base, *args), timeout=timeout)
            else:
                result = run_cmd(certbot_cmd(ca, base, *args), certbot_env(ca), timeout=timeout)
            if result.returncode != 0:
                failure[tool] = _failure(tool, result)
            else:
                done[tool].append(result)
    return done, failure


def figure5(workdir: Path, count: int = 1000, timeout: float = 240.0) -> list[Row]:
    """``renew`` over ``count`` lineages none of which is due, first and second run."""
    root = workdir / "fig5"
    with pebble(root / "pebble", nonce_reject=0) as ca:
        start = time.perf_counter()
        params = {"authenticator": "standalone", "key_type": "ecdsa"}
        names, errors = build(ca, root / "base" / "etc", count, params)
        setup = time.perf_counter() - start
        if len(names) < count:
            reason = f"only {len(names)} of {count} issued; first error: {errors[:1]}"
            return [not_run("5", "renew over lineages", reason)]
        bases = {"certbot": root / "certbot", "certsmith": root / "certsmith"}
        for base in bases.values():
            clone_config(root / "base" / "etc", base / "etc")
        done, failure = _renew_runs("5", ca, bases, {}, timeout)
    rows = [Row("5", f"setup: issue + write {count} lineages", setup, "s")]
    for tool, base in bases.items():
        renewed = archive_cert_count(base / "etc") - count
        for i, result in enumerate(done[tool]):
            rows.append(
                Row(
                    "5",
                    f"{tool} renew, {count} lineages none due, run {i + 1}",
                    result.seconds,
                    "s",
                    note=f"{renewed} renewed" if renewed else "",
                )
            )
        if tool in failure:
            rows.append(not_run("5", f"{tool} renew", failure[tool]))
    for i, limit, label in ((0, 0.25, "<= 0.25"), (1, 0.10, "<= 0.10")):
        if len(done["certbot"]) > i and len(done["certsmith"]) > i:
            ratio = done["certsmith"][i].seconds / done["certbot"][i].seconds
            rows.append(
                Row(
                    "5",
                    f"certsmith / certbot renew time, run {i + 1}",
                    ratio,
                    "x",
                    label,
                    judge(ratio, limit),
                )
            )
        else:
            rows.append(
                not_run(
                    "5",
                    f"certsmith / certbot renew time, run {i + 1}",
                    "; ".join(failure.values()) or "missing run",
                    label,
                )
            )
    return rows


HOOK = """#!{python}
import json, os, sys, urllib.request
body = {{"token": os.environ["CERTBOT_TOKEN"]}}
if sys.argv[1] == "add":
    body["content"] = os.environ["CERTBOT_VALIDATION"]
req = urllib.request.Request("{url}/" + sys.argv[1] + "-http01", json.dumps(body).encode())
urllib.request.urlopen(req, timeout=10).read()
"""


def _manual_hooks(ca: Any, root: Path) -> tuple[str, str]:
    """Auth and cleanup hooks that publish http-01 responses through challtestsrv."""
    path = root / "challtest-hook.py"
    path.write_text(HOOK.format(python=sys.executable, url=ca.challtestsrv_url))
    path.chmod(0o755)
    return f"{path} add", f"{path} del"


def _renew_argv(
    ca: Any, base: Path, parallel: int, variant: str, hooks: tuple[str, str]
) -> list[str]:
    args = [
        "renew",
        "--force-renewal",
        "--parallel",
        str(parallel),
        "--no-random-sleep-on-renew",
        "--no-preflight",
    ]
    if variant == "standalone":
        args += ["--http-01-address", HTTP01_ADDRESS, "--http-01-port", str(ca.http01_port)]
    else:
        # The manual self-check resolves through challtestsrv and fetches on its port.
        args += [
            "--manual",
            "--manual-auth-hook",
            hooks[0],
            "--manual-cleanup-hook",
            hooks[1],
            "--preferred-challenges",
            "http-01",
            "--dns-resolver",
            ca.dns_address,
            "--http-01-port",
            str(ca.http01_port),
        ]
    return certsmith_cmd(ca, base, *args)


def figure6(
    workdir: Path, count: int = 12, sleep_time: int = 2, timeout: float = 120.0
) -> list[Row]:
    """``certsmith renew --force-renewal`` of ``count`` lineages, --parallel 8 vs 1, answered by
    the standalone server (the brief's setup) and, to isolate the scheduling, by manual hooks
    that publish through challtestsrv."""
    root = workdir / "fig6"
    setup = f"PEBBLE_VA_SLEEPTIME={sleep_time}, NONCEREJECT=0, --force-renewal"
    rows: list[Row] = []
    with pebble(
        root / "pebble", nonce_reject=0, validation_sleep=True, sleep_time=sleep_time
    ) as ca:
        hooks = _manual_hooks(ca, root)
        for variant in ("standalone", "manual-hook"):
            params: dict[str, Any] = {
                "authenticator": "standalone",
                "key_type": "ecdsa",
                "http01_address": HTTP01_ADDRESS,
                "http01_port": str(ca.http01_port),
            }
            if variant != "standalone":
                params = {
                    "authenticator": "manual",
                    "key_type": "ecdsa",
                    "pref_challs": ["http-01"],
                    "manual_auth_hook": hooks[0],
                    "manual_cleanup_hook": hooks[1],
                }
            names, errors = build(
                ca, root / variant / "etc", count, params, prefix=variant[0], renewable=True
            )
            if len(names) < count:
                rows.append(not_run("6", f"renew ({variant})", f"issuance failed: {errors[:1]}"))
                continue
            if variant == "standalone":  # certsmith's own server answers on 127.0.0.2
                for name in names:
                    ca.add_a(name, [HTTP01_ADDRESS])
            times: dict[int, float] = {}
            for parallel in (1, 8):
                base = root / f"{variant}-p{parallel}"
                clone_config(root / variant / "etc", base / "etc")
                result = run_cmd(_renew_argv(ca, base, parallel, variant, hooks), timeout=timeout)
                renewed = archive_cert_count(base / "etc") - count
                label = f"certsmith renew --parallel {parallel}, {count} due ({variant})"
                if result.returncode != 0 or renewed != count:
                    why = f"renewed {renewed}/{count}; " + _failure("certsmith", result)
                    rows.append(not_run("6", label, why))
                else:
                    times[parallel] = result.seconds
                    rows.append(Row("6", label, result.seconds, "s", note=setup))
            ratio_label = f"renew --parallel 8 / --parallel 1 ({variant})"
            if len(times) == 2:
                ratio = times[8] / times[1]
                rows.append(Row("6", ratio_label, ratio, "x", "<= 0.33", judge(ratio, 1 / 3)))
            else:
                rows.append(not_run("6", ratio_label, "a run failed (see above)", "<= 0.33"))
    return rows
