"""Installing into every site of tests/data/apache-corpus/: apachectl -t passes afterwards and
the site file differs from the original only in the lines certsmith adds (or, in a TLS vhost
that had them, the certificate lines it points at the lineage).

Each case gets its own Debian-style server root (tests/support/apache.py; not started: only
``apachectl -t`` runs), ports 80 and 443 as on a server.
"""

from __future__ import annotations

import datetime
import difflib
import re
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certsmith.installers import installer_factory
from certsmith.installers.apache.layout import enable_module
from support.apache import ApacheServer, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))

CORPUS = Path(__file__).resolve().parents[1] / "data" / "apache-corpus"
CASES = sorted(p.name for p in CORPUS.glob("*.conf"))

# What certsmith may add to a site file, and the only lines it may change or remove.
ADDED = re.compile(
    r"^\s*(RewriteEngine on|RewriteCond %\{REQUEST_URI\} !\^/\\\.well-known/acme-challenge/"
    r"|RewriteCond %\{SERVER_NAME\} \^\(\?:.*\)\$ \[NC\]"
    r"|RewriteRule \^ https://%\{SERVER_NAME\}%\{REQUEST_URI\} \[END,NE,R=permanent\]"
    r"|Header always set (Strict-Transport-Security \"max-age=31536000\""
    r"|Content-Security-Policy upgrade-insecure-requests)"
    r"|SSLCertificateFile .*/live/corpus/fullchain\.pem"
    r"|SSLCertificateKeyFile .*/live/corpus/privkey\.pem)$"
)
REPLACED = re.compile(r"^\s*SSLCertificate(Chain|Key)?File\s")


def self_signed(folder: Path) -> dict[str, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "corpus.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    paths = {kind: folder / f"{kind}.pem" for kind in ("cert", "chain", "fullchain", "privkey")}
    for kind, path in paths.items():
        path.write_bytes(key_pem if kind == "privkey" else pem)
    return paths


def settings_of(text: str) -> dict[str, list[str]]:
    first = text.splitlines()[0]
    assert first.startswith("# certsmith-corpus:"), first
    found = dict(item.split("=", 1) for item in first.split(":", 1)[1].split())
    return {key: value.split(",") for key, value in found.items()}


def unexpected_changes(old: str, new: str) -> list[str]:
    """Lines of the diff that are neither certsmith's additions nor its certificate lines."""
    a, b = old.splitlines(), new.splitlines()
    bad: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        bad += [f"- {line}" for line in a[i1:i2] if not REPLACED.match(line)]
        bad += [f"+ {line}" for line in b[j1:j2] if not ADDED.match(line)]
    return bad


def test_the_corpus_has_at_least_twenty_varied_sites() -> None:
    assert len(CASES) >= 20
    texts = [(CORPUS / case).read_bytes() for case in CASES]
    assert any(b"SSLEngine" in t for t in texts) and any(b"_default_" in t for t in texts)
    assert any(b"[2001:db8::" in t for t in texts) and any(b"Include " in t for t in texts)


@pytest.mark.parametrize("case", CASES)
def test_installing_into_a_corpus_site_passes_configtest_and_only_adds_lines(
    case: str, tmp_path: Path
) -> None:
    live = self_signed(tmp_path / "letsencrypt" / "live" / "corpus")
    old_cert = self_signed(tmp_path / "old")
    raw = (CORPUS / case).read_bytes()
    for marker, kind in ((b"@CERT@", "fullchain"), (b"@KEY@", "privkey"), (b"@CHAIN@", "chain")):
        raw = raw.replace(marker, str(old_cert[kind]).encode())
    if "crlf" in case:
        raw = raw.replace(b"\n", b"\r\n")
    settings = settings_of(raw.decode("latin-1"))

    server = ApacheServer(tmp_path / "apache", host="127.0.0.22", http_port=80, https_port=443)
    server.write_root()
    shutil.copytree(CORPUS / "snippets", server.root / "snippets")
    site = server.add_site(case, "")
    site.write_bytes(raw)
    for module in settings.get("modules", []):
        enable_module(server.root, module, lambda path: None)
    check = server.configtest()
    assert check.returncode == 0, f"the corpus file itself does not pass:\n{check.stderr}"
    snippet = (server.root / "snippets" / "common.conf").read_bytes()

    options = {**server.options(), "work_dir": str(tmp_path / "work")}
    installer = installer_factory(tmp_path / "letsencrypt")("apache", options)
    installer.deploy("corpus", settings["names"], live)
    installer.enhance(settings["names"], settings.get("enhance", []))

    check = server.configtest()
    assert check.returncode == 0, check.stderr
    new = site.read_bytes()
    bad = unexpected_changes(raw.decode("latin-1"), new.decode("latin-1"))
    assert bad == [], "\n".join(bad)
    assert (server.root / "snippets" / "common.conf").read_bytes() == snippet
    if b"\r\n" in raw:
        assert new.count(b"\n") == new.count(b"\r\n")  # the file's own line endings
    # Every certificate line of the configuration now names the lineage.
    files = [site, *(server.root / "sites-available").glob("*-le-ssl.conf")]
    lines = [ln for f in files for ln in f.read_text("latin-1").splitlines()]
    certs = [
        ln.split(None, 1)[1].strip('"')
        for ln in lines
        if ln.strip().startswith("SSLCertificateFile")
    ]
    keys = [
        ln.split(None, 1)[1].strip('"')
        for ln in lines
        if ln.strip().startswith("SSLCertificateKeyFile")
    ]
    assert certs and set(certs) == {str(live["fullchain"])}
    assert keys and set(keys) == {str(live["privkey"])}
    assert not any(ln.strip().startswith("SSLCertificateChainFile") for ln in lines)
