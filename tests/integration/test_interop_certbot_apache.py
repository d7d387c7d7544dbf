"""certbot 5.8.0 with its apache plugin and certsmith renew each other's `--apache` lineages.

1. `certbot --apache` obtains and installs into a test apache2 (Pebble validates through it);
   then `certsmith renew --force-renewal` renews that lineage from certbot's renewal conf,
   unchanged (authenticator = apache, installer = apache, apache_server_root, apache_ctl, ...),
   and apache serves the new certificate for the name (TLS handshake with SNI).
2. The reverse: `certsmith --apache` obtains and installs; `certbot renew --force-renewal`
   renews from certsmith's conf through certbot's apache plugin, and apache serves it.

Both tools run with the same --config-dir/--work-dir/--logs-dir. apache2 has its own Debian-style
server root (tests/support/apache.py) listening on APACHE_IP (Pebble's DNS answers it for the
test's name) at Pebble's http-01 port. certbot's plugin defaults are Debian's /etc/apache2 paths,
so the server root, vhost root, challenge location and logs root are all given, a2enmod is run
with APACHE_CONFDIR pointing at the test's root, and --apache-ctl is a wrapper that turns
apache2ctl's words (configtest, graceful) into apache2's flags for that root. The work dir is
world-traversable: Apache's workers (www-data) read the http-01 responses there. certbot's apache
plugin puts its TLS virtual host on port 443 whatever --https-port says (configurator.py's
"443"), so the test's apache2 has its HTTPS port at 443 of its own loopback address.
"""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_cli_e2e import unique_name

from support.apache import ApacheServer, skip_reason
from support.certbot_peer import CERTBOT
from support.web_peer import (
    WebServerPeer,
    certbot_renews_certsmiths_lineage,
    certsmith_renews_certbots_lineage,
)

CERTBOT_PYTHON = CERTBOT.parent / "python"


def _certbot_apache_missing() -> bool:
    if not CERTBOT.exists():
        return True
    done = subprocess.run(
        [str(CERTBOT_PYTHON), "-c", "import certbot_apache, augeas"],
        capture_output=True,
        timeout=60,
    )
    return done.returncode != 0


pytestmark = [
    pytest.mark.certbot,
    pytest.mark.pebble,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
    pytest.mark.skipif(
        _certbot_apache_missing(),
        reason="certbot-apache or python-augeas missing in .venv-certbot (make certbot-venv)",
    ),
]

APACHE_IP = "127.0.0.34"
HTTPS_PORT = 443  # certbot's apache plugin writes <VirtualHost *:443> and Listen 443
SITE = """\
<VirtualHost *:{http_port}>
\tServerName {name}
\tDocumentRoot {www}
</VirtualHost>
"""
# apache2ctl's words as apache2's flags, for certbot (configtest, graceful) and certsmith (-k ...).
CTL = """\
#!/bin/sh
case "$1" in
  configtest) shift; set -- -t "$@";;
  start|stop|restart|graceful|graceful-stop) word=$1; shift; set -- -k "$word" "$@";;
esac
exec {server_ctl} "$@"
"""


@dataclass
class Peer(WebServerPeer):
    pebble: Any
    tmp: Path
    work: Path
    name: str
    server: ApacheServer
    address: str = APACHE_IP

    @property
    def https_port(self) -> int:
        return self.server.https_port

    @property
    def work_dir(self) -> Path:
        return self.work

    @property
    def ctl(self) -> Path:
        return self.tmp / "apache-ctl"

    def extra_env(self) -> dict[str, str]:
        return {"APACHE_CONFDIR": str(self.server.root)}  # a2enmod/a2dismod edit the test's root

    def obtain_args(self) -> list[str]:
        """The --apache command line certbot and certsmith share."""
        root = self.server.root
        return [
            "--apache", "-d", self.name,
            "--apache-server-root", str(root),
            "--apache-vhost-root", str(root / "sites-available"),
            "--apache-challenge-location", str(root),
            "--apache-logs-root", str(root / "logs"),
            "--apache-ctl", str(self.ctl),
            "--http-01-port", str(self.pebble.http01_port),
            "--https-port", str(self.server.https_port),
            "--server", self.pebble.directory_url,
            "--agree-tos", "--register-unsafely-without-email",
        ]  # fmt: skip


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@pytest.fixture
def peer(pebble_factory: Callable[..., Any], tmp_path: Path) -> Iterator[Peer]:
    if not _port_free(APACHE_IP, HTTPS_PORT):
        pytest.skip(f"{APACHE_IP}:{HTTPS_PORT} is taken (certbot's apache plugin needs 443)")
    name = unique_name("cbapa")
    # certbot's ACME client retries a rejected nonce only once: no nonce rejection here.
    pebble = pebble_factory(nonce_reject=0)
    pebble.add_a(name, [APACHE_IP])
    pebble.challtest("/set-default-ipv6", {"ip": ""})
    (tmp_path / "root.pem").write_text(pebble.roots_pem())
    work = Path(tempfile.mkdtemp(prefix="certsmith-apache-interop-"))
    work.chmod(0o755)
    server = ApacheServer(
        tmp_path / "apache",
        host=APACHE_IP,
        http_port=pebble.http01_port,
        https_port=HTTPS_PORT,
    )
    server.write_root()
    (server.root / "envvars").write_text("")  # a2enmod reads $APACHE_CONFDIR/envvars
    www = server.root / "www"
    server.add_site("example.conf", SITE.format(name=name, http_port=pebble.http01_port, www=www))
    server.start()
    result = Peer(pebble, tmp_path, work, name, server)
    result.ctl.write_text(CTL.format(server_ctl=shlex.quote(str(server.ctl))))
    result.ctl.chmod(0o755)
    try:
        yield result
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_certsmith_renews_a_certbot_apache_lineage_through_apache(peer: Peer) -> None:
    certsmith_renews_certbots_lineage(peer, "apache", peer.server.root)


def test_certbot_renews_a_certsmith_apache_lineage_through_apache(peer: Peer) -> None:
    certbot_renews_certsmiths_lineage(peer)
