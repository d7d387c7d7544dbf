"""Figures 3-6: the `certsmith` command side by side with certbot 5.8.0 against one Pebble."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common import CERTBOT, CERTSMITH, Completed, Row, judge, median, not_run, pebble, run_cmd
from core import fresh_names
from lineages import archive_cert_count, build, clone_config

HTTP01_ADDRESS = "127.0.0.2"


def _dirs(base: Path) -> list[str]:
    return [
        "--config-dir", str(base / "etc"), "--work-dir", str(base / "work"),
        "--logs-dir", str(base / "logs"),
    ]  # fmt: skip


def certsmith_cmd(ca: Any, base: Path, *args: str) -> list[str]:
    return [str(CERTSMITH), *args, "--server", ca.directory_url, "--ca-bundle",
            str(ca.ca_bundle), "-n", *_dirs(base)]  # fmt: skip


def certbot_cmd(ca: Any, base: Path, *args: str) -> list[str]:
    return [str(CERTBOT), *args, "--server", ca.directory_url, "-n", *_dirs(base)]


def certbot_env(ca: Any) -> dict[str, str]:
    return {"REQUESTS_CA_BUNDLE": str(ca.ca_bundle)}


def _standalone(ca: Any, name: str) -> list[str]:
    return ["certonly", "--standalone", "-d", name, "--http-01-address", HTTP01_ADDRESS,
            "--http-01-port", str(ca.http01_port), "--agree-tos",
            "--register-unsafely-without-email"]  # fmt: skip


def _failure(tool: str, done: Completed) -> str:
    return f"{tool} exited {done.returncode}: {done.tail()}"


def figure3(workdir: Path, runs: int = 3) -> list[Row]:
    """One issuance through each CLI (fresh config dir: account registration included)."""
    times: dict[str, list[float]] = {"certsmith": [], "certbot": []}
    failure: dict[str, str] = {}
    with pebble(workdir / "fig3", nonce_reject=0) as ca:
        for i in range(runs):
            for tool in ("certbot", "certsmith"):
                if tool in failure:
                    continue
                [name] = fresh_names(1, tool[:5])
                ca.add_a(name, [HTTP01_ADDRESS])
                base = workdir / "fig3" / f"{tool}-{i}"
                if tool == "certsmith":
                    argv = certsmith_cmd(ca, base, *_standalone(ca, name), "--no-preflight")
                    done = run_cmd(argv, timeout=90)
                else:
                    done = run_cmd(certbot_cmd(ca, base, *_standalone(ca, name)),
                                   certbot_env(ca), timeout=90)  # fmt: skip
                if done.returncode != 0 or not (base / "etc/live" / name / "cert.pem").exists():
                    failure[tool] = _failure(tool, done)
                else:
                    times[tool].append(done.seconds)
    rows = []
    for tool in ("certbot", "certsmith"):
        if times[tool]:
            rows.append(Row("3", f"{tool} certonly --standalone, 1 name (median of "
                            f"{len(times[tool])})", median(times[tool]), "s",
                            details={"runs": times[tool]}))  # fmt: skip
        else:
            rows.append(not_run("3", f"{tool} certonly --standalone", failure[tool]))
    if times["certbot"] and times["certsmith"]:
        ratio = median(times["certsmith"]) / median(times["certbot"])
        rows.append(Row("3", "certsmith / certbot issuance wall time", ratio, "x", "<= 0.33",
                        judge(ratio, 1 / 3), "NONCEREJECT=0, fresh account each run"))  # fmt: skip
    else:
        rows.append(not_run("3", "certsmith / certbot issuance wall time",
                            "; ".join(failure.values()), "<= 0.33"))  # fmt: skip
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
    if failure:
        return [not_run("4", "--help start-up", "; ".join(failure.values()), "<= 0.40")]
    smith, bot = median(times["certsmith"]), median(times["certbot"])
    return [
        Row("4", "certbot --help (median)", bot, "s", details={"runs": times["certbot"]}),
        Row("4", "certsmith --help (median)", smith, "s", details={"runs": times["certsmith"]}),
        Row("4", "certsmith / certbot --help time", smith / bot, "x", "<= 0.40",
            judge(smith / bot, 0.4)),  # fmt: skip
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
            rows.append(Row("5", f"{tool} renew, {count} lineages none due, run {i + 1}",
                            result.seconds, "s", note=f"{renewed} renewed" if renewed else ""))  # fmt: skip
        if tool in failure:
            rows.append(not_run("5", f"{tool} renew", failure[tool]))
    for i, limit, label in ((0, 0.25, "<= 0.25"), (1, 0.10, "<= 0.10")):
        if len(done["certbot"]) > i and len(done["certsmith"]) > i:
            ratio = done["certsmith"][i].seconds / done["certbot"][i].seconds
            rows.append(Row("5", f"certsmith / certbot renew time, run {i + 1}", ratio, "x",
                            label, judge(ratio, limit)))  # fmt: skip
        else:
            rows.append(not_run("5", f"certsmith / certbot renew time, run {i + 1}",
                                "; ".join(failure.values()) or "missing run", label))  # fmt: skip
    return rows


def figure6(workdir: Path, count: int = 12, sleep_time: int = 2, timeout: float = 180.0) -> (
    list[Row]
):
    """``certsmith renew --force-renewal`` of ``count`` lineages, --parallel 8 vs 1."""
    root = workdir / "fig6"
    with pebble(root / "pebble", nonce_reject=0, validation_sleep=True,
                sleep_time=sleep_time) as ca:  # fmt: skip
        params = {"authenticator": "standalone", "key_type": "ecdsa",
                  "http01_address": HTTP01_ADDRESS, "http01_port": str(ca.http01_port)}  # fmt: skip
        names, errors = build(ca, root / "base" / "etc", count, params, prefix="r")
        if len(names) < count:
            return [not_run("6", "renew --parallel", f"issuance failed: {errors[:1]}")]
        for name in names:  # renewal answers with certsmith's own server on 127.0.0.2
            ca.add_a(name, [HTTP01_ADDRESS])
        times: dict[int, float] = {}
        failure = ""
        for parallel in (1, 8):
            base = root / f"p{parallel}"
            clone_config(root / "base" / "etc", base / "etc")
            argv = certsmith_cmd(ca, base, "renew", "--force-renewal", "--parallel",
                                 str(parallel), "--no-random-sleep-on-renew", "--no-preflight",
                                 "--http-01-address", HTTP01_ADDRESS, "--http-01-port",
                                 str(ca.http01_port))  # fmt: skip
            result = run_cmd(argv, timeout=timeout)
            renewed = archive_cert_count(base / "etc") - count
            if result.returncode != 0 or renewed != count:
                failure = f"--parallel {parallel}: renewed {renewed}/{count}; " + _failure(
                    "certsmith", result
                )
                break
            times[parallel] = result.seconds
    setup = f"PEBBLE_VA_SLEEPTIME={sleep_time}, NONCEREJECT=0, --force-renewal"
    if failure:
        return [not_run("6", f"renew --parallel 8 / --parallel 1, {count} due", failure,
                        "<= 0.33")]  # fmt: skip
    ratio = times[8] / times[1]
    return [
        Row("6", f"certsmith renew --parallel 1, {count} due", times[1], "s", note=setup),
        Row("6", f"certsmith renew --parallel 8, {count} due", times[8], "s", note=setup),
        Row("6", "renew --parallel 8 / --parallel 1", ratio, "x", "<= 0.33",
            judge(ratio, 1 / 3), setup),  # fmt: skip
    ]
