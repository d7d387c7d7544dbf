"""Start, reload and stop a real nginx on loopback, serving TLS from a certbot-style lineage.

    server = NginxServer(tmp_path / "nginx", cert=live / "fullchain.pem", key=live / "privkey.pem")
    server.start()           # nginx -p <dir> -c nginx.conf -e error.log, on 127.0.0.1:<free port>
    server.port, server.reload_command()   # the shell line a deploy hook runs to reload it
    server.stop()            # SIGQUIT to the pid it started; its process group gets SIGKILL
                             # after a grace period

The configuration names the certificate exactly as a certbot user's server block does
(``ssl_certificate .../live/<name>/fullchain.pem; ssl_certificate_key .../privkey.pem;``) and
keeps everything else (pid, logs, temp folders) under the working directory, so it runs as any
user. ``daemon off`` keeps the master a child of the test; ``nginx -s reload`` finds it through
the pid file. ``nginx_path()`` is None when nginx is not installed (Debian: nginx).
"""

from __future__ import annotations

import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from support import processes


def nginx_path() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class NginxServer:
    """One nginx master (plus one worker) with its own prefix, config, pid file and logs."""

    def __init__(self, prefix: Path, *, cert: Path, key: Path, host: str = "127.0.0.1") -> None:
        self.prefix = prefix
        self.cert = cert
        self.key = key
        self.host = host
        self.port = 0
        self.binary = nginx_path() or "nginx"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def pid_path(self) -> Path:
        return self.prefix / "nginx.pid"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def base_argv(self) -> list[str]:
        # -e: the error log nginx opens before it reads the config (default /var/log/nginx).
        return [self.binary, "-p", str(self.prefix), "-c", "nginx.conf", "-e", "error.log"]

    def reload_command(self) -> str:
        """The shell command that makes this nginx re-read its config and certificates."""
        return shlex.join([*self.base_argv(), "-s", "reload"])

    def _write_config(self) -> None:
        self.prefix.mkdir(parents=True, exist_ok=True)
        temps = "\n".join(
            f"    {kind}_temp_path {self.prefix / (kind + '_temp')};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.conf_path.write_text(f"""\
daemon off;
worker_processes 1;
pid {self.pid_path};
error_log {self.error_log} notice;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temps}
    server {{
        listen {self.host}:{self.port} ssl;
        server_name _;
        ssl_certificate {self.cert};
        ssl_certificate_key {self.key};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")

    def start(self, timeout: float = 10.0) -> NginxServer:
        """Write the config, start nginx and wait until it accepts TCP connections."""
        if nginx_path() is None:
            raise RuntimeError("nginx not installed (apt-get install nginx)")
        self.port = free_tcp_port(self.host)
        self._write_config()
        check = subprocess.run(
            [*self.base_argv(), "-t"], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
        self.process = subprocess.Popen(
            self.base_argv(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.prefix,
            start_new_session=True,  # its own process group, so stop() can reach the worker too
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    if self.pid_path.exists():
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return processes.log_tail(self.error_log, lines)

    def stop(self, grace: float = 5.0) -> None:
        """Graceful shutdown (SIGQUIT) of the master this object started; SIGKILL if it lingers."""
        process, self.process = self.process, None
        processes.stop(process, signal.SIGQUIT, grace, group=True)

    def __enter__(self) -> NginxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
