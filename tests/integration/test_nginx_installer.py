"""nginx as authenticator and installer through the engine, against Pebble and a real nginx.

The test's nginx has a Debian-style server root (tests/support/nginx_site.py) with one plain
site listening on NGINX_IP at Pebble's http-01 port; Pebble's DNS points the test's names at
NGINX_IP, so the CA's validation requests reach that nginx. The engine is driven directly
(the CLI wires --nginx to the same factory): issue through the nginx authenticator, install,
enhance, renew, and a broken configuration that must be rolled back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import unique_name

from certsmith.acme.identifier import Identifier
from certsmith.installers import installer_factory
from certsmith.renewal.engine import Engine, LineageRequest
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.events import QuietEvents
from certsmith.renewal.settings import SettingOverrides
from support import served
from support.nginx import free_tcp_port, nginx_path
from support.nginx_site import NginxSiteRoot

pytestmark = [
    pytest.mark.pebble,
    pytest.mark.skipif(nginx_path() is None, reason="nginx not installed (apt-get install nginx)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="nginx -t and reload as on a server need root"),
]

NGINX_IP = "127.0.0.21"
SITE = """\
# {name}: a site as a Debian user writes it
server {{
    listen {ip}:{http_port};  # plain HTTP
    server_name {name};

    root {www};
    index index.html;

    location / {{
        try_files $uri $uri/ =404;
    }}
}}
"""


@dataclass
class Setup:
    ca: PebbleCA
    tmp: Path
    name: str
    site: NginxSiteRoot
    https_port: int

    @property
    def config_dir(self) -> Path:
        return self.tmp / "letsencrypt"

    def options(self) -> dict[str, str]:
        return {
            "nginx_server_root": str(self.site.root),
            "nginx_ctl": self.site.binary,
            "nginx_sleep_seconds": "0.2",
            "http01_port": str(self.ca.http01_port),
            "https_port": str(self.https_port),
        }

    def engine(self) -> Engine:
        env = RunEnvironment(
            self.config_dir,
            events=QuietEvents(agree_tos=True),
            installers=installer_factory(self.config_dir),
        )
        return Engine(env)

    def request(self, **kwargs: object) -> LineageRequest:
        overrides = SettingOverrides(
            server=self.ca.directory_url,
            ca_bundle=str(self.ca.ca_bundle),
            authenticator="nginx",
            installer="nginx",
            extra=self.options(),
        )
        return LineageRequest(
            self.name, identifiers=(Identifier.dns(self.name),), overrides=overrides, **kwargs
        )  # type: ignore[arg-type]

    def config_bytes(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in sorted(self.site.root.rglob("*.conf"))} | {
            p: p.read_bytes() for p in sorted((self.site.root / "sites-enabled").iterdir())
        }

    def live_serial(self) -> int:
        cert = self.config_dir / "live" / self.name / "cert.pem"
        return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number

    def served_serial(self) -> int:
        root = self.tmp / "root.pem"
        return served.served_serial(NGINX_IP, self.https_port, self.name, root)

    def wait_served(self, serial: int, timeout: float = 10.0) -> int:
        return served.wait_served(
            NGINX_IP, self.https_port, self.name, self.tmp / "root.pem", serial, timeout
        )


@pytest.fixture
def setup(pebble: PebbleCA, tmp_path: Path) -> Iterator[Setup]:
    name = unique_name("nginx")
    pebble.add_a(name, [NGINX_IP])
    (tmp_path / "root.pem").write_text(pebble.roots_pem())
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello\n")
    site = NginxSiteRoot(tmp_path / "nginx")
    text = SITE.format(name=name, ip=NGINX_IP, http_port=pebble.http01_port, www=www)
    site.write({"example": text})
    site.start(pebble.http01_port, host=NGINX_IP)
    try:
        yield Setup(pebble, tmp_path, name, site, free_tcp_port(NGINX_IP))
    finally:
        site.stop()
