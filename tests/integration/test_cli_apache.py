"""`certsmith --apache` as a user runs it: the CLI as a subprocess, Pebble, and a real apache2.

The test's apache2 has its own Debian-style server root (tests/support/apache.py) with one
plain site on APACHE_IP at Pebble's http-01 port; Pebble's DNS points the test's name there.
``--apache-ctl`` is a wrapper that logs its arguments and runs the server root's apachectl;
``--work-dir`` is world-traversable, because Apache's workers read the http-01 responses there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import CERTSMITH, unique_name

from support import dry_run_diff, served
from support.apache import ApacheServer, free_tcp_port, skip_reason

pytestmark = [
    pytest.mark.pebble,
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]

APACHE_IP = "127.0.0.32"
TIMEOUT = 90
SITE = """\
# {name}: a site as a Debian user writes it
<VirtualHost *:{http_port}>
\tServerName {name}
\tDocumentRoot {www}
</VirtualHost>
"""


@dataclass
class ApacheCli:
    ca: PebbleCA
    tmp: Path
    work: Path
    name: str
    server: ApacheServer

    @property
    def config_dir(self) -> Path:
        return self.tmp / "letsencrypt"

    @property
    def ctl(self) -> Path:
        return self.tmp / "apache-ctl"

    @property
    def ctl_log(self) -> Path:
        return self.tmp / "apache-ctl.log"

    def write_ctl(self, fail_graceful: bool = False) -> None:
        fail = 'case "$*" in *graceful*) echo "graceful refused" >&2; exit 1;; esac\n'
        self.ctl.write_text(
            "#!/bin/sh\n"
            f'echo "$*" >> {shlex.quote(str(self.ctl_log))}\n'
            f"{fail if fail_graceful else ''}"
            f'exec {shlex.quote(str(self.server.ctl))} "$@"\n'
        )
        self.ctl.chmod(0o755)

    def apache_flags(self) -> list[str]:
        return [
            "--apache-server-root", str(self.server.root),
            "--apache-ctl", str(self.ctl),
            "--https-port", str(self.server.https_port),
            "--http-01-port", str(self.ca.http01_port),
        ]  # fmt: skip

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        folders = [
            "--config-dir", str(self.config_dir),
            "--work-dir", str(self.work),
            "--logs-dir", str(self.tmp / "logs"),
        ]  # fmt: skip
        ca = ["--server", self.ca.directory_url, "--ca-bundle", str(self.ca.ca_bundle)]
        result = subprocess.run(
            [CERTSMITH, *args, *ca, *folders, "--no-preflight", "-n"],
            env={**os.environ, "PYTHONWARNINGS": "error"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    def obtain(self, *extra: str) -> None:
        result = self.run(
            "--apache", "-d", self.name, *self.apache_flags(), "--agree-tos",
            "--register-unsafely-without-email", *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr

    def graceful_reloads(self) -> int:
        if not self.ctl_log.exists():
            return 0
        return sum("graceful" in line for line in self.ctl_log.read_text().splitlines())

    def config_bytes(self) -> dict[Path, bytes]:
        """Every file and symlink of the server root's configuration (links as their target)."""
        found: dict[Path, bytes] = {}
        for path in sorted(self.server.root.rglob("*")):
            if path.is_symlink():
                found[path] = str(path.readlink()).encode()
            elif path.is_file() and path.parent.name not in ("logs", "run", "lock"):
                found[path] = path.read_bytes()
        return found

    def live_serial(self) -> int:
        cert = self.config_dir / "live" / self.name / "cert.pem"
        return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number

    def served_serial(self) -> int:
        return served.served_serial(
            APACHE_IP, self.server.https_port, self.name, self.tmp / "root.pem"
        )

    def wait_served(self, serial: int, timeout: float = 10.0) -> int:
        return served.wait_served(
            APACHE_IP, self.server.https_port, self.name, self.tmp / "root.pem", serial, timeout
        )

    def http_status(self, path: str) -> tuple[int, str]:
        return served.http_status(APACHE_IP, self.ca.http01_port, self.name, path)


@pytest.fixture
def apache_cli(pebble: PebbleCA, tmp_path: Path) -> Iterator[ApacheCli]:
    name = unique_name("apcli")
    pebble.add_a(name, [APACHE_IP])
    (tmp_path / "root.pem").write_text(pebble.roots_pem())
    work = Path(tempfile.mkdtemp(prefix="certsmith-apache-cli-"))
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
    cli = ApacheCli(pebble, tmp_path, work, name, server)
    cli.write_ctl()
    try:
        yield cli
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_run_with_apache_installs_redirects_and_serves_a_forced_renewal(
    apache_cli: ApacheCli,
) -> None:
    apache_cli.obtain("--redirect")
    assert (apache_cli.work / "http_challenges").is_dir()  # --work-dir, as certbot-apache
    first = apache_cli.live_serial()
    assert apache_cli.wait_served(first) == first
    location = f"https://{apache_cli.name}:{apache_cli.server.https_port}/x"
    assert apache_cli.http_status("/x") == (301, location)
    conf = (apache_cli.config_dir / "renewal" / f"{apache_cli.name}.conf").read_text()
    assert "authenticator = apache" in conf
    assert "installer = apache" in conf
    reloads = apache_cli.graceful_reloads()

    renewed = apache_cli.run("renew", "--force-renewal", "--no-random-sleep-on-renew")

    assert renewed.returncode == 0, renewed.stderr
    serial = apache_cli.live_serial()
    assert serial != first
    assert apache_cli.wait_served(serial) == serial
    # http-01: one graceful to publish, one to withdraw; the install: one at the end.
    assert apache_cli.graceful_reloads() - reloads == 3


