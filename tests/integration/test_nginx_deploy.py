"""A real nginx serving certsmith's lineage through certbot's paths, before and after a renewal.

A certbot user's server block reads ``ssl_certificate /etc/letsencrypt/live/<name>/fullchain.pem;
ssl_certificate_key .../privkey.pem;`` and a deploy hook reloads nginx. After switching to
certsmith that must keep working: the live/ links must resolve to a matching key and a full chain
that verifies against Pebble's root, and a forced renewal with ``--deploy-hook "nginx -s reload"``
must make nginx serve the new certificate. Needs nginx (Debian: nginx; see tests/support/
nginx.py); skipped when it is missing.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import Cli, cli, unique_name

from support.nginx import NginxServer, nginx_path

pytestmark = [
    pytest.mark.pebble,
    pytest.mark.skipif(nginx_path() is None, reason="nginx not installed (apt-get install nginx)"),
]

__all__ = ["cli"]  # the fixture, imported for pytest

SERVE_TIMEOUT = 10.0


def served_certificate(server: NginxServer, name: str, root_pem: Path) -> x509.Certificate:
    """The leaf nginx presents for SNI ``name``; the handshake verifies it against ``root_pem``
    (so the served chain must carry the intermediate) and checks ``name`` against its SANs."""
    context = ssl.create_default_context(cafile=str(root_pem))
    with (
        socket.create_connection((server.host, server.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def wait_for_serial(server: NginxServer, name: str, root_pem: Path, serial: int) -> int:
    """Polls (bounded) until nginx serves ``serial``; returns the last serial it saw."""
    deadline = time.monotonic() + SERVE_TIMEOUT
    seen = served_certificate(server, name, root_pem).serial_number
    while seen != serial and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = served_certificate(server, name, root_pem).serial_number
    return seen


def live_serial(cli: Cli, name: str) -> int:
    cert = cli.config_dir / "live" / name / "cert.pem"
    return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number


@pytest.fixture
def root_pem(pebble: PebbleCA, tmp_path: Path) -> Path:
    path = tmp_path / "pebble-root.pem"
    path.write_text(pebble.roots_pem())
    return path


@pytest.fixture
def nginx_for(tmp_path: Path) -> Iterator[list[NginxServer]]:
    started: list[NginxServer] = []
    yield started
    for server in started:
        server.stop()


def test_nginx_serves_live_paths_and_reloads_after_renewal(
    cli: Cli, tmp_path: Path, root_pem: Path, nginx_for: list[NginxServer]
) -> None:
    name = unique_name("nginx")
    cli.certonly(name)
    live = cli.config_dir / "live" / name
    first_serial = live_serial(cli, name)

    server = NginxServer(tmp_path / "nginx", cert=live / "fullchain.pem", key=live / "privkey.pem")
    nginx_for.append(server.start())
    conf = server.conf_path.read_text()
    assert f"ssl_certificate {live / 'fullchain.pem'};" in conf
    assert f"ssl_certificate_key {live / 'privkey.pem'};" in conf
    served = served_certificate(server, name, root_pem)
    assert served.serial_number == first_serial

    record = tmp_path / "deploy.log"
    hook = f'echo "$RENEWED_LINEAGE|$RENEWED_DOMAINS" >> {record} && {server.reload_command()}'
    result = cli.run(
        "renew", "--force-renewal", "--no-random-sleep-on-renew", "--deploy-hook", hook
    )
    assert result.returncode == 0, result.stderr
    assert "1 renewed, 0 not due, 0 failed" in result.stdout
    assert record.read_text() == f"{live}|{name}\n"

    second_serial = live_serial(cli, name)
    assert second_serial != first_serial
    assert str((live / "fullchain.pem").readlink()) == f"../../archive/{name}/fullchain2.pem"
    seen = wait_for_serial(server, name, root_pem, second_serial)
    assert seen == second_serial, (
        f"still serving {seen:x}, want {second_serial:x}\n{server.log_tail()}"
    )
    assert server.process is not None and server.process.poll() is None  # same master, reloaded
    log = server.log_tail(200)
    assert "[emerg]" not in log and "reconfiguring" in log, log


def test_reload_command_uses_the_same_prefix_and_config(tmp_path: Path) -> None:
    server = NginxServer(tmp_path / "n", cert=tmp_path / "c.pem", key=tmp_path / "k.pem")
    argv = server.reload_command().split()
    assert argv[-2:] == ["-s", "reload"]
    assert argv[argv.index("-p") + 1] == str(tmp_path / "n")
    assert argv[argv.index("-c") + 1] == "nginx.conf"
