"""certbot 5.8.0 with certbot-nginx and certsmith renew each other's `--nginx` lineages.

1. `certbot --nginx` obtains and installs into a test nginx (Pebble validates through it); then
   `certsmith renew --force-renewal` renews that lineage from certbot's renewal conf, unchanged
   (authenticator = nginx, installer = nginx, nginx_server_root, nginx_ctl), and nginx serves
   the new certificate without a manual reload.
2. The reverse: `certsmith --nginx` obtains and installs; `certbot renew --force-renewal` renews
   from certsmith's conf through certbot-nginx, and nginx serves the new certificate.

Both tools run with the same --config-dir/--work-dir/--logs-dir; nginx has its own server
root on NGINX_IP (Pebble's DNS answers it for the test's name) at Pebble's http-01 port.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_cli_e2e import unique_name

from support.certbot_peer import CERTBOT
from support.nginx import free_tcp_port, nginx_path
from support.nginx_site import NginxSiteRoot
from support.web_peer import (
    WebServerPeer,
    certbot_renews_certsmiths_lineage,
    certsmith_renews_certbots_lineage,
)

CERTBOT_NGINX = CERTBOT.parent / "python"


def _certbot_nginx_missing() -> bool:
    if not CERTBOT.exists():
        return True
    done = subprocess.run(
        [str(CERTBOT_NGINX), "-c", "import certbot_nginx"], capture_output=True, timeout=60
    )
    return done.returncode != 0


pytestmark = [
    pytest.mark.certbot,
    pytest.mark.pebble,
    pytest.mark.skipif(nginx_path() is None, reason="nginx not installed (apt-get install nginx)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="nginx -t and reload as on a server need root"),
    pytest.mark.skipif(
        _certbot_nginx_missing(),
        reason="certbot-nginx missing in .venv-certbot (make certbot-venv)",
    ),
]

NGINX_IP = "127.0.0.33"
SITE = """\
server {{
    listen {ip}:{http_port};
    server_name {name};
    root {www};
}}
"""


@dataclass
class Peer(WebServerPeer):
    pebble: Any
    tmp: Path
    name: str
    site: NginxSiteRoot
    https_port: int
    address: str = NGINX_IP

    @property
    def ctl(self) -> Path:
        return self.tmp / "nginx-ctl"

    def obtain_args(self) -> list[str]:
        """The --nginx command line certbot and certsmith share."""
        return [
            "--nginx", "-d", self.name,
            "--nginx-server-root", str(self.site.root),
            "--nginx-ctl", str(self.ctl),
            "--nginx-sleep-seconds", "1",  # certbot takes whole seconds
            "--http-01-port", str(self.pebble.http01_port),
            "--https-port", str(self.https_port),
            "--server", self.pebble.directory_url,
            "--agree-tos", "--register-unsafely-without-email",
        ]  # fmt: skip


@pytest.fixture
def peer(pebble_factory: Callable[..., Any], tmp_path: Path) -> Iterator[Peer]:
    name = unique_name("cbngx")
    # certbot's ACME client retries a rejected nonce only once: no nonce rejection here.
    pebble = pebble_factory(nonce_reject=0)
    pebble.add_a(name, [NGINX_IP])
    pebble.challtest("/set-default-ipv6", {"ip": ""})
    (tmp_path / "root.pem").write_text(pebble.roots_pem())
    www = tmp_path / "www"
    www.mkdir()
    site = NginxSiteRoot(tmp_path / "nginx")
    site.write({"site": SITE.format(name=name, ip=NGINX_IP, http_port=pebble.http01_port, www=www)})
    site.start(pebble.http01_port, host=NGINX_IP)
    result = Peer(pebble, tmp_path, name, site, free_tcp_port("0.0.0.0"))
    # certbot-nginx listens on the https port of every address (`listen PORT ssl`).
    result.ctl.write_text(f'#!/bin/sh\nexec {shlex.quote(site.binary)} -e {site.error_log} "$@"\n')
    result.ctl.chmod(0o755)
    try:
        yield result
    finally:
        site.stop()


def test_certsmith_renews_a_certbot_nginx_lineage_through_nginx(peer: Peer) -> None:
    certsmith_renews_certbots_lineage(peer, "nginx", peer.site.root)


def test_certbot_renews_a_certsmith_nginx_lineage_through_nginx(peer: Peer) -> None:
    certbot_renews_certsmiths_lineage(peer)