def test_certonly_with_apache_installs_nothing_then_install_enhance_and_rollback(
    apache_cli: ApacheCli,
) -> None:
    before = apache_cli.config_bytes()
    got = apache_cli.run(
        "certonly", "--apache", "-d", apache_cli.name, *apache_cli.apache_flags(),
        "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert apache_cli.config_bytes() == before
    assert (
        "installer = apache"
        in (apache_cli.config_dir / "renewal" / f"{apache_cli.name}.conf").read_text()
    )

    installed = apache_cli.run(
        "install", "--cert-name", apache_cli.name, *apache_cli.apache_flags()
    )
    assert installed.returncode == 0, installed.stderr
    assert apache_cli.wait_served(apache_cli.live_serial()) == apache_cli.live_serial()
    after_install = apache_cli.config_bytes()

    enhanced = apache_cli.run("enhance", "--cert-name", apache_cli.name, "--hsts")
    assert enhanced.returncode == 0, enhanced.stderr
    assert any(b"Strict-Transport-Security" in v for v in apache_cli.config_bytes().values())
    changes = apache_cli.run("config_changes")
    assert "apache: hsts for" in changes.stdout, changes.stdout

    undone = apache_cli.run("rollback", "--apache", *apache_cli.apache_flags())
    assert undone.returncode == 0, undone.stderr
    assert apache_cli.config_bytes() == after_install


def test_a_refused_graceful_undoes_the_install_and_keeps_the_config(
    apache_cli: ApacheCli,
) -> None:
    before = apache_cli.config_bytes()
    got = apache_cli.run(
        "certonly", "--apache", "-d", apache_cli.name, *apache_cli.apache_flags(),
        "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    apache_cli.write_ctl(fail_graceful=True)  # apachectl -t passes, -k graceful fails

    installed = apache_cli.run(
        "install", "--cert-name", apache_cli.name, *apache_cli.apache_flags()
    )

    assert installed.returncode == 1
    assert "graceful refused" in installed.stderr
    assert "certsmith undid its changes" in installed.stderr
    assert apache_cli.config_bytes() == before
    assert "No changes" in apache_cli.run("config_changes").stdout


def _files(cli: ApacheCli) -> dict[Path, bytes]:
    """Regular files only (symlinks show in the preview as one header line), and certsmith's
    TLS settings file in the config dir."""
    found = {p: d for p, d in cli.config_bytes().items() if not p.is_symlink()}
    options = cli.config_dir / "options-ssl-apache.conf"
    if options.exists():
        found[options] = options.read_bytes()
    return found


def test_install_and_enhance_redirect_dry_runs_show_the_diff_the_real_commands_write(
    apache_cli: ApacheCli,
) -> None:
    got = apache_cli.run(
        "certonly", "--apache", "-d", apache_cli.name, *apache_cli.apache_flags(),
        "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    before, links = _files(apache_cli), apache_cli.config_bytes()
    marks = dry_run_diff.checkpoints(apache_cli.config_dir)

    install = ("install", "--cert-name", apache_cli.name, *apache_cli.apache_flags())
    preview = apache_cli.run(*install, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert apache_cli.config_bytes() == links and _files(apache_cli) == before
    assert dry_run_diff.checkpoints(apache_cli.config_dir) == marks
    assert "SSLCertificateFile" in preview.stdout and "(symlink to " in preview.stdout

    assert apache_cli.run(*install).returncode == 0
    installed = _files(apache_cli)
    assert dry_run_diff.added_in_preview(preview.stdout) == dry_run_diff.added_between(
        before, installed
    )

    redirect = ("enhance", "--cert-name", apache_cli.name, "--redirect")
    marks = dry_run_diff.checkpoints(apache_cli.config_dir)
    preview = apache_cli.run(*redirect, "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert _files(apache_cli) == installed
    assert dry_run_diff.checkpoints(apache_cli.config_dir) == marks
    assert "RewriteRule" in preview.stdout

    assert apache_cli.run(*redirect).returncode == 0
    assert dry_run_diff.added_in_preview(preview.stdout) == dry_run_diff.added_between(
        installed, _files(apache_cli)
    )
    assert apache_cli.http_status("/")[0] == 301
