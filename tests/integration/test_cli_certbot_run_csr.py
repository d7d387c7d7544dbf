"""certbot command lines that certsmith used to refuse, against Pebble: `run -i null` (and no
subcommand), `--no-verify-ssl` without the CA's bundle, and `certonly --csr` (PEM and DER) side
by side with certbot 5.8.0 writing the same files."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_cli_e2e import CERTSMITH, STANDALONE_IP, Cli, cli, unique_name

from support.certbot_peer import CERTBOT, folder_args, pebble_for_certbot, standalone_args

pytestmark = pytest.mark.pebble

__all__ = ["cli"]
REGISTER = ("--agree-tos", "--register-unsafely-without-email", "-n")


def _standalone(cli: Cli, name: str) -> list[str]:
    cli.ca.add_a(name, [STANDALONE_IP])
    return [
        "--standalone", "-d", name, *REGISTER,
        "--http-01-address", STANDALONE_IP, "--http-01-port", str(cli.ca.http01_port),
    ]  # fmt: skip


def test_run_with_null_installer_obtains_and_installs_nowhere(cli: Cli) -> None:
    name = unique_name("run")
    result = cli.run("run", *_standalone(cli, name), "-i", "null")
    assert result.returncode == 0, result.stderr
    assert (cli.config_dir / "live" / name / "fullchain.pem").exists()
    conf = (cli.config_dir / "renewal" / f"{name}.conf").read_text()
    assert "installer = null" in conf
    # No subcommand is `run` too, and as in certbot a lone --standalone means certonly was meant.
    other = unique_name("norun")
    refused = cli.run(*_standalone(cli, other))
    assert refused.returncode == 2
    assert "certonly" in refused.stderr and "-i null" in refused.stderr
    assert not (cli.config_dir / "live" / other).exists()
    again = cli.run(*_standalone(cli, other), "--installer", "null")
    assert again.returncode == 0, again.stderr
    assert (cli.config_dir / "live" / other / "cert.pem").exists()


def test_no_verify_ssl_reaches_a_ca_whose_certificate_is_not_trusted(cli: Cli) -> None:
    name = unique_name("nv")
    args = [
        CERTSMITH, "certonly", *_standalone(cli, name), "--no-preflight",
        "--server", cli.ca.directory_url,
        *folder_args(cli.root),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "REQUESTS_CA_BUNDLE"}
    env["PYTHONWARNINGS"] = "error"
    run = lambda *extra: subprocess.run(  # noqa: E731
        [*args, *extra], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    untrusted = run()
    assert untrusted.returncode == 1, untrusted.stderr
    assert not (cli.root / "etc" / "live" / name).exists()
    trusting = run("--no-verify-ssl")
    assert trusting.returncode == 0, trusting.stderr
    warnings = [line for line in trusting.stderr.splitlines() if "--no-verify-ssl" in line]
    assert len(warnings) == 1, trusting.stderr
    assert (cli.root / "etc" / "live" / name / "privkey.pem").exists()


def _csr(path: Path, names: list[str], der: bool) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
    path.write_bytes(csr.public_bytes(encoding))


def _run_in(tool: Path, base: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error" if tool == Path(CERTSMITH) else "ignore"}
    return subprocess.run(
        [str(tool), *args, *folder_args(base)],
        capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False,
    )  # fmt: skip


@pytest.mark.certbot
@pytest.mark.skipif(not CERTBOT.exists(), reason="certbot interop venv missing")
@pytest.mark.parametrize("der", [False, True], ids=["pem", "der"])
def test_csr_writes_the_files_certbot_writes(
    tmp_path: Path, pebble_factory: Callable[..., Any], der: bool
) -> None:
    name = unique_name("csr")
    pebble = pebble_for_certbot(pebble_factory, name)
    csr = tmp_path / "req.csr"
    _csr(csr, [name], der)
    written: dict[str, list[str]] = {}
    for tool in (CERTBOT, Path(CERTSMITH)):
        base = tmp_path / tool.name
        work = base / "cwd"
        work.mkdir(parents=True)
        env_args = ["--no-verify-ssl"]  # both tools trust Pebble the same way: not at all
        args = ["certonly", "--csr", str(csr), *standalone_args(pebble), *REGISTER, *env_args]
        mismatch = _run_in(tool, base, work, *args, "-d", f"other.{name}")
        assert mismatch.returncode != 0, mismatch.stdout
        assert sorted(os.listdir(work)) == []
        result = _run_in(tool, base, work, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        written[tool.name] = sorted(os.listdir(work))
        cert = x509.load_pem_x509_certificate((work / "0000_cert.pem").read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.DNSName) == [name]
        full = (work / "0001_chain.pem").read_bytes()
        assert full.startswith((work / "0000_cert.pem").read_bytes())
        assert not (base / "etc" / "live").exists()  # no lineage
        # explicit paths: written exactly there
        explicit = [
            "--cert-path", str(work / "c.pem"), "--chain-path", str(work / "ch.pem"),
            "--fullchain-path", str(work / "fc.pem"),
        ]  # fmt: skip
        assert _run_in(tool, base, work, *args, *explicit).returncode == 0
        written[tool.name + " explicit"] = sorted(os.listdir(work))
    assert written["certbot"] == written["certsmith"]
    assert written["certbot"] == ["0000_cert.pem", "0000_chain.pem", "0001_chain.pem"]
    assert written["certbot explicit"] == written["certsmith explicit"]
    assert len(written["certsmith explicit"]) == 6


def test_reconfigure_dry_runs_then_stores_and_update_symlinks_heals(cli: Cli) -> None:
    name = unique_name("rc")
    cli.certonly(name)
    conf = cli.config_dir / "renewal" / f"{name}.conf"
    assert "renew_hook" not in conf.read_text()
    port = ["--http-01-address", STANDALONE_IP, "--http-01-port", str(cli.ca.http01_port)]
    result = cli.run("reconfigure", "--cert-name", name, "--deploy-hook", "true", *port)
    assert result.returncode == 0, result.stderr
    assert "renew_hook = true" in conf.read_text()
    assert "renew_hook" in result.stdout
    # A reconfigure whose dry run fails changes nothing.
    bad = cli.run("reconfigure", "--cert-name", name, "--deploy-hook", "false",
                  "--http-01-address", STANDALONE_IP, "--http-01-port", "9")  # fmt: skip
    assert bad.returncode == 1
    assert "renew_hook = true" in conf.read_text()
    live = cli.config_dir / "live" / name / "cert.pem"
    target = os.readlink(live)
    live.unlink()
    healed = cli.run("update_symlinks", "--cert-name", name)
    assert healed.returncode == 0, healed.stderr
    assert os.readlink(live) == target
