"""Apache as authenticator and installer through the engine, against Pebble and a real apache2.

The test's apache2 has its own Debian-style server root (tests/support/apache.py) with one
plain site on APACHE_IP at Pebble's http-01 port; Pebble's DNS points the test's name there, so
the CA's validation requests reach that apache. The engine is driven directly (the CLI wires
--apache to the same factory): issue through the apache authenticator, install, enhance, renew,
a configuration apache rejects (rolled back byte for byte), and rollback.
"""

from __future__ import annotations

import http.client
import shutil
import socket
import ssl
import tempfile
import time
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
from support.apache import ApacheServer, free_tcp_port, skip_reason

pytestmark = [
    pytest.mark.pebble,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]

APACHE_IP = "127.0.0.22"
SITE = """\
# {name}: a site as a Debian user writes it
<VirtualHost *:{http_port}>
\tServerName {name}
\tServerAdmin webmaster@localhost
\tDocumentRoot {www}

\t<Directory {www}>
\t\tRequire all granted
\t</Directory>
</VirtualHost>
"""


@dataclass
class Setup:
    ca: PebbleCA
    tmp: Path
    work: Path  # world-traversable: apache's workers (www-data) read the http-01 responses
    name: str
    server: ApacheServer

    @property
    def config_dir(self) -> Path:
        return self.tmp / "letsencrypt"

    @property
    def site(self) -> Path:
        return self.server.root / "sites-available" / "example.conf"

    def options(self) -> dict[str, str]:
        return {**self.server.options(), "work_dir": str(self.work)}

    def engine(self) -> Engine:
        env = RunEnvironment(
            self.config_dir,
            events=QuietEvents(agree_tos=True),
            installers=installer_factory(self.config_dir),
        )
        return Engine(env)

    def request(
        self, lineage: str | None = None, installer: str = "apache", **kwargs: object
    ) -> LineageRequest:
        overrides = SettingOverrides(
            server=self.ca.directory_url,
            ca_bundle=str(self.ca.ca_bundle),
            authenticator="apache",
            installer=installer,
            extra=self.options(),
        )
        return LineageRequest(
            lineage or self.name,
            identifiers=(Identifier.dns(self.name),),
            overrides=overrides,
            **kwargs,  # type: ignore[arg-type]
        )

    def config_bytes(self) -> dict[Path, bytes]:
        """Every file and symlink of the server root's configuration (links as their target)."""
        found: dict[Path, bytes] = {}
        for path in sorted(self.server.root.rglob("*")):
            if path.is_symlink():
                found[path] = str(path.readlink()).encode()
            elif path.is_file() and path.parent.name not in ("logs", "run", "lock"):
                found[path] = path.read_bytes()
        return found

    def live_serial(self, lineage: str | None = None) -> int:
        cert = self.config_dir / "live" / (lineage or self.name) / "cert.pem"
        return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number

    def served_serial(self) -> int:
        return served.served_serial(
            APACHE_IP, self.server.https_port, self.name, self.tmp / "root.pem"
        )

    def wait_served(self, serial: int, timeout: float = 10.0) -> int:
        return served.wait_served(
            APACHE_IP, self.server.https_port, self.name, self.tmp / "root.pem", serial, timeout
        )


@pytest.fixture
def setup(pebble: PebbleCA, tmp_path: Path) -> Iterator[Setup]:
    name = unique_name("apache")
    pebble.add_a(name, [APACHE_IP])
    (tmp_path / "root.pem").write_text(pebble.roots_pem())
    work = Path(tempfile.mkdtemp(prefix="certsmith-apache-"))
    work.chmod(0o755)
    server = ApacheServer(
        tmp_path / "apache",
        host=APACHE_IP,
        http_port=pebble.http01_port,
        https_port=free_tcp_port(APACHE_IP),
    )
    server.write_root()
    www = server.root / "www"
    server.add_site("example.conf", SITE.format(name=name, http_port=pebble.http01_port, www=www))
    server.start()
    try:
        yield Setup(pebble, tmp_path, work, name, server)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def https_header(setup: Setup, header: str) -> str | None:
    context = ssl.create_default_context(cafile=str(setup.tmp / "root.pem"))
    conn = http.client.HTTPSConnection(
        APACHE_IP, setup.server.https_port, timeout=5, context=context
    )
    try:
        # http.client sends the connect address as SNI; the name must go in the Host header
        # and the SNI: connect by hand.
        conn.sock = context.wrap_socket(
            socket.create_connection((APACHE_IP, setup.server.https_port), timeout=5),
            server_hostname=setup.name,
        )
        conn.request("GET", "/", headers={"Host": setup.name})
        return conn.getresponse().getheader(header)
    finally:
        conn.close()


