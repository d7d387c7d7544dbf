"""Start and stop a real BIND9 ``named`` on loopback for tests.

    server = BindServer(tmp_path, zones={"example.test": ["www A 127.0.0.1"]})
    server.start()         # named -g -c <workdir>/named.conf on 127.0.0.1:<free port>
    server.port, server.address, server.key_name, server.key_secret, server.key_algorithm
    server.write_credentials(path)   # a --dns-rfc2136-credentials file for that key
    server.stop()          # SIGTERM to the pid it started, SIGKILL after a grace period

Each zone gets an SOA and ``NS ns1.<zone>`` with ``ns1 A 127.0.0.1`` (extra record lines, in
zone-file syntax relative to the zone, are appended) and ``allow-update { key <key>; }``, so RFC
2136 updates signed with the generated HMAC-SHA256 key work. Everything (config, zone files,
journals, log) lives in the given working directory; named needs no root but runs fine as root.
``named_path()`` is None when BIND is not installed (Debian: ``apt-get install bind9``).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

from support import processes

KEY_NAME = "certsmith-test."
KEY_ALGORITHM = "hmac-sha256"


def named_path() -> str | None:
    found = shutil.which("named")
    if found:
        return found
    return "/usr/sbin/named" if Path("/usr/sbin/named").exists() else None


def free_udp_tcp_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on ``host`` right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP+TCP port on loopback")


class BindServer:
    """One ``named`` process with its own working directory, port and TSIG key."""

    def __init__(
        self,
        workdir: Path,
        zones: Mapping[str, Iterable[str]],
        *,
        host: str = "127.0.0.1",
        key_secret: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.zones = {name.rstrip("."): list(lines) for name, lines in zones.items()}
        self.host = host
        self.port = 0
        self.key_name = KEY_NAME
        self.key_algorithm = KEY_ALGORITHM
        self.key_secret = key_secret or base64.b64encode(os.urandom(32)).decode()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "named.log"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        zone_blocks = []
        for zone, lines in self.zones.items():
            body = [
                "$TTL 60",
                f"@ IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60",
                f"@ IN NS ns1.{zone}.",
                "ns1 IN A 127.0.0.1",
                *lines,
            ]
            (self.workdir / f"{zone}.zone").write_text("\n".join(body) + "\n")
            zone_blocks.append(
                f'zone "{zone}" {{ type primary; file "{zone}.zone"; '
                f"allow-update {{ key {self.key_name}; }}; }};"
            )
        conf = f"""
key "{self.key_name}" {{ algorithm {self.key_algorithm}; secret "{self.key_secret}"; }};
options {{
    directory "{self.workdir}";
    pid-file "{self.workdir}/named.pid";
    session-keyfile "{self.workdir}/session.key";
    managed-keys-directory "{self.workdir}";
    listen-on port {self.port} {{ {self.host}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
{chr(10).join(zone_blocks)}
"""
        path = self.workdir / "named.conf"
        path.write_text(conf)
        return path

    def start(self, timeout: float = 15.0) -> BindServer:
        binary = named_path()
        if binary is None:
            raise RuntimeError("named not installed (apt-get install bind9)")
        self.port = free_udp_tcp_port(self.host)
        conf = self._write_config()
        log = self.log_path.open("wb")
        # -g: foreground, log to stderr; -n 1: one worker thread is plenty for tests.
        self.process = subprocess.Popen(
            [binary, "-g", "-n", "1", "-c", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        log.close()
        deadline = time.monotonic() + timeout
        first_zone = next(iter(self.zones))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"named exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                query = dns.message.make_query(first_zone, "SOA")
                response = dns.query.udp(query, self.host, port=self.port, timeout=0.5)
                if response.rcode() == dns.rcode.NOERROR and response.answer:
                    return self
            except (OSError, dns.exception.DNSException):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"named did not answer within {timeout}s:\n{self.log_tail()}")

    def write_credentials(self, path: Path, secret: str | None = None) -> Path:
        """A --dns-rfc2136-credentials file (0600) for this server's key; ``secret`` another."""
        path.write_text(
            f"dns_rfc2136_server = {self.host}\n"
            f"dns_rfc2136_port = {self.port}\n"
            f"dns_rfc2136_name = {self.key_name}\n"
            f"dns_rfc2136_secret = {secret or self.key_secret}\n"
            f"dns_rfc2136_algorithm = {self.key_algorithm.upper()}\n"
        )
        path.chmod(0o600)
        return path

    def log_tail(self, lines: int = 30) -> str:
        return processes.log_tail(self.log_path, lines)

    def stop(self, grace: float = 5.0) -> None:
        process, self.process = self.process, None
        processes.stop(process, signal.SIGTERM, grace)

    def __enter__(self) -> BindServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
