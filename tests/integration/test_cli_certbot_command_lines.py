"""certbot command lines from its documentation and common tutorials, unchanged, against Pebble:
`--webroot --webroot-map JSON` (no -w), `-d a,b` with `--cert-name` to change names, and what
the renewal conf keeps."""

from __future__ import annotations

import json
import subprocess

import pytest
from test_cli_e2e import CERTSMITH, WEBROOT_IP, Cli, WebrootServer, cli, unique_name, webroot_server

pytestmark = pytest.mark.pebble

__all__ = ["cli", "webroot_server"]  # the fixtures, imported so pytest finds them here


def test_certonly_webroot_map_without_w(cli: Cli, webroot_server: WebrootServer) -> None:
    first, second = unique_name("map-a"), unique_name("map-b")
    for name in (first, second):
        cli.ca.add_a(name, [WEBROOT_IP])
    mapping = json.dumps({f"{first},{second}": str(webroot_server.root)})
    result = cli.run(
        "certonly", "--webroot", "--webroot-map", mapping,
        "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len([h for h in webroot_server.challenge_hits() if h.body is not None]) >= 2
    conf = (cli.config_dir / "renewal" / f"{first}.conf").read_text()
    assert f"{first} = {webroot_server.root}" in conf
    assert f"{second} = {webroot_server.root}" in conf
    assert "webroot_path" not in conf  # as certbot: only -w folders are webroot_path


def _names_in(cli: Cli, lineage: str) -> list[str]:
    result = cli.run("certificates", "--json")
    assert result.returncode == 0, result.stderr
    found = {c["name"]: c["identifiers"] for c in json.loads(result.stdout)["certificates"]}
    return sorted(found[lineage])


def test_cert_name_with_d_changes_names_and_expand_adds(cli: Cli) -> None:
    first, second, third = unique_name("n1"), unique_name("n2"), unique_name("n3")
    cli.certonly(first)
    # Without --expand or --cert-name, other names are refused with what to do (exit 2).
    for name in (second, third):
        cli.ca.add_a(name, ["127.0.0.2"])
    refused = cli.run(*cli.standalone(first, second))
    assert refused.returncode == 2
    assert "--expand" in refused.stderr and "--cert-name" in refused.stderr

    assert cli.run(*cli.standalone(first, second, extra=("--expand",))).returncode == 0
    assert _names_in(cli, first) == sorted([first, second])
    # --cert-name with -d replaces the names, dropping one (certbot's way to remove a name).
    result = cli.run(*cli.standalone(first, third, extra=("--cert-name", first)))
    assert result.returncode == 0, result.stderr
    assert _names_in(cli, first) == sorted([first, third])


def test_certificates_d_filters_and_delete_cert_name(cli: Cli) -> None:
    first, second = unique_name("f1"), unique_name("f2")
    cli.certonly(first)
    cli.certonly(second)
    shown = cli.run("certificates", "-d", second)
    assert shown.returncode == 0, shown.stderr
    assert f"Certificate Name: {second}" in shown.stdout
    assert f"Certificate Name: {first}" not in shown.stdout

    deleted = cli.run("delete", "--cert-name", first)
    assert deleted.returncode == 0, deleted.stderr
    assert not (cli.config_dir / "renewal" / f"{first}.conf").exists()
    missing = cli.run("delete", "--cert-name", first)
    assert missing.returncode != 0
    assert "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) <= 2, missing.stderr


def test_revoke_cert_path_of_a_lineage_uses_its_ca(cli: Cli) -> None:
    """`certbot revoke --cert-path /etc/letsencrypt/live/NAME/cert.pem` without --server."""
    name = unique_name("rv")
    cli.certonly(name)
    common = cli.common()
    dirs = common[common.index("--ca-bundle") :]  # everything but --server
    argv = [CERTSMITH, "revoke", "--cert-path", str(cli.config_dir / "live" / name / "cert.pem")]
    result = subprocess.run(
        [*argv, "--no-delete-after-revoke", *dirs, "-n"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"Revoked the certificate of {name}" in result.stdout
