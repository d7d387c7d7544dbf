"""Figure 7: `renew` over fleets of 1,000, 10,000 and 100,000 lineages none due.

A fleet is cheap to build: ``SEED`` real certificates are issued by Pebble once; each fleet
lineage gets its own name, its own archive folder holding hard links to one seed's files, its
own live/ symlinks and a renewal conf written from a template (the renew check does not care
that a lineage's certificate names another host). Each tool gets its own copy, so each starts
cold. Every run goes through ``/usr/bin/time -f %M`` for the peak RSS (the largest of the
process and the helper process it forks); wall time is measured around it. Later runs are the
best of ``REPEAT`` (the machine is shared: the figures are noisy).

The largest fleet then has one more first run (its renew state removed), through a counting
proxy in front of Pebble (tests/support/fault_proxy.py, ``--server`` pointed at it): the most
renewalInfo GETs in flight at once, over both of certsmith's processes, against the per-CA
bound. It is not the timed first run: the proxy (Python, on the same 2 cores) slows it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cli_figures import certbot_cmd, certbot_env, certsmith_cmd
from common import ROOT, Completed, Row, not_run, pebble, run_cmd
from lineages import build

sys.path.insert(0, str(ROOT / "tests"))

from certsmith.renewal.due import ARI_CONCURRENCY
from support.fault_proxy import FaultProxy, in_thread

SEED = 100
SIZES = (1_000, 10_000, 100_000)
CERTBOT_SIZE = 1_000  # certbot's figure (at 4-5 ms a lineage, larger fleets take minutes)
REPEAT = 3
RSS_LIMIT_MB = 300.0
TIME = "/usr/bin/time"


def make_fleet(seed_dir: Path, target: Path, count: int) -> None:
    """``count`` lineages under ``target`` cloned from the seed lineages in ``seed_dir``."""
    seeds = sorted(p.name[: -len(".conf")] for p in (seed_dir / "renewal").glob("*.conf"))
    for sub in ("renewal", "archive", "live"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    shutil.copytree(seed_dir / "accounts", target / "accounts", dirs_exist_ok=True)
    templates = {s: (seed_dir / "renewal" / f"{s}.conf").read_text() for s in seeds}
    for i in range(count):
        seed = seeds[i % len(seeds)]
        name = f"f{i:06d}.example"
        archive, live = target / "archive" / name, target / "live" / name
        archive.mkdir()
        live.mkdir()
        for kind in ("cert", "chain", "fullchain", "privkey"):
            os.link(seed_dir / "archive" / seed / f"{kind}1.pem", archive / f"{kind}1.pem")
            (live / f"{kind}.pem").symlink_to(f"../../archive/{name}/{kind}1.pem")
        conf = templates[seed].replace(f"{seed_dir}/archive/{seed}", f"{target}/archive/{name}")
        conf = conf.replace(f"{seed_dir}/live/{seed}/", f"{target}/live/{name}/")
        (target / "renewal" / f"{name}.conf").write_text(conf)


def timed(argv: list[str], env: dict[str, str] | None, timeout: float) -> tuple[Completed, float]:
    """Run ``argv``; its wall time and peak RSS in MB (from /usr/bin/time)."""
    result = run_cmd([TIME, "-f", "maxrss=%M", *argv], env, timeout=timeout)
    rss = 0.0
    for line in result.stderr.splitlines():
        if line.startswith("maxrss="):
            rss = int(line.split("=")[1]) / 1024
    return result, rss


def _summary(result: Completed) -> dict[str, Any]:
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            data: dict[str, Any] = json.loads(line)
            return data
    return {}


def figure7(workdir: Path, sizes: tuple[int, ...] = SIZES, timeout: float = 1200.0) -> list[Row]:
    root = workdir / "fig7"
    rows: list[Row] = []
    with pebble(root / "pebble", nonce_reject=0) as ca:
        params = {"authenticator": "standalone", "key_type": "ecdsa"}
        seed_dir = root / "seed" / "etc"
        names, errors = build(ca, seed_dir, SEED, params)
        if len(names) < SEED:
            return [not_run("7", "fleet renew", f"seed issuance failed: {errors[:1]}")]
        certbot_later = _certbot(ca, seed_dir, root, CERTBOT_SIZE, timeout, rows)
        for count in sizes:
            base = root / f"certsmith-{count}"
            start = time.perf_counter()
            make_fleet(seed_dir, base / "etc", count)
            rows.append(Row("7", f"build a fleet of {count:,}", time.perf_counter() - start, "s"))
            args = ["renew", "--no-random-sleep-on-renew", "--json"]
            argv = certsmith_cmd(ca, base, *args)
            first, rss = timed(argv, None, timeout)
            if first.returncode != 0:
                rows.append(not_run("7", f"certsmith {count:,}", first.tail()))
                continue
            data = _summary(first)
            note = f"ARI asked {data.get('ari_asked')}, deferred {data.get('ari_deferred')}"
            rows.append(Row("7", f"certsmith renew {count:,}, first run", first.seconds, "s",
                            note=note, details=data))  # fmt: skip
            rows.append(Row("7", f"certsmith peak RSS {count:,}, first run", rss, "MB",
                            f"< {RSS_LIMIT_MB:.0f}", rss < RSS_LIMIT_MB))  # fmt: skip
            # Runs until no ARI answer is left to fetch (each asks at most the limit).
            for _ in range(8):
                if not data.get("ari_deferred"):
                    break
                data = _summary(run_cmd(argv, None, timeout=timeout))
            later = [timed(argv, None, timeout) for _ in range(REPEAT)]
            best = min(later, key=lambda r: r[0].seconds)
            asked = _summary(best[0]).get("ari_asked")
            rows.append(Row("7", f"certsmith renew {count:,}, later run (best of {REPEAT})",
                            best[0].seconds, "s", note=f"ARI asked {asked}"))  # fmt: skip
            peak = max(r[1] for r in later)
            rows.append(Row("7", f"certsmith peak RSS {count:,}, later runs", peak, "MB",
                            f"< {RSS_LIMIT_MB:.0f}", peak < RSS_LIMIT_MB))  # fmt: skip
            if certbot_later is not None and count == max(sizes):
                ratio = best[0].seconds / certbot_later
                rows.append(Row("7", f"certsmith later {count:,} / certbot later {CERTBOT_SIZE:,}",
                                ratio, "x", "<= 1", ratio <= 1.0))  # fmt: skip
            if count == max(sizes):
                rows.extend(_counted_first_run(ca, base, count, timeout))
            shutil.rmtree(base, ignore_errors=True)
    return rows


def _counted_first_run(ca: Any, base: Path, count: int, timeout: float) -> list[Row]:
    """A first run again (renew state removed) through a proxy counting renewalInfo GETs."""
    shutil.rmtree(base / "etc" / ".certsmith-state", ignore_errors=True)
    upstream = f"https://127.0.0.1:{ca.acme_port}"
    (base / "proxy").mkdir(exist_ok=True)
    with in_thread(FaultProxy(upstream, str(ca.ca_bundle), base / "proxy")) as proxy:
        watch = proxy.watch("renewalInfo")
        args = ["renew", "--no-random-sleep-on-renew", "--json"]
        through = SimpleNamespace(directory_url=f"{proxy.url}/dir", ca_bundle=proxy.ca_bundle)
        argv = certsmith_cmd(through, base, *args)
        result = run_cmd(argv, None, timeout=timeout)
    if result.returncode != 0:
        return [not_run("7", f"counted first run {count:,}", result.tail())]
    asked = _summary(result).get("ari_asked")
    note = f"{watch.total} renewalInfo GETs at the proxy, {asked} asked (renew --json)"
    metric = f"renewalInfo GETs in flight at most, first run {count:,}"
    ok = watch.most <= ARI_CONCURRENCY and watch.total == asked
    return [
        Row("7", metric, watch.most, "req", f"<= {ARI_CONCURRENCY}", ok, note),
        Row("7", f"certsmith renew {count:,}, first run through the proxy", result.seconds, "s"),
    ]


def _certbot(
    ca: Any, seed_dir: Path, root: Path, count: int, timeout: float, rows: list[Row]
) -> float | None:
    base = root / f"certbot-{count}"
    make_fleet(seed_dir, base / "etc", count)
    argv = certbot_cmd(ca, base, "renew", "--no-random-sleep-on-renew")
    runs = [timed(argv, certbot_env(ca), timeout) for _ in range(1 + REPEAT)]
    if any(r[0].returncode != 0 for r in runs):
        rows.append(not_run("7", f"certbot {count:,}", runs[-1][0].tail()))
        return None
    first, later = runs[0], runs[1:]
    best = min(r[0].seconds for r in later)
    rows.append(Row("7", f"certbot renew {count:,}, first run", first[0].seconds, "s",
                    note=f"peak RSS {first[1]:.0f} MB"))  # fmt: skip
    rows.append(Row("7", f"certbot renew {count:,}, later run (best of {REPEAT})", best, "s",
                    note=f"peak RSS {max(r[1] for r in later):.0f} MB"))  # fmt: skip
    shutil.rmtree(base, ignore_errors=True)
    return best
