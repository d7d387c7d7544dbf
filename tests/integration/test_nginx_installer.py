"""nginx as authenticator and installer through the engine, against Pebble and a real nginx.

The test's nginx has a Debian-style server root (tests/support/nginx_site.py) with one plain
site listening on NGINX_IP at Pebble's http-01 port; Pebble's DNS points the test's names at
NGINX_IP, so the CA's validation requests reach that nginx. The engine is driven directly
(the CLI wires --nginx to the same factory): issue through the nginx authenticator, install,
enhance, renew, and a broken configuration that must be rolled back.
"""

from __future__ import annotations

import difflib
import http.client
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import unique_name

from certsmith.acme.identifier import Identifier
from certsmith.installers import config_changes, installer_factory, rollback
from certsmith.renewal.engine import Engine, LineageRequest
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.events import QuietEvents
from certsmith.renewal.install import InstallError
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


def only_insertions(old: str, new: str) -> bool:
    """True when ``new`` is ``old`` with lines added and none removed or changed."""
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    return all(tag in {"equal", "insert"} for tag, *_ in matcher.get_opcodes())


def http_get(setup: Setup, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(NGINX_IP, setup.ca.http01_port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": setup.name})
        response = conn.getresponse()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


async def test_nginx_issues_installs_redirects_and_serves_a_forced_renewal(setup: Setup) -> None:
    before = setup.config_bytes()
    async with setup.engine() as engine:
        issued = await engine.obtain_lineage(setup.request(enhancements=("redirect",)))
        assert issued.error is None, issued.error
        assert await engine.reload_servers() == []

        # The challenge files are gone, the site file gained only what certsmith added.
        assert not (setup.site.root / "certsmith-acme-challenge.conf").exists()
        assert setup.wait_served(setup.live_serial()) == setup.live_serial()
        status, location = http_get(setup, "/index.html")
        assert (status, location) == (301, f"https://{setup.name}:{setup.https_port}/index.html")
        assert http_get(setup, "/.well-known/acme-challenge/none")[0] == 404  # not redirected
        site_file = setup.site.root / "sites-enabled" / "example"
        assert only_insertions(before[site_file].decode(), site_file.read_text())
        assert len(config_changes({"config_dir": str(setup.config_dir)})) == 2  # deploy, redirect

        first = setup.live_serial()
        renewed = await engine.obtain_lineage(setup.request(force=True))
        assert renewed.error is None, renewed.error
        assert setup.live_serial() != first
        assert await engine.reload_servers() == []
        assert setup.wait_served(setup.live_serial()) == setup.live_serial()


async def test_a_deploy_nginx_rejects_is_rolled_back_and_the_old_certificate_stays(
    setup: Setup,
) -> None:
    async with setup.engine() as engine:
        issued = await engine.obtain_lineage(setup.request())
        assert issued.error is None, issued.error
        await engine.reload_servers()
    served = setup.wait_served(setup.live_serial())
    # A config nginx -t rejects from now on (crossplane reads it; nginx does not know it).
    (setup.site.root / "sites-enabled" / "broken").write_text(
        f"server {{ listen {NGINX_IP}:{setup.https_port}; no_such_directive on; }}\n"
    )
    before = setup.config_bytes()
    checkpoints = config_changes({"config_dir": str(setup.config_dir)})

    installer = installer_factory(setup.config_dir)("nginx", setup.options())
    # Other live/ paths, so the deploy has something to edit (the same paths edit nothing).
    live = {
        "fullchain": setup.config_dir / "live" / "other" / "fullchain.pem",
        "privkey": setup.config_dir / "live" / "other" / "privkey.pem",
    }
    with pytest.raises(InstallError, match="no_such_directive"):
        installer.deploy(setup.name, [setup.name], live)

    assert setup.config_bytes() == before
    assert config_changes({"config_dir": str(setup.config_dir)}) == checkpoints
    assert setup.served_serial() == served


async def test_rollback_restores_the_site_as_it_was_before_the_install(setup: Setup) -> None:
    before = setup.config_bytes()
    async with setup.engine() as engine:
        issued = await engine.obtain_lineage(setup.request())
        assert issued.error is None, issued.error
        await engine.reload_servers()
    assert setup.config_bytes() != before

    undone = rollback("nginx", {**setup.options(), "config_dir": str(setup.config_dir)}, 1)

    assert len(undone) == 1
    assert setup.config_bytes() == before
    with pytest.raises(OSError):  # reloaded: nothing listens on the https port any more
        setup.served_serial()
