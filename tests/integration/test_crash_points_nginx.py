"""Crash points of the nginx installer (tests/support/crash_points.py, INSTALLER_POINTS).

``certsmith --nginx -d NAME`` (the run verb) against Pebble and a real nginx (the site root of
test_cli_nginx.py), SIGKILLed after the config edit (before ``nginx -t``), just before the
reload and just after it. After the kill: ``nginx -t`` passes and what nginx serves for the
name, if anything, is a certificate the CA issued to the run (a TLS handshake only completes
with a matching pair). Then the timer's plain ``renew`` exits 0 without a new order and nginx
serves the lineage's certificate: a deploy is done only once the server reloaded, so a run
killed before the reload leaves the deploy owed (keep_issued.awaits_deploy).
"""

from __future__ import annotations

import os
import time

import pytest
from test_cli_nginx import NginxCli, nginx_cli
from test_crash_kill import RUN_TIMEOUT, Killed, check_lineage, run_and_kill
from test_crash_points import KILLED, PYTHON, WRAPPER, read_lines

from support.crash_points import INSTALLER_POINTS
from support.nginx import nginx_path

pytestmark = [
    pytest.mark.pebble,
    pytest.mark.skipif(nginx_path() is None, reason="nginx not installed (apt-get install nginx)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="nginx -t and reload as on a server need root"),
]

__all__ = ["nginx_cli"]  # the fixture, imported for pytest


def run(cli: NginxCli, *args: str, crash_at: str = "") -> Killed:
    env = {
        **os.environ,
        "PYTHONWARNINGS": "error",
        "CRASH_AT": crash_at,
        "CRASH_ORDERS": str(cli.tmp / "orders.log"),
        "CRASH_ISSUED": str(cli.tmp / "issued.pem"),
    }
    argv = [str(PYTHON), str(WRAPPER), *args, *cli.common()]
    log = cli.tmp / f"run-{time.monotonic_ns()}.log"
    killed = run_and_kill(argv, env, RUN_TIMEOUT, log)
    assert "Traceback" not in killed.output, killed.output
    assert killed.survivors == []
    return killed


def served_serial(cli: NginxCli, name: str) -> int | None:
    """The serial nginx serves for ``name`` on the https port; None when nothing is served."""
    try:
        return cli.served_serial(name)
    except OSError:  # no TLS server block for it yet (refused, reset, handshake failure)
        return None


@pytest.mark.parametrize("point", list(INSTALLER_POINTS))
def test_nginx_deploy_killed_at_point_leaves_nginx_valid_and_the_next_renew_serves_the_cert(
    nginx_cli: NginxCli, point: str
) -> None:
    cli, name = nginx_cli, nginx_cli.names[0]
    obtain = ("--nginx", "-d", name, *cli.nginx_flags(), "--agree-tos", "-m", "ops@example.org")
    killed = run(cli, *obtain, crash_at=point)
    assert killed.returncode == KILLED, f"{point} was never reached:\n{killed.output}"
    assert check_lineage(cli.config_dir, name) == 1

    status, complaint = cli.site.check()
    assert status == 0, f"nginx -t fails after a kill at {point}: {complaint}"
    assert served_serial(cli, name) in (None, cli.live_serial(name))

    renewed = run(cli, "renew", "--no-random-sleep-on-renew")
    assert renewed.finished and renewed.returncode == 0, renewed.output
    assert len(read_lines(cli.tmp / "orders.log")) == 1, "the next renew ordered again"
    serial = cli.live_serial(name)
    assert cli.wait_served(name, serial) == serial, f"nginx does not serve it after {point}"
    assert cli.site.check()[0] == 0
    assert not (cli.config_dir / ".certsmith-state" / "pending" / f"{name}.json").exists()
