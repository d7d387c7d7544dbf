"""Start and stop a real Pebble CA and pebble-challtestsrv on loopback, for tests and the demo.

Each instance gets free ports, its own throwaway TLS certificate (made with `cryptography`) and
its own config; `stop()` ends exactly the processes it started, by pid.

Layout of the ports (all on 127.0.0.1):
- ACME directory at https://127.0.0.1:<acme_port>/dir, management at <mgmt_port>.
- Pebble validates http-01 on <http01_port> and tls-alpn-01 on <tlsalpn_port> of whatever address
  the name resolves to through challtestsrv's DNS (default A record 127.0.0.1; no AAAA unless
  a test adds one with add_aaaa).
- challtestsrv answers http-01 on 127.0.0.1:<http01_port> (for protocol tests that use its
  /add-http01 API). Tests of certsmith's own responders map their names to another loopback
  address (127.0.0.2 ...) with `add_a()` and bind there.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIN_DIR = ROOT / ".cache" / "pebble" / "root" / "usr" / "bin"

EAB_KEYS = {
    "kid-1": "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
    "kid-2": "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH",
}


def find_bin_dir() -> Path | None:
    env = os.environ.get("PEBBLE_BIN_DIR")
    for candidate in [Path(env)] if env else [DEFAULT_BIN_DIR]:
        if (candidate / "pebble").exists() and (candidate / "pebble-challtestsrv").exists():
            return candidate
    found = shutil.which("pebble")
    if found and shutil.which("pebble-challtestsrv"):
        return Path(found).parent
    return None


def pebble_version() -> tuple[int, int]:
    """The (major, minor) of the fetched package; (0, 0) when unknown."""
    version_file = ROOT / ".cache" / "pebble" / "VERSION"
    try:
        text = version_file.read_text().strip()
        major, minor = text.split(".")[:2]
        return int(major), int(minor)
    except (OSError, ValueError):
        return (0, 0)


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _free_tcp_udp_port() -> int:
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free for both TCP and UDP")


def write_loopback_cert(
    directory: Path, common_name: str = "pebble test listener", stem: str = "listener"
) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for a loopback HTTPS listener (Pebble's own, a
    test's proxy): ``<stem>-cert.pem`` and ``<stem>-key.pem`` in ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{stem}-cert.pem", directory / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class PebbleCA:
    """A running Pebble + challtestsrv pair. Use `start()`/`stop()` or `with`."""

    workdir: Path
    nonce_reject: int = 20
    validation_sleep: bool = False
    sleep_time: int | None = None
    eab_required: bool = False
    dns_server: str | None = None  # "HOST:PORT"; default: this instance's challtestsrv
    retry_after: tuple[int, int] = (1, 1)  # (authz, order) seconds Pebble advertises
    extra_env: dict[str, str] = field(default_factory=dict)
    bin_dir: Path | None = None

    acme_port: int = 0
    mgmt_port: int = 0
    http01_port: int = 0
    tlsalpn_port: int = 0
    dns_port: int = 0
    challtest_port: int = 0
    ca_bundle: Path = Path()
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def management_url(self) -> str:
        return f"https://127.0.0.1:{self.mgmt_port}"

    @property
    def challtestsrv_url(self) -> str:
        return f"http://127.0.0.1:{self.challtest_port}"

    @property
    def dns_address(self) -> str:
        return self.dns_server or f"127.0.0.1:{self.dns_port}"

    def __enter__(self) -> PebbleCA:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 20.0, attempts: int = 3) -> None:
        # Free ports are picked before the servers bind them, so another process can take one
        # in between ("address already in use"): start again with new ports, a bounded number
        # of times.
        for attempt in range(attempts):
            try:
                self._start_once(timeout)
                return
            except RuntimeError:
                if attempt == attempts - 1:
                    raise

    def _start_once(self, timeout: float) -> None:
        bin_dir = self.bin_dir or find_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError("pebble not found: run tools/fetch-pebble.sh")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.acme_port, self.mgmt_port = free_port(), free_port()
        self.http01_port, self.tlsalpn_port = free_port(), free_port()
        self.dns_port, self.challtest_port = _free_tcp_udp_port(), free_port()
        cert, key = write_loopback_cert(self.workdir)
        self.ca_bundle = cert
        self._start_challtestsrv(bin_dir)
        self._start_pebble(bin_dir, cert, key)
        self._wait_ready(timeout)

    def _spawn(self, argv: list[str], env: dict[str, str], log_name: str) -> None:
        log = (self.workdir / log_name).open("ab")
        proc = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        self._procs.append(proc)

    def _start_challtestsrv(self, bin_dir: Path) -> None:
        argv = [
            str(bin_dir / "pebble-challtestsrv"),
            "-management", f"127.0.0.1:{self.challtest_port}",
            "-dnsserver", f"127.0.0.1:{self.dns_port}",
            "-http01", f"127.0.0.1:{self.http01_port}",
            "-https01", "", "-tlsalpn01", "", "-doh", "",
            "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
        ]  # fmt: skip
        self._spawn(argv, {"PATH": os.environ.get("PATH", "")}, "challtestsrv.log")

    def _config(self, cert: Path, key: Path) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "listenAddress": f"127.0.0.1:{self.acme_port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": self.http01_port,
            "tlsPort": self.tlsalpn_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": self.eab_required,
            "domainBlocklist": ["blocked-domain.example"],
            "retryAfter": {"authz": self.retry_after[0], "order": self.retry_after[1]},
            "keyAlgorithm": "ecdsa",
            "profiles": {
                "default": {"description": "The default profile", "validityPeriod": 7776000},
                "shortlived": {"description": "Short-lived", "validityPeriod": 518400},
            },
        }
        if self.eab_required:
            conf["externalAccountMACKeys"] = EAB_KEYS
        return {"pebble": conf}

    def _start_pebble(self, bin_dir: Path, cert: Path, key: Path) -> None:
        config_path = self.workdir / "pebble-config.json"
        config_path.write_text(json.dumps(self._config(cert, key), indent=2))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PEBBLE_WFE_NONCEREJECT": str(self.nonce_reject),
            "PEBBLE_VA_NOSLEEP": "0" if self.validation_sleep else "1",
            "PEBBLE_AUTHZREUSE": "0",
        }
        if self.sleep_time is not None:
            env["PEBBLE_VA_SLEEPTIME"] = str(self.sleep_time)
        env.update(self.extra_env)
        argv = [
            str(bin_dir / "pebble"),
            "-config",
            str(config_path),
            "-dnsserver",
            self.dns_address,
        ]
        self._spawn(argv, env, "pebble.log")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(p.poll() is None for p in self._procs):
                try:
                    self.get(self.directory_url)
                    self.challtest("/clear-request-history", {"host": "x", "type": "http"})
                    return
                except OSError:
                    time.sleep(0.05)
                    continue
            self.stop()
            raise RuntimeError(f"pebble exited early; see logs in {self.workdir}")
        self.stop()
        raise TimeoutError(f"pebble not ready after {timeout}s; see logs in {self.workdir}")

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._procs.clear()

    # --- helpers for tests -------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def get(self, url: str) -> bytes:
        with urllib.request.urlopen(url, context=self.ssl_context(), timeout=5) as resp:
            return bytes(resp.read())

    def roots_pem(self) -> str:
        """The issuing root (index 0) of this Pebble run, as PEM."""
        return self.get(f"{self.management_url}/roots/0").decode()

    def intermediates_pem(self) -> str:
        return self.get(f"{self.management_url}/intermediates/0").decode()

    def cert_status(self, serial_hex: str) -> dict[str, Any]:
        data = json.loads(self.get(f"{self.management_url}/cert-status-by-serial/{serial_hex}"))
        assert isinstance(data, dict)
        return data

    def challtest(self, path: str, body: dict[str, Any]) -> bytes:
        """POST to challtestsrv's management API (/add-a, /add-txt, /add-caa, /add-http01...)."""
        req = urllib.request.Request(
            self.challtestsrv_url + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return bytes(resp.read())

    def add_a(self, host: str, addresses: list[str]) -> None:
        self.challtest("/add-a", {"host": host, "addresses": addresses})

    def add_aaaa(self, host: str, addresses: list[str]) -> None:
        self.challtest("/add-aaaa", {"host": host, "addresses": addresses})

    def http_requests(self, host: str) -> list[dict[str, Any]]:
        raw = self.challtest("/http-request-history", {"host": host})
        data = json.loads(raw or b"[]")
        return list(data or [])


if __name__ == "__main__":
    import sys
    import tempfile

    with PebbleCA(Path(tempfile.mkdtemp(prefix="pebble-"))) as ca:
        print(json.dumps({"directory": ca.directory_url, "ca_bundle": str(ca.ca_bundle)}))
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
