"""Hole 11 of issue 11 against Pebble: two `certsmith renew --standalone` processes at once on
one config dir (a timer's and a person's) take turns on the port; neither fails a lineage with
"address already in use"."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_cli_e2e import Cli, cli, unique_name

pytestmark = pytest.mark.pebble

__all__ = ["cli"]  # the fixture, imported so pytest finds it here


def test_two_standalone_renewals_at_once_take_turns_on_the_port(cli: Cli) -> None:
    names = [unique_name(f"turn{i}") for i in range(3)]
    for name in names:
        cli.certonly(name)
    argv = ("renew", "--force-renewal", "--no-random-sleep-on-renew")
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(cli.run, *argv, timeout=180) for _ in range(2)]
        results = [run.result() for run in runs]
    renewed = skipped = 0
    for result in results:
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "in use" not in output, output
        summary = re.search(r"(\d+) renewed, \d+ not due, (\d+) failed, (\d+) skipped", output)
        assert summary is not None, output
        assert summary.group(2) == "0", output
        renewed += int(summary.group(1))
        skipped += int(summary.group(3))
    # Every lineage renewed at least once; one left to the other run is skipped, not failed.
    assert renewed >= len(names) and renewed + skipped == 2 * len(names)