async def test_apache_issues_installs_redirects_and_serves_a_forced_renewal(setup: Setup) -> None:
    before = setup.config_bytes()
    async with setup.engine() as engine:
        issued = await engine.obtain_lineage(setup.request(enhancements=("redirect", "hsts")))
        assert issued.error is None, issued.error
        assert await engine.reload_servers() == []

        # The http-01 folder is gone and the site file only gained the redirect.
        assert list((setup.work / "http_challenges").iterdir()) == []
        assert "IncludeOptional" not in setup.site.read_text()
        assert served.only_insertions(before[setup.site].decode(), setup.site.read_text())
        ssl_site = setup.server.root / "sites-available" / "example-le-ssl.conf"
        enabled = setup.server.root / "sites-enabled" / "example-le-ssl.conf"
        assert str(enabled.readlink()) == "../sites-available/example-le-ssl.conf"
        assert f"<VirtualHost *:{setup.server.https_port}>" in ssl_site.read_text()
        assert (setup.server.root / "mods-enabled" / "ssl.load").is_symlink()

        assert setup.wait_served(setup.live_serial()) == setup.live_serial()
        status, location = served.http_status(
            APACHE_IP, setup.ca.http01_port, setup.name, "/index.html"
        )
        assert (status, location) == (
            301,
            f"https://{setup.name}:{setup.server.https_port}/index.html",
        )
        # Not redirected (403: www-data cannot enter the test's tmp folder; any answer but 301).
        assert served.http_status(
            APACHE_IP, setup.ca.http01_port, setup.name, "/.well-known/acme-challenge/none"
        ) == (403, "")
        assert https_header(setup, "Strict-Transport-Security") == "max-age=31536000"
        changes = config_changes({"config_dir": str(setup.config_dir)})
        assert [c.split(": ", 1)[1].split(" ")[0] for c in changes] == [
            "install",
            "redirect",
            "hsts",
        ]

        first = setup.live_serial()
        renewed = await engine.obtain_lineage(setup.request(force=True))
        assert renewed.error is None, renewed.error
        assert setup.live_serial() != first
        assert await engine.reload_servers() == []
        assert setup.wait_served(setup.live_serial()) == setup.live_serial()
        # The renewal changed no configuration (the live/ paths stay), so no new checkpoint.
        assert len(config_changes({"config_dir": str(setup.config_dir)})) == 3


async def test_a_deploy_apache_rejects_is_rolled_back_and_the_old_certificate_stays(
    setup: Setup,
) -> None:
    second = f"{setup.name}-0001"
    async with setup.engine() as engine:
        issued = await engine.obtain_lineage(setup.request())
        assert issued.error is None, issued.error
        await engine.reload_servers()
        # A second lineage for the same name, not installed yet (``-i null``).
        other = await engine.obtain_lineage(setup.request(lineage=second, installer="null"))
        assert other.error is None, other.error
    served = setup.wait_served(setup.live_serial())
    # A site apachectl -t rejects from now on (our parser reads it; apache does not know it).
    (setup.server.root / "sites-enabled" / "broken.conf").write_text(
        f"<VirtualHost {APACHE_IP}:{setup.server.https_port}>\n    NoSuchDirective on\n"
        "</VirtualHost>\n"
    )
    before = setup.config_bytes()
    checkpoints = config_changes({"config_dir": str(setup.config_dir)})

    installer = installer_factory(setup.config_dir)("apache", setup.options())
    live = {
        kind: setup.config_dir / "live" / second / f"{kind}.pem"
        for kind in ("fullchain", "privkey")
    }
    with pytest.raises(InstallError, match="NoSuchDirective"):
        installer.deploy(second, [setup.name], live)

    assert setup.config_bytes() == before
    assert config_changes({"config_dir": str(setup.config_dir)}) == checkpoints
    assert setup.live_serial(second) != served  # saved, yet not served
    assert setup.served_serial() == served


async def test_rollback_restores_the_configuration_as_it_was_before_the_install(
    setup: Setup,
) -> None:
    before = setup.config_bytes()
    async with setup.engine() as engine:
        issued = await engine.obtain_lineage(setup.request())
        assert issued.error is None, issued.error
        await engine.reload_servers()
    assert setup.wait_served(setup.live_serial()) == setup.live_serial()
    assert setup.config_bytes() != before

    undone = rollback("apache", {**setup.options(), "config_dir": str(setup.config_dir)}, 1)

    assert len(undone) == 1 and "install" in undone[0]
    assert setup.config_bytes() == before
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # a graceful reload: old workers finish first
        try:
            setup.served_serial()
        except OSError:
            break
        time.sleep(0.1)
    with pytest.raises(OSError):  # reloaded: nothing listens on the https port any more
        setup.served_serial()
