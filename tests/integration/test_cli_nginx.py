"""`certsmith --nginx` as a user runs it: the CLI as a subprocess, Pebble, and a real nginx.

The test's nginx has a Debian-style server root (tests/support/nginx_site.py) with one plain
site on NGINX_IP at Pebble's http-01 port; Pebble's DNS points the test's names there, so the
CA's validation requests reach that nginx. ``--nginx-ctl`` is a wrapper script that logs every
invocation (to count reloads) and runs the real nginx; ``--https-port`` is a free port, so the
TLS server block certsmith adds listens on NGINX_IP only.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import CERTSMITH, unique_name

from support import dry_run_diff, served
from support.nginx import free_tcp_port, nginx_path
from support.nginx_site import NginxSiteRoot

pytestmark = [
    pytest.mark.pebble,
    pytest.mark.skipif(nginx_path() is None, reason="nginx not installed (apt-get install nginx)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="nginx -t and reload as on a server need root"),
]

NGINX_IP = "127.0.0.31"
TIMEOUT = 30
SITE = """\
# {name}: a site as a Debian user writes it
server {{
    listen {ip}:{http_port};  # plain HTTP
    server_name {name};

    root {www};

    location / {{
        try_files $uri $uri/ =404;
    }}
}}
"""


@dataclass
class NginxCli:
    """The certsmith binary against one Pebble and one nginx, folders under one tmp_path."""

    ca: PebbleCA
    tmp: Path
    site: NginxSiteRoot
    https_port: int
    names: tuple[str, ...]

    @property
    def config_dir(self) -> Path:
        return self.tmp / "letsencrypt"

    @property
    def ctl(self) -> Path:
        return self.tmp / "nginx-ctl"

    @property
    def ctl_log(self) -> Path:
        return self.tmp / "nginx-ctl.log"

    def write_ctl(self, fail_reload: bool = False) -> None:
        """A --nginx-ctl that logs its arguments; with ``fail_reload``, `-s reload` fails."""
        fail = 'case "$*" in *"-s reload"*) echo "reload refused" >&2; exit 1;; esac\n'
        self.ctl.write_text(
            "#!/bin/sh\n"
            f'echo "$*" >> {shlex.quote(str(self.ctl_log))}\n'
            f"{fail if fail_reload else ''}"
            f'exec {shlex.quote(self.site.binary)} -e {self.site.error_log} "$@"\n'
        )
        self.ctl.chmod(0o755)

    def nginx_flags(self) -> list[str]:
        return [
            "--nginx-server-root", str(self.site.root),
            "--nginx-ctl", str(self.ctl),
            "--nginx-sleep-seconds", "0.2",
            "--https-port", str(self.https_port),
            "--http-01-port", str(self.ca.http01_port),
        ]  # fmt: skip

    def common(self) -> list[str]:
        return [
            "--server", self.ca.directory_url,
            "--ca-bundle", str(self.ca.ca_bundle),
            "--config-dir", str(self.config_dir),
            "--work-dir", str(self.tmp / "work"),
            "--logs-dir", str(self.tmp / "logs"),
            "--no-preflight", "-n",
        ]  # fmt: skip

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [CERTSMITH, *args, *self.common()],
            env={**os.environ, "PYTHONWARNINGS": "error"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    def obtain(self, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        """`certsmith --nginx -d NAME` (the run verb); asserts success."""
        result = self.run(
            "--nginx", "-d", name, *self.nginx_flags(), "--agree-tos", "-m", "ops@example.org",
            *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result

    def reloads(self) -> int:
        if not self.ctl_log.exists():
            return 0
        return sum("-s reload" in line for line in self.ctl_log.read_text().splitlines())

    def config_bytes(self) -> dict[Path, bytes]:
        found = [p for p in self.site.root.rglob("*") if p.is_file() and _is_config(p)]
        return {p: p.read_bytes() for p in sorted(found)}

    def live_serial(self, name: str) -> int:
        cert = self.config_dir / "live" / name / "cert.pem"
        return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number

    def served_serial(self, name: str) -> int:
        root = self.tmp / "root.pem"
        return served.served_serial(NGINX_IP, self.https_port, name, root)

    def wait_served(self, name: str, serial: int, timeout: float = 10.0) -> int:
        """The serial served for ``name`` once it is ``serial`` (or at the deadline)."""
        root = self.tmp / "root.pem"
        return served.wait_served(NGINX_IP, self.https_port, name, root, serial, timeout)

    def http_get(self, name: str, path: str) -> tuple[int, str]:
        return served.http_status(NGINX_IP, self.ca.http01_port, name, path)

    def renewal_conf(self, name: str) -> str:
        return (self.config_dir / "renewal" / f"{name}.conf").read_text()


def _is_config(path: Path) -> bool:
    return path.suffix in (".conf", "") and path.name not in ("nginx.pid", "error.log")


@pytest.fixture
def nginx_cli(pebble: PebbleCA, tmp_path: Path) -> Iterator[NginxCli]:
    names = (unique_name("ngx"), unique_name("ngx2"))
    for name in names:
        pebble.add_a(name, [NGINX_IP])
    (tmp_path / "root.pem").write_text(pebble.roots_pem())
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello\n")
    site = NginxSiteRoot(tmp_path / "nginx")
    site.write(
        {
            f"site{i}": SITE.format(name=n, ip=NGINX_IP, http_port=pebble.http01_port, www=www)
            for i, n in enumerate(names)
        }
    )
    site.start(pebble.http01_port, host=NGINX_IP)
    cli = NginxCli(pebble, tmp_path, site, free_tcp_port(NGINX_IP), names)
    cli.write_ctl()
    try:
        yield cli
    finally:
        site.stop()


def test_run_with_nginx_obtains_installs_and_serves_the_certificate(nginx_cli: NginxCli) -> None:
    name = nginx_cli.names[0]
    result = nginx_cli.obtain(name)
    serial = nginx_cli.live_serial(name)
    assert nginx_cli.wait_served(name, serial) == serial, result.stderr
    conf = nginx_cli.renewal_conf(name)
    assert "authenticator = nginx" in conf
    assert "installer = nginx" in conf
    assert f"nginx_server_root = {nginx_cli.site.root}" in conf


def test_redirect_answers_301_to_https_on_the_http_port(nginx_cli: NginxCli) -> None:
    name = nginx_cli.names[0]
    nginx_cli.obtain(name, "--redirect")
    location = f"https://{name}:{nginx_cli.https_port}/index.html"
    assert nginx_cli.http_get(name, "/index.html") == (301, location)


def test_forced_renewal_of_two_lineages_is_served_after_one_reload(nginx_cli: NginxCli) -> None:
    for name in nginx_cli.names:
        nginx_cli.obtain(name)
    before = {name: nginx_cli.live_serial(name) for name in nginx_cli.names}
    reloads, configs = nginx_cli.reloads(), nginx_cli.config_bytes()

    result = nginx_cli.run("renew", "--force-renewal", "--no-random-sleep-on-renew")

    assert result.returncode == 0, result.stderr
    # The http-01 answers of the two orders reload nginx (present and cleanup of each order);
    # installing the two new certificates adds exactly one reload at the end of the run.
    challenge_reloads = 2 * len(nginx_cli.names)
    assert nginx_cli.reloads() - reloads == challenge_reloads + 1
    for name in nginx_cli.names:
        serial = nginx_cli.live_serial(name)
        assert serial != before[name]
        assert nginx_cli.wait_served(name, serial) == serial
    # The live/ paths were already in place: the renewal edited nothing, so rollback still
    # undoes the installations, not no-op renewals.
    assert nginx_cli.config_bytes() == configs
    changes = nginx_cli.run("config_changes").stdout
    assert changes.count("checkpoint ") == len(nginx_cli.names), changes


def test_certonly_with_nginx_records_the_installer_and_installs_nothing(
    nginx_cli: NginxCli,
) -> None:
    name = nginx_cli.names[0]
    before = nginx_cli.config_bytes()
    result = nginx_cli.run(
        "certonly", "--nginx", "-d", name, *nginx_cli.nginx_flags(), "--agree-tos",
        "--register-unsafely-without-email",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert nginx_cli.config_bytes() == before
    conf = nginx_cli.renewal_conf(name)
    assert "authenticator = nginx" in conf
    assert "installer = nginx" in conf
    with pytest.raises(OSError):  # nothing listens on the https port
        nginx_cli.served_serial(name)

    installed = nginx_cli.run("install", "--cert-name", name, *nginx_cli.nginx_flags())
    assert installed.returncode == 0, installed.stderr
    serial = nginx_cli.live_serial(name)
    assert nginx_cli.wait_served(name, serial) == serial


def test_enhance_rollback_and_config_changes(nginx_cli: NginxCli) -> None:
    name = nginx_cli.names[0]
    nginx_cli.obtain(name)
    installed = nginx_cli.config_bytes()
    reloads = nginx_cli.reloads()

    enhanced = nginx_cli.run("enhance", "--cert-name", name, "--hsts", *nginx_cli.nginx_flags())
    assert enhanced.returncode == 0, enhanced.stderr
    assert nginx_cli.reloads() == reloads + 1
    assert nginx_cli.config_bytes() != installed
    assert any(b"Strict-Transport-Security" in data for data in nginx_cli.config_bytes().values())

    changes = nginx_cli.run("config_changes", *nginx_cli.nginx_flags())
    assert changes.returncode == 0, changes.stderr
    assert f"nginx: deploy {name}" in changes.stdout
    assert f"nginx: hsts for {name}" in changes.stdout

    undone = nginx_cli.run("rollback", "--checkpoints", "1", "--nginx", *nginx_cli.nginx_flags())
    assert undone.returncode == 0, undone.stderr
    assert nginx_cli.config_bytes() == installed
    assert nginx_cli.reloads() == reloads + 2
    after = nginx_cli.run("config_changes", *nginx_cli.nginx_flags())
    assert "hsts" not in after.stdout


def test_a_broken_config_fails_the_install_and_keeps_the_old_certificate(
    nginx_cli: NginxCli,
) -> None:
    name = nginx_cli.names[0]
    nginx_cli.obtain(name)
    served = nginx_cli.wait_served(name, nginx_cli.live_serial(name))
    # From now on nginx -t fails: a directive crossplane reads and nginx does not know.
    (nginx_cli.site.root / "sites-enabled" / "broken").write_text(
        f"server {{ listen {NGINX_IP}:{free_tcp_port(NGINX_IP)}; no_such_directive on; }}\n"
    )
    before = nginx_cli.config_bytes()

    result = nginx_cli.run("--nginx", "-d", name, *nginx_cli.nginx_flags(), "--force-renewal")

    assert result.returncode == 1
    assert "no_such_directive" in result.stderr
    assert nginx_cli.config_bytes() == before
    assert nginx_cli.served_serial(name) == served

    # The live/ paths are in place already: nothing to edit, and the reload nginx refuses.
    installed = nginx_cli.run("install", "--cert-name", name, *nginx_cli.nginx_flags())
    assert installed.returncode == 1
    assert "no_such_directive" in installed.stderr
    assert nginx_cli.config_bytes() == before
    assert nginx_cli.served_serial(name) == served


def test_a_refused_reload_undoes_the_install_and_keeps_the_config(nginx_cli: NginxCli) -> None:
    name = nginx_cli.names[0]
    before = nginx_cli.config_bytes()
    got = nginx_cli.run(
        "certonly", "--nginx", "-d", name, *nginx_cli.nginx_flags(), "--agree-tos",
        "--register-unsafely-without-email",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    nginx_cli.write_ctl(fail_reload=True)  # nginx -t passes, nginx -s reload fails

    installed = nginx_cli.run("install", "--cert-name", name, *nginx_cli.nginx_flags())

    assert installed.returncode == 1
    assert "reload refused" in installed.stderr
    assert f"certsmith undid its changes (deploy {name} for {name})" in installed.stderr
    assert nginx_cli.config_bytes() == before
    assert "No changes" in nginx_cli.run("config_changes").stdout


def test_a_dry_run_with_nginx_installs_nothing(nginx_cli: NginxCli) -> None:
    name = nginx_cli.names[0]
    before = nginx_cli.config_bytes()

    result = nginx_cli.run(
        "--nginx", "-d", name, *nginx_cli.nginx_flags(), "--dry-run", "--agree-tos",
        "--register-unsafely-without-email",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert nginx_cli.config_bytes() == before  # the http-01 edit came and went
    assert not (nginx_cli.config_dir / "live" / name).exists()
    assert "No changes" in nginx_cli.run("config_changes").stdout


def test_a_run_dry_run_with_nginx_prints_the_diff_at_the_would_be_live_paths(
    nginx_cli: NginxCli,
) -> None:
    name = nginx_cli.names[0]
    settings = nginx_cli.config_dir / "certsmith-options-ssl-nginx.conf"

    def files() -> dict[Path, bytes]:
        extra = {settings: settings.read_bytes()} if settings.exists() else {}
        return nginx_cli.config_bytes() | extra

    before = files()
    command = ("--nginx", "-d", name, *nginx_cli.nginx_flags(), "--agree-tos",
               "--register-unsafely-without-email")  # fmt: skip

    preview = nginx_cli.run(*command, "--dry-run")

    assert preview.returncode == 0, preview.stderr
    live = nginx_cli.config_dir / "live" / name
    assert f"+    ssl_certificate {live / 'fullchain.pem'};" in preview.stdout
    assert f"+    ssl_certificate_key {live / 'privkey.pem'};" in preview.stdout
    assert files() == before
    assert not live.exists()
    assert "No changes" in nginx_cli.run("config_changes").stdout
    # and the real run writes what the dry run showed
    assert nginx_cli.run(*command).returncode == 0
    assert dry_run_diff.added_in_preview(preview.stdout) == dry_run_diff.added_between(
        before, files()
    )


def test_https_port_reaches_the_installer_but_not_the_renewal_conf(nginx_cli: NginxCli) -> None:
    name = nginx_cli.names[0]
    nginx_cli.obtain(name)
    assert nginx_cli.wait_served(name, nginx_cli.live_serial(name)) == nginx_cli.live_serial(name)
    # certbot writes only what renewal.py restores, and --https-port is not among it.
    assert "\nhttps_port = " not in nginx_cli.renewal_conf(name)


def test_install_and_enhance_dry_runs_show_the_diff_the_real_commands_write(
    nginx_cli: NginxCli,
) -> None:
    name = nginx_cli.names[0]
    got = nginx_cli.run(
        "certonly", "--nginx", "-d", name, *nginx_cli.nginx_flags(), "--agree-tos",
        "--register-unsafely-without-email",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    settings = nginx_cli.config_dir / "certsmith-options-ssl-nginx.conf"

    def files() -> dict[Path, bytes]:
        extra = {settings: settings.read_bytes()} if settings.exists() else {}
        return nginx_cli.config_bytes() | extra

    for command in (
        ("install", "--cert-name", name, *nginx_cli.nginx_flags()),
        ("enhance", "--cert-name", name, "--redirect"),
    ):
        before, marks = files(), dry_run_diff.checkpoints(nginx_cli.config_dir)
        preview = nginx_cli.run(*command, "--dry-run")
        assert preview.returncode == 0, preview.stderr
        assert files() == before
        assert dry_run_diff.checkpoints(nginx_cli.config_dir) == marks
        assert "managed by certsmith" in preview.stdout
        assert nginx_cli.run(*command).returncode == 0
        assert dry_run_diff.added_in_preview(preview.stdout) == dry_run_diff.added_between(
            before, files()
        )
