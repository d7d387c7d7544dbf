"""`certsmith check` against a real nginx on loopback serving a certsmith lineage: it passes,
a forced renewal without a reload makes it report the stale certificate (exit 2, also in
--json and --prometheus), and a reload makes it pass again. Needs nginx (Debian: nginx)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_e2e import CERTSMITH, Cli, cli, unique_name
from test_nginx_deploy import live_serial

from support.nginx import NginxServer, nginx_path

pytestmark = [
    pytest.mark.pebble,
    pytest.mark.skipif(nginx_path() is None, reason="nginx not installed (apt-get install nginx)"),
]

__all__ = ["cli"]  # the fixture, imported for pytest


def check(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [
        CERTSMITH, "check", *args, "--config-dir", str(cli.config_dir),
        "--logs-dir", str(cli.root / "logs"),
    ]  # fmt: skip
    result = subprocess.run(
        argv,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


@pytest.fixture
def nginx_for() -> Iterator[list[NginxServer]]:
    started: list[NginxServer] = []
    yield started
    for server in started:
        server.stop()


def test_check_passes_reports_a_stale_certificate_after_renewal_and_passes_after_reload(
    cli: Cli, tmp_path: Path, nginx_for: list[NginxServer]
) -> None:
    name = unique_name("check")
    cli.certonly(name)
    live = cli.config_dir / "live" / name
    server = NginxServer(tmp_path / "nginx", cert=live / "fullchain.pem", key=live / "privkey.pem")
    nginx_for.append(server.start())
    endpoint = f"127.0.0.1:{server.port}"

    fine = check(cli, endpoint, "--server-name", name)
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "0 critical" in fine.stdout

    first = live_serial(cli, name)
    renewed = cli.run("renew", "--force-renewal", "--no-random-sleep-on-renew")
    assert renewed.returncode == 0, renewed.stderr
    assert live_serial(cli, name) != first

    metrics = tmp_path / "certsmith.prom"
    stale = check(cli, endpoint, "--server-name", name, "--json", "--prometheus", str(metrics))
    assert stale.returncode == 2, stale.stdout + stale.stderr
    document = json.loads(stale.stdout)
    codes = [(f["code"], f["endpoint"]) for f in document["findings"]]
    assert ("stale", endpoint) in codes
    assert document["status"] == "critical" and document["exit_code"] == 2
    assert document["endpoints"][0]["matches_disk"] is False
    assert document["endpoints"][0]["served"]["serial"] == format(first, "x")
    assert document["lineages"][0]["last_run"]["outcome"] == "renewed"  # from the history
    text = metrics.read_text()
    assert f'certsmith_served_matches_disk{{lineage="{name}",endpoint="{endpoint}"}} 0' in text
    assert f'certsmith_last_renewal_success{{lineage="{name}"}} 1' in text
    assert "certsmith_check_status 2" in text

    plain = check(cli, endpoint, "--server-name", name)
    assert plain.returncode == 2
    assert "not reloaded" in plain.stdout

    subprocess.run(server.reload_command(), shell=True, check=True, timeout=30)
    again = fine
    for _ in range(50):  # nginx swaps workers shortly after the reload signal
        again = check(cli, endpoint, "--server-name", name)
        if again.returncode == 0:
            break
    assert again.returncode == 0, again.stdout + again.stderr
