"""certsmith benchmark: protocol-core and CLI figures against a real Pebble, certbot alongside.

Usage: .venv/bin/python bench/run.py [--only 1,2,...] [--lineages N] [--keep]

Prints a table (PASS/FAIL against each target) and writes bench/results.json. A figure that
cannot run (for example the CLI is not wired yet) is reported as "not run: <reason>" and the
others go on. Targets are reported, never asserted: the exit code is 0 unless the script broke.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli_figures
import core
import fleet
from common import ROOT, Row, not_run

RESULTS = Path(__file__).resolve().parent / "results.json"


def _figures(args: argparse.Namespace) -> dict[str, Callable[[Path], list[Row]]]:
    return {
        "1": core.figure1,
        "2": core.figure2,
        "3": cli_figures.figure3,
        "4": lambda _w: cli_figures.figure4(),
        "5": lambda w: cli_figures.figure5(w, count=args.lineages),
        "6": cli_figures.figure6,
        "7": lambda w: fleet.figure7(w, tuple(int(n) for n in args.fleet.split(","))),
    }


def _format(row: Row) -> str:
    if row.value is None:
        value = "-"
    elif isinstance(row.value, int) or (float(row.value).is_integer() and row.unit == "req"):
        value = f"{int(row.value)}"
    else:
        value = f"{row.value:.3f}" if abs(row.value) < 10 else f"{row.value:.1f}"
    verdict = {True: "PASS", False: "FAIL", None: ""}[row.passed]
    return (
        f"{row.figure:>3}  {row.metric[:62]:<62} {value:>9} {row.unit:<4} {row.target:<8} "
        f"{verdict:<4}  {row.note}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3,4,5,6,7", help="comma-separated figure numbers")
    parser.add_argument("--lineages", type=int, default=1000, help="lineages for figure 5")
    parser.add_argument("--fleet", default="1000,10000,100000", help="fleet sizes, figure 7")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = _figures(args)
    workdir = Path(tempfile.mkdtemp(prefix="certsmith-bench-"))
    rows: list[Row] = []
    started = time.perf_counter()
    print(f"work dir {workdir}", flush=True)
    for key in [k.strip() for k in args.only.split(",") if k.strip()]:
        t0 = time.perf_counter()
        print(f"figure {key} ...", flush=True)
        try:
            new = figures[key](workdir)
        except Exception as exc:  # one broken figure must not hide the others
            traceback.print_exc()
            new = [not_run(key, f"figure {key}", f"{type(exc).__name__}: {exc}")]
        for row in new:
            print(_format(row), flush=True)
        print(f"     ({time.perf_counter() - t0:.1f} s)", flush=True)
        rows.extend(new)
    total = time.perf_counter() - started
    print("\n" + "\n".join(_format(r) for r in rows))
    print(f"total {total:.0f} s")
    RESULTS.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cores": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                },
                "total_seconds": round(total, 1),
                "rows": [r.to_json() for r in rows],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
