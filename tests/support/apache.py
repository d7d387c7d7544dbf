"""A real Apache httpd (Debian's apache2) on loopback with its own Debian-style server root.

    server = ApacheServer(tmp_path / "apache", host="127.0.0.22", http_port=p1, https_port=p2)
    server.write_root()      # apache2.conf, ports.conf, mods-available (a copy of Debian's),
                             # mods-enabled (a base set, no ssl/rewrite/headers), sites-*
    server.add_site("example.conf", text)   # sites-available + a2ensite's symlink
    server.start()           # apache2 -d <root> -f apache2.conf -DFOREGROUND, a child of the test
    server.ctl               # a wrapper script: apachectl for this root (-t, -k graceful)
    server.stop()            # SIGTERM to the pid it started; SIGKILL to its group after a grace

Everything (pid, logs, locks) stays under the root. httpd starts as root and its workers run as
www-data, so it needs root (tests skip without it). ports.conf is Debian's shape: the HTTP port
always, the HTTPS port inside ``<IfModule ssl_module>``, both on ``host`` only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from support import processes

DEBIAN_MODS = Path("/etc/apache2/mods-available")
BASE_MODULES = ("mpm_event", "authz_core", "authz_host", "alias", "mime", "dir", "setenvif")


def apache_path() -> str | None:
    found = shutil.which("apache2")
    if found:
        return found
    return "/usr/sbin/apache2" if Path("/usr/sbin/apache2").exists() else None


def skip_reason() -> str | None:
    if apache_path() is None or not DEBIAN_MODS.is_dir():
        return "apache2 not installed (apt-get install apache2)"
    if os.geteuid() != 0:
        return "apache2 needs root here (its workers switch to www-data)"
    return None


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ApacheServer:
    def __init__(self, root: Path, *, host: str, http_port: int, https_port: int) -> None:
        self.root = root
        self.host = host
        self.http_port = http_port
        self.https_port = https_port
        self.binary = apache_path() or "apache2"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ctl(self) -> Path:
        return self.root / "apachectl"

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / "error.log"

    def options(self) -> dict[str, str]:
        """The installer options (certbot's conf keys) for this server."""
        return {
            "apache_server_root": str(self.root),
            "apache_ctl": str(self.ctl),
            "http01_port": str(self.http_port),
            "https_port": str(self.https_port),
        }

    def write_root(self) -> ApacheServer:
        root = self.root
        for folder in ("run", "lock", "logs", "mods-enabled", "sites-available", "sites-enabled",
                       "conf-enabled", "www"):  # fmt: skip
            (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copytree(DEBIAN_MODS, root / "mods-available", dirs_exist_ok=True)
        for module in BASE_MODULES:
            for suffix in (".load", ".conf"):
                source = root / "mods-available" / f"{module}{suffix}"
                link = root / "mods-enabled" / source.name
                if source.exists() and not link.exists():
                    link.symlink_to(f"../mods-available/{source.name}")
        (root / "apache2.conf").write_text(f"""\
# A Debian-shaped apache2.conf for tests: everything under {root}.
Define APACHE_RUN_DIR {root}/run
Define APACHE_LOCK_DIR {root}/lock
Define APACHE_LOG_DIR {root}/logs
DefaultRuntimeDir {root}/run
PidFile {root}/run/apache2.pid
Mutex file:{root}/lock default
ServerName localhost
User www-data
Group www-data
ErrorLog {self.error_log}
LogLevel warn
Timeout 30
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Include ports.conf
<Directory />
\tAllowOverride None
\tRequire all denied
</Directory>
<Directory {root}/www>
\tRequire all granted
</Directory>
IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
""")
        (root / "ports.conf").write_text(f"""\
Listen {self.host}:{self.http_port}

<IfModule ssl_module>
\tListen {self.host}:{self.https_port}
</IfModule>
""")
        self.ctl.write_text(
            f'#!/bin/sh\nexec {self.binary} -d {root} -f {root}/apache2.conf "$@"\n'
        )
        self.ctl.chmod(0o755)
        return self

    def add_site(self, name: str, text: str) -> Path:
        site = self.root / "sites-available" / name
        site.write_text(text)
        (self.root / "sites-enabled" / name).symlink_to(f"../sites-available/{name}")
        return site

    def configtest(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.ctl), "-t"], capture_output=True, text=True, timeout=30, check=False
        )

    def start(self, timeout: float = 15.0) -> ApacheServer:
        check = self.configtest()
        if check.returncode != 0:
            raise RuntimeError(f"apache2 -t failed:\n{check.stderr}")
        self.process = subprocess.Popen(
            [str(self.ctl), "-DFOREGROUND"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"apache2 exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.http_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"apache2 did not listen within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return processes.log_tail(self.error_log, lines)

    def stop(self, grace: float = 5.0) -> None:
        process, self.process = self.process, None
        processes.stop(process, signal.SIGTERM, grace, group=True)
