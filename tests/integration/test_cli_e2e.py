"""The `certsmith` command line end to end against a real Pebble CA: certonly (standalone, IP,
tls-alpn-01, webroot, manual with hooks), files and modes, names, dry runs and CAA pre-flight.

Renewal, revocation, deletion and the interactive manual flow are in test_cli_e2e_lifecycle.py;
the helpers both files share are here (`Cli`, `WebrootServer`, `cli` fixture).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from pebble import PebbleCA

pytestmark = pytest.mark.pebble

CERTSMITH = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "certsmith")
STANDALONE_IP = "127.0.0.2"  # certsmith's own responders bind here
WEBROOT_IP = "127.0.0.3"  # the tests' own web server binds here
TIMEOUT = 60


def unique_name(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}.cli.test"


@dataclass
class Cli:
    """Runs the certsmith binary against one Pebble with its folders under one tmp_path."""

    ca: PebbleCA
    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    def common(self, preflight: bool = False) -> list[str]:
        args = [
            "--server", self.ca.directory_url,
            "--ca-bundle", str(self.ca.ca_bundle),
            "--config-dir", str(self.config_dir),
            "--work-dir", str(self.root / "work"),
            "--logs-dir", str(self.root / "logs"),
            "--dns-resolver", self.ca.dns_address,
        ]  # fmt: skip
        return args if preflight else [*args, "--no-preflight"]

    def run(
        self, *args: str, preflight: bool = False, interactive: bool = False,
        env: dict[str, str] | None = None, timeout: float = TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        argv = [CERTSMITH, *args, *self.common(preflight)]
        if not interactive:
            argv.append("-n")
        result = subprocess.run(
            argv,
            env={**os.environ, "PYTHONWARNINGS": "error", **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        return result

    def standalone(self, *names: str, extra: tuple[str, ...] = ()) -> list[str]:
        args = ["certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email"]
        for name in names:
            args += ["-d", name]
        return [
            *args,
            "--http-01-address", STANDALONE_IP,
            "--http-01-port", str(self.ca.http01_port),
            *extra,
        ]  # fmt: skip

    def certonly(
        self, *names: str, extra: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        """certonly --standalone for names mapped to STANDALONE_IP; asserts success."""
        for name in names:
            self.ca.add_a(name, [STANDALONE_IP])
        result = self.run(*self.standalone(*names, extra=extra))
        assert result.returncode == 0, result.stderr
        return result

    def lineage_files(self) -> list[str]:
        """Everything under live/, archive/ and renewal/ (relative paths)."""
        found: list[str] = []
        for top in ("live", "archive", "renewal"):
            base = self.config_dir / top
            if base.exists():
                found += [str(p.relative_to(self.config_dir)) for p in base.rglob("*")]
        return sorted(found)


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Cli:
    return Cli(pebble, tmp_path)


@dataclass
class Seen:
    path: str
    mode: int | None
    body: bytes | None


@dataclass
class WebrootServer:
    """A plain web server over ``root`` at WEBROOT_IP:<port>; records each file as served."""

    root: Path
    port: int
    seen: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def __enter__(self) -> WebrootServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = outer.root / self.path.split("?")[0].lstrip("/")
                try:
                    mode, body = stat.S_IMODE(path.stat().st_mode), path.read_bytes()
                except OSError:
                    mode, body = None, None
                outer.seen.append(Seen(self.path, mode, body))
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((WEBROOT_IP, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def challenge_hits(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith("/.well-known/acme-challenge/")]


@pytest.fixture
def webroot_server(pebble: PebbleCA, tmp_path: Path) -> Iterator[WebrootServer]:
    root = tmp_path / "www"
    root.mkdir()
    with WebrootServer(root, pebble.http01_port) as server:
        yield server


def load_chain(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def assert_no_traceback_one_line(result: subprocess.CompletedProcess[str]) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("certsmith: error: "), result.stderr


# --- certonly --standalone ---------------------------------------------------------------------


def test_certonly_standalone_writes_certbot_layout(cli: Cli) -> None:
    name = unique_name("files")
    result = cli.certonly(name)
    live = cli.config_dir / "live" / name
    assert f"Certificate is saved at: {live / 'fullchain.pem'}" in result.stdout
    assert f"Key is saved at:         {live / 'privkey.pem'}" in result.stdout
    for kind in ("cert", "chain", "fullchain", "privkey"):
        link = live / f"{kind}.pem"
        assert link.is_symlink()
        assert os.readlink(link) == f"../../archive/{name}/{kind}1.pem"
        assert link.resolve() == (cli.config_dir / "archive" / name / f"{kind}1.pem").resolve()
    assert stat.S_IMODE((live / "privkey.pem").stat().st_mode) == 0o600
    for top in ("live", "archive", "renewal", "accounts"):
        assert stat.S_IMODE((cli.config_dir / top).stat().st_mode) == 0o700, top

    conf = (cli.config_dir / "renewal" / f"{name}.conf").read_text()
    assert f"archive_dir = {cli.config_dir / 'archive' / name}" in conf
    assert f"fullchain = {live / 'fullchain.pem'}" in conf
    assert "[renewalparams]" in conf
    assert "authenticator = standalone" in conf
    assert f"server = {cli.ca.directory_url}" in conf
    assert f"http01_port = {cli.ca.http01_port}" in conf
    assert re.search(r"^account = [0-9a-f]{32}$", conf, re.M)

    cert, *chain = load_chain(live / "fullchain.pem")
    assert load_chain(live / "cert.pem") == [cert]
    assert load_chain(live / "chain.pem") == chain
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [name]
    root = x509.load_pem_x509_certificate(cli.ca.roots_pem().encode())
    intermediate = chain[0]
    cert.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    key = (live / "privkey.pem").read_bytes()
    assert b"PRIVATE KEY" in key
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


@pytest.mark.pebble_new  # profiles
def test_certonly_ip_address_gets_shortlived_profile(cli: Cli) -> None:
    args = [
        "certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email",
        "--ip-address", STANDALONE_IP,
        "--http-01-address", STANDALONE_IP, "--http-01-port", str(cli.ca.http01_port),
    ]  # fmt: skip
    result = cli.run(*args)
    assert result.returncode == 0, result.stderr
    assert "shortlived" in result.stderr
    cert = load_chain(cli.config_dir / "live" / STANDALONE_IP / "cert.pem")[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == [STANDALONE_IP]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.days <= 7  # Pebble's shortlived profile: 6 days


def test_certonly_tls_alpn_01(cli: Cli) -> None:
    name = unique_name("alpn")
    extra = (
        "--preferred-challenges",
        "tls-alpn-01",
        "--tls-alpn-01-port",
        str(cli.ca.tlsalpn_port),
    )
    cli.certonly(name, extra=extra)
    conf = (cli.config_dir / "renewal" / f"{name}.conf").read_text()
    assert "pref_challs = tls-alpn-01," in conf
    assert f"tls_alpn_01_port = {cli.ca.tlsalpn_port}" in conf
    assert (cli.config_dir / "live" / name / "fullchain.pem").exists()


def test_certonly_dry_run_leaves_no_lineage(cli: Cli) -> None:
    name = unique_name("dry")
    result = cli.certonly(name, extra=("--dry-run",))
    assert "dry run was successful" in result.stdout
    assert cli.lineage_files() == []


# --- webroot and manual --------------------------------------------------------------------------


def test_certonly_webroot(cli: Cli, webroot_server: WebrootServer) -> None:
    name = unique_name("webroot")
    cli.ca.add_a(name, [WEBROOT_IP])
    result = cli.run(
        "certonly", "--webroot", "-w", str(webroot_server.root), "-d", name,
        "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    hits = [h for h in webroot_server.challenge_hits() if h.body is not None]
    assert hits, webroot_server.seen
    for hit in hits:
        assert hit.mode == 0o644
        token = hit.path.rsplit("/", 1)[1]
        assert hit.body is not None and hit.body.decode().startswith(token + ".")
    challenge_dir = webroot_server.root / ".well-known" / "acme-challenge"
    assert not challenge_dir.exists() or list(challenge_dir.iterdir()) == []
    conf = (cli.config_dir / "renewal" / f"{name}.conf").read_text()
    assert "authenticator = webroot" in conf
    assert f"{name} = {webroot_server.root}" in conf


AUTH_HOOK = """
dir="$WEBROOT/.well-known/acme-challenge"
mkdir -p "$dir"
printf %s "$CERTBOT_VALIDATION" > "$dir/$CERTBOT_TOKEN"
env | grep '^CERTBOT_' | sort > "$RECORD/auth.env"
echo auth-said-hello
"""

CLEANUP_HOOK = """
rm -f "$WEBROOT/.well-known/acme-challenge/$CERTBOT_TOKEN"
env | grep '^CERTBOT_' | sort > "$RECORD/cleanup.env"
"""


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_certonly_manual_with_hooks(
    cli: Cli, webroot_server: WebrootServer, tmp_path: Path
) -> None:
    name = unique_name("manual")
    cli.ca.add_a(name, [WEBROOT_IP])
    record = tmp_path / "record"
    record.mkdir()
    auth, cleanup = tmp_path / "auth.sh", tmp_path / "cleanup.sh"
    auth.write_text(AUTH_HOOK)
    cleanup.write_text(CLEANUP_HOOK)
    result = cli.run(
        "certonly", "--manual", "--preferred-challenges", "http", "-d", name,
        "--manual-auth-hook", f"sh {auth}", "--manual-cleanup-hook", f"sh {cleanup}",
        "--http-01-port", str(cli.ca.http01_port),
        "--agree-tos", "--register-unsafely-without-email",
        env={"WEBROOT": str(webroot_server.root), "RECORD": str(record)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = _env_file(record / "auth.env")
    assert seen["CERTBOT_DOMAIN"] == name
    assert seen["CERTBOT_ALL_DOMAINS"] == name
    assert seen["CERTBOT_REMAINING_CHALLENGES"] == "0"
    token = seen["CERTBOT_TOKEN"]
    assert seen["CERTBOT_VALIDATION"].startswith(token + ".")
    hits = [h for h in webroot_server.challenge_hits() if h.body is not None]
    assert hits and all(h.body == seen["CERTBOT_VALIDATION"].encode() for h in hits)
    after = _env_file(record / "cleanup.env")
    assert after["CERTBOT_AUTH_OUTPUT"] == "auth-said-hello"
    assert after["CERTBOT_TOKEN"] == token
    assert not (webroot_server.root / ".well-known" / "acme-challenge" / token).exists()
    conf = (cli.config_dir / "renewal" / f"{name}.conf").read_text()
    assert f"manual_auth_hook = sh {auth}" in conf


# --- names ---------------------------------------------------------------------------------------

BAD_NAMES = [
    pytest.param("a..cli.test", id="empty-label"),
    pytest.param("x" * 64 + ".cli.test", id="64-char-label"),
    pytest.param(".".join(["a" * 50] * 5) + ".cli.test", id="over-253"),
    # A valid 252-character DNS name whose renewal/NAME.conf would not fit in a file name.
    pytest.param(".".join(["a" * 60] * 4) + ".cli.test", id="too-long-for-a-file"),
    pytest.param("under_score.cli.test", id="underscore"),
    pytest.param("has space.cli.test", id="space"),
    pytest.param("sl/ash.cli.test", id="slash"),
    pytest.param("-lead.cli.test", id="leading-hyphen"),
    pytest.param("*.wild.cli.test", id="wildcard-standalone"),
]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_names_are_usage_errors(cli: Cli, bad: str) -> None:
    result = cli.run(*cli.standalone(bad), timeout=20)
    assert result.returncode == 2, result.stdout + result.stderr
    assert_no_traceback_one_line(result)
    written = (
        [p for p in cli.config_dir.rglob("*") if p.is_file()] if cli.config_dir.exists() else []
    )
    assert written == []


def test_names_are_normalised(cli: Cli) -> None:
    name = unique_name("norm")
    cli.ca.add_a(name, [STANDALONE_IP])
    result = cli.run(*cli.standalone(name.upper() + "."))
    assert result.returncode == 0, result.stderr
    assert (cli.config_dir / "live" / name / "cert.pem").exists()
    assert [p.name for p in (cli.config_dir / "live").iterdir() if p.is_dir()] == [name]


def test_idn_name_is_stored_under_its_a_label(cli: Cli) -> None:
    cli.ca.add_a("xn--3e0b707e.kr", [STANDALONE_IP])
    result = cli.run(*cli.standalone("한국.kr"))
    assert result.returncode == 0, result.stderr
    cert = load_chain(cli.config_dir / "live" / "xn--3e0b707e.kr" / "cert.pem")[0]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["xn--3e0b707e.kr"]


# --- pre-flight CAA ------------------------------------------------------------------------------


def _new_orders(ca: PebbleCA) -> int:
    log = (ca.workdir / "pebble.log").read_text(errors="replace")
    return len(re.findall(r"POST /order-plz", log))


def test_preflight_caa_stops_before_any_order(cli: Cli) -> None:
    name = unique_name("caa")
    cli.ca.add_a(name, [STANDALONE_IP])
    cli.ca.challtest(
        "/add-caa",
        {"host": name, "policies": [{"tag": "issue", "value": "otherca.example"}]},
    )
    # An account first, so that the run below could order straight away.
    assert cli.run("register", "--agree-tos", "--register-unsafely-without-email").returncode == 0
    before = _new_orders(cli.ca)
    result = cli.run(*cli.standalone(name), preflight=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CAA" in result.stderr
    assert _new_orders(cli.ca) == before
    assert cli.lineage_files() == []
