"""A Debian-style nginx server root (nginx.conf + sites-enabled/) run on loopback by a test.

    site = NginxSiteRoot(tmp_path / "nginx")
    site.write(sites={"example": "server { listen 127.0.0.1:8080; server_name a.test; }"})
    site.check()          # nginx -c <root>/nginx.conf -t; (status, stderr)
    site.start()          # daemon off, its own process group; waits until a port answers
    site.stop()           # SIGQUIT, SIGKILL to its group after a grace period

nginx.conf mirrors Debian's (``include /etc/nginx/sites-enabled/*`` becomes the root's own
sites-enabled) with pid, logs and temp folders under the root, so nothing of the system's nginx
is touched. The installer runs ``nginx -c <root>/nginx.conf`` exactly as on a real server.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from support import processes
from support.nginx import nginx_path

_TIMEOUT = 10.0


class NginxSiteRoot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.binary = nginx_path() or "nginx"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def main(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    def write(self, sites: dict[str, str], http_extra: str = "") -> None:
        (self.root / "sites-enabled").mkdir(parents=True, exist_ok=True)
        temps = "".join(
            f"    {kind}_temp_path {self.root / (kind + '_temp')};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.main.write_text(
            "# A Debian-like main file (see tests/support/nginx_site.py)\n"
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {self.root / 'nginx.pid'};\n"
            f"error_log {self.error_log} notice;\n"
            "events {\n    worker_connections 64;\n}\n\n"
            "http {\n"
            "    access_log off;\n"
            "    types { text/html html; }\n"
            "    default_type application/octet-stream;\n"
            f"{temps}{http_extra}"
            f"    include {self.root / 'sites-enabled'}/*;\n"
            "}\n"
        )
        for name, text in sites.items():
            (self.root / "sites-enabled" / name).write_text(text)

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "-c", str(self.main), "-e", str(self.error_log), *args]

    def check(self) -> tuple[int, str]:
        done = subprocess.run(
            self.argv("-t"), capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
        return done.returncode, done.stderr

    def start(self, port: int, host: str = "127.0.0.1") -> NginxSiteRoot:
        status, stderr = self.check()
        if status != 0:
            raise RuntimeError(f"nginx -t failed:\n{stderr}")
        self.process = subprocess.Popen(
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + _TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{processes.log_tail(self.error_log)}")
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    if (self.root / "nginx.pid").exists():
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {port}:\n{processes.log_tail(self.error_log)}")

    def stop(self, grace: float = 5.0) -> None:
        process, self.process = self.process, None
        processes.stop(process, signal.SIGQUIT, grace, group=True)
