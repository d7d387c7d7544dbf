"""Installing into 55 real-world-style nginx sites: nginx -t passes and only lines are added.

See tests/data/nginx-corpus/README.md. For each site file: ``nginx -t`` accepts it in a stub
server root; certsmith deploys a certificate for the name on its first line, then the redirect
and HSTS enhancements; ``nginx -t`` accepts the result (the installer runs it and raises
otherwise), and the difference to the original adds lines and changes nothing else except the
``ssl_certificate`` lines it repoints (and the brace line of a one-line block it opens up).
"""

from __future__ import annotations

import datetime
import difflib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certsmith.installers import make_installer
from support.nginx import nginx_path

pytestmark = [
    pytest.mark.skipif(nginx_path() is None, reason="nginx not installed (apt-get install nginx)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="nginx -t reads the stub root as root"),
]

CORPUS = Path(__file__).resolve().parents[1] / "data" / "nginx-corpus"
SITES = sorted((CORPUS / "sites").glob("*.conf"))
INSTALL = re.compile(r"^# corpus: install (\S+)")
CERT_PATHS = re.compile(r"\b(?:ssl_certificate|ssl_certificate_key)\s+(\S+?);")


def test_the_corpus_has_at_least_fifty_sites() -> None:
    assert len(SITES) >= 50


@pytest.fixture(scope="module")
def pem_pair() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpus")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def stub_root(tmp: Path, site: Path, pem_pair: tuple[bytes, bytes]) -> tuple[Path, str]:
    """A server root holding ``site`` with system paths moved under ``tmp``; (root, name)."""
    root = tmp / "nginx"
    shutil.copytree(CORPUS / "root", root)
    moves = {
        "/etc/letsencrypt/": f"{tmp}/letsencrypt/",
        "/etc/ssl/": f"{tmp}/ssl/",
        "/var/log/nginx/": f"{tmp}/log/",
        "/etc/nginx/": f"{root}/",
        "/tmp/nginx-cache": f"{tmp}/cache",
    }
    (root / "sites-enabled").mkdir()
    shutil.copy(site, root / "sites-enabled" / site.name)
    for path in [*root.rglob("*.conf"), root / "sites-enabled" / site.name]:
        text = path.read_text()
        for old, new in moves.items():
            text = text.replace(old, new)
        path.write_text(text)
        for cert_path in CERT_PATHS.findall(text):
            target = Path(cert_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(pem_pair[1] if "key" in target.name else pem_pair[0])
    (tmp / "log").mkdir()
    (tmp / "letsencrypt").mkdir(exist_ok=True)
    (tmp / "letsencrypt" / "options-ssl-nginx.conf").write_text(
        "ssl_session_cache shared:le_nginx_SSL:10m;\nssl_protocols TLSv1.2 TLSv1.3;\n"
    )
    temps = "".join(
        f"    {kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (root / "nginx.conf").write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{ }}\n"
        f"http {{\n    include mime.types;\n{temps}    include {root}/sites-enabled/*;\n}}\n"
    )
    match = INSTALL.match(site.read_text())
    assert match, f"{site.name} does not say which name to install"
    return root, match.group(1)


def nginx_t(root: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    argv = [nginx_path() or "nginx", "-c", str(root / "nginx.conf"), "-e", f"{tmp}/error.log"]
    return subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=30, check=False)


def changed_lines(old: str, new: str) -> list[str]:
    """The original lines the edit removed or rewrote (insertions are not listed)."""
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    return [
        line
        for tag, i1, i2, _, _ in matcher.get_opcodes()
        if tag in {"replace", "delete"}
        for line in old.splitlines()[i1:i2]
    ]


@pytest.mark.parametrize("site", SITES, ids=[s.stem for s in SITES])
def test_install_into_a_real_world_site_passes_nginx_t_and_only_adds_lines(
    site: Path, tmp_path: Path, pem_pair: tuple[bytes, bytes]
) -> None:
    root, name = stub_root(tmp_path, site, pem_pair)
    checked = nginx_t(root, tmp_path)
    assert checked.returncode == 0, f"the corpus file itself is invalid: {checked.stderr}"
    site_file = root / "sites-enabled" / site.name
    original = site_file.read_text()
    live = tmp_path / "letsencrypt" / "live" / f"{name}-0001"
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_bytes(pem_pair[0])
    (live / "privkey.pem").write_bytes(pem_pair[1])
    options = {
        "nginx_server_root": str(root),
        "nginx_ctl": nginx_path() or "nginx",
        "config_dir": str(tmp_path / "letsencrypt"),
    }
    installer = make_installer("nginx", options)

    installer.deploy(
        name, [name], {"fullchain": live / "fullchain.pem", "privkey": live / "privkey.pem"}
    )
    installer.enhance([name], ["redirect", "hsts"])

    assert nginx_t(root, tmp_path).returncode == 0
    installed = site_file.read_text()
    everything = "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    assert f"ssl_certificate {live / 'fullchain.pem'};" in everything  # maybe in a snippet
    assert [
        line
        for line in changed_lines(original, installed)
        if "ssl_certificate" not in line and "{" not in line
    ] == []
