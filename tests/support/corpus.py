"""Running one line of the certbot command-line corpus through certbot 5.8.0 and certsmith.

A corpus line (tests/integration/certbot_corpus/lines.txt) is ``id | step ;; step ...``. Each
step is a command line with placeholders; ``ini: TEXT`` writes ``{ini}`` instead of running.
Both tools run every step in their own folder tree (``<line dir>/<tool>/etc|work|logs``),
certbot's step first, then certsmith's, so one standalone address per line serves both.

Placeholders (values are shell-quoted where they hold spaces):
    {name} {name2} {name3}  names unique to the line, resolving to its own loopback address
    {SA}    --standalone --http-01-port P --http-01-address A     {addr} {port}: A and P
    {S}     --server <Pebble>     {REG}  --agree-tos --register-unsafely-without-email
    {CO}    certonly {SA} {S} {REG} -n
    {hooks} the tool's hook log   {ENV}  a hook appending the RENEWED_/FAILED_ variables to it
    {webroot} {webroot2}  folders a web server on A:P serves (started when a line uses them)
    {authhook} {cleanuphook}  manual http-01 hooks publishing through challtestsrv
    {dnshook} {dnscleanup}    manual dns-01 hooks publishing TXT records through challtestsrv
    {ini}   the tool's cli.ini    {csr} a CSR for {name}   {C} the tool's --config-dir
    {badhook} a hook path that does not exist   {server} Pebble's URL   {ENVRAW} {ENV} unquoted
``sh: COMMAND`` runs a shell command in each tool's folder instead (a directory hook, a link).

Every run gets ``--config-dir/--work-dir/--logs-dir``; certsmith also ``--dns-resolver`` (its
pre-flight resolves names; certbot does not), both ``REQUESTS_CA_BUNDLE`` and ``HOME`` = the
line's folder (no user cli.ini).
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from support.certbot_peer import CERTBOT, CERTSMITH, folder_args

TOOLS = {"certbot": CERTBOT, "certsmith": CERTSMITH}
STEP_TIMEOUT = 90
ENV_HOOK = "env | grep '^RENEWED_\\|^FAILED_' | sort >> {hooks}"


@dataclass(frozen=True)
class Line:
    id: str
    steps: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ;; ".join(self.steps)


def load_lines(path: Path) -> list[Line]:
    lines: list[Line] = []
    for raw in path.read_text().splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        ident, _, body = raw.partition("|")
        lines.append(Line(ident.strip(), tuple(s.strip() for s in body.split(";;"))))
    ids = [line.id for line in lines]
    assert len(ids) == len(set(ids)), "duplicate line ids"
    return lines


@dataclass
class StepResult:
    argv: list[str]
    returncode: int
    output: str


@dataclass
class LineSetup:
    """The folders, names, address and servers of one line."""

    index: int
    line: Line
    root: Path
    pebble: Any
    servers: list[ThreadingHTTPServer] = field(default_factory=list)

    @property
    def manual(self) -> bool:
        return any(p in self.line.text for p in ("{authhook}", "{dnshook}"))

    @property
    def address(self) -> str:
        # challtestsrv answers http-01 on 127.0.0.1 (manual hooks); the tools bind elsewhere.
        if self.manual:
            return "127.0.0.1"
        return f"127.0.{1 + self.index // 200}.{10 + self.index % 200}"

    def name(self, n: int = 1) -> str:
        return f"l{self.index}{'' if n == 1 else chr(ord('a') + n - 1)}.corpus.test"

    def base(self, tool: str) -> Path:
        return self.root / tool

    def prepare(self) -> None:
        for n in (1, 2, 3):
            self.pebble.add_a(self.name(n), [self.address])
        for tool in TOOLS:
            self.base(tool).mkdir(parents=True, exist_ok=True)
            self._write_hooks(tool)
        if "{webroot" in self.line.text:
            for folder in ("www", "www2"):
                (self.root / folder).mkdir(exist_ok=True)
            self._serve(self.root / "www", self.root / "www2")
        if "{csr}" in self.line.text:
            _write_csr(self.root / "req.csr", self.name())

    def _write_hooks(self, tool: str) -> None:
        base, url = self.base(tool), self.pebble.challtestsrv_url
        log = base / "hooks.log"
        scripts = {
            "auth.sh": f'curl -s -X POST -d \'{{"token":"\'$CERTBOT_TOKEN\'","content":"\''
            f"$CERTBOT_VALIDATION'\"}}' {url}/add-http01 >/dev/null\n"
            f"echo auth $CERTBOT_DOMAIN >> {log}\n",
            "cleanup.sh": f"echo cleanup $CERTBOT_DOMAIN >> {log}\n",
            "dns.sh": f'curl -s -X POST -d \'{{"host":"_acme-challenge.\'$CERTBOT_DOMAIN\'.",'
            f'"value":"\'$CERTBOT_VALIDATION\'"}}\' {url}/set-txt >/dev/null\n'
            f"echo dns $CERTBOT_DOMAIN >> {log}\n",
            "dnsclean.sh": f"curl -s -X POST -d '{{\"host\":\"_acme-challenge.'$CERTBOT_DOMAIN'"
            f".\"}}' {url}/clear-txt >/dev/null\necho dnsclean $CERTBOT_DOMAIN >> {log}\n",
        }
        for file, body in scripts.items():
            path = base / file
            path.write_text("#!/bin/sh\n" + body)
            path.chmod(stat.S_IRWXU)

    def _serve(self, *roots: Path) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                relative = self.path.split("?")[0].lstrip("/")
                for root in roots:
                    path = root / relative
                    if ".." not in relative and path.is_file():
                        body = path.read_bytes()
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer((self.address, self.pebble.http01_port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers.append(server)

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def values(self, tool: str) -> dict[str, str]:
        base, q = self.base(tool), shlex.quote
        port, hook = self.pebble.http01_port, ENV_HOOK.format(hooks=base / "hooks.log")
        sa = f"--standalone --http-01-port {port} --http-01-address {self.address}"
        server = f"--server {self.pebble.directory_url}"
        register = "--agree-tos --register-unsafely-without-email"
        return {
            "name": self.name(1), "name2": self.name(2), "name3": self.name(3),
            "addr": self.address, "port": str(self.pebble.http01_port),
            "SA": sa, "S": server, "REG": register, "CO": f"certonly {sa} {server} {register} -n",
            "hooks": str(base / "hooks.log"),
            "ENV": q(hook), "ENVRAW": hook,
            "webroot": str(self.root / "www"), "webroot2": str(self.root / "www2"),
            "authhook": str(base / "auth.sh"), "cleanuphook": str(base / "cleanup.sh"),
            "dnshook": str(base / "dns.sh"), "dnscleanup": str(base / "dnsclean.sh"),
            "ini": str(base / "cli.ini"), "csr": str(self.root / "req.csr"),
            "C": str(base / "etc"), "badhook": str(self.root / "no-such-hook"),
            "server": self.pebble.directory_url,
        }  # fmt: skip

    def expand(self, step: str, tool: str) -> str:
        text = step
        for key, value in self.values(tool).items():
            text = text.replace("{" + key + "}", value)
        assert "{" not in text.replace("{}", "").replace('{"', ""), f"placeholder left: {text}"
        return text

    def run_step(self, step: str, tool: str) -> StepResult:
        text = self.expand(step, tool)
        if text.startswith("ini:"):
            body = text[4:].strip().replace("; ", "\n")
            (self.base(tool) / "cli.ini").write_text(body + "\n")
            return StepResult(["ini"], 0, "")
        if text.startswith("sh:"):
            done = subprocess.run(
                ["/bin/sh", "-c", text[3:]], capture_output=True, text=True, timeout=30,
                cwd=self.base(tool), check=False,
            )  # fmt: skip
            return StepResult(["sh", text[3:]], done.returncode, "")
        return self.run_tool(tool, shlex.split(text), self.base(tool))

    def run_tool(self, tool: str, args: list[str], base: Path) -> StepResult:
        argv = [str(TOOLS[tool]), *args, *folder_args(base)]
        if tool == "certsmith":
            argv += ["--dns-resolver", self.pebble.dns_address]
        env = {
            **os.environ,
            "REQUESTS_CA_BUNDLE": str(self.pebble.ca_bundle),
            "HOME": str(self.root),
            "PYTHONWARNINGS": "ignore",
        }
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, timeout=STEP_TIMEOUT, env=env,
                stdin=subprocess.DEVNULL, cwd=base, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as timeout:
            return StepResult(argv, -1, f"timed out: {timeout}")
        return StepResult(argv, result.returncode, result.stdout + result.stderr)


def _write_csr(path: Path, name: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
