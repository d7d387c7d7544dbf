"""A DNS provider shipped by a third party as its own package (entry point group
``certsmith.dns_providers``, docs/dns-providers.md) is chosen with ``-a dns-NAME``."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import Cli, unique_name

from certsmith.storage import LineageStore

pytestmark = pytest.mark.pebble


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Cli:
    return Cli(pebble, tmp_path)


PLUGIN = textwrap.dedent(
    """
    import json
    import urllib.request


    class ChalltestsrvTxt:
        \"\"\"Writes TXT records through pebble-challtestsrv's management API.\"\"\"

        def __init__(self, options):
            self.url = options["challtestsrv_url"]
            self.log = options["log"]

        def _post(self, path, body):
            request = urllib.request.Request(self.url + path, data=json.dumps(body).encode())
            urllib.request.urlopen(request, timeout=10).read()
            with open(self.log, "a") as log:
                log.write(path + " " + body["host"] + "\\n")

        async def add_txt(self, fqdn, value):
            self._post("/set-txt", {"host": fqdn.rstrip(".") + ".", "value": value})

        async def remove_txt(self, fqdn, value):
            self._post("/clear-txt", {"host": fqdn.rstrip(".") + "."})


    def factory(options):
        return ChalltestsrvTxt(options)
    """
)


def _install_plugin(site: Path) -> None:
    """A package as pip would leave it: the module and a dist-info with its entry point."""
    site.mkdir(parents=True)
    (site / "acmetest_dns.py").write_text(PLUGIN)
    info = site / "certsmith_dns_acmetest-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: certsmith-dns-acmetest\n"
                                   "Version: 1.0\n")  # fmt: skip
    (info / "entry_points.txt").write_text(
        "[certsmith.dns_providers]\nacmetest = acmetest_dns:factory\n"
    )


def test_a_plugin_provider_issues_and_renews(cli: Cli, tmp_path: Path) -> None:
    site = tmp_path / "site"
    _install_plugin(site)
    log = tmp_path / "plugin.log"
    creds = tmp_path / "acmetest.ini"
    creds.write_text(f"challtestsrv_url = {cli.ca.challtestsrv_url}\nlog = {log}\n")
    os.chmod(creds, 0o600)
    env = {"PYTHONPATH": str(site)}
    name = unique_name("plugin")
    result = cli.run(
        "certonly", "-a", "dns-acmetest", "--dns-credentials", str(creds), "-d", name,
        "--agree-tos", "--register-unsafely-without-email", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == [
        f"/set-txt _acme-challenge.{name}.",
        f"/clear-txt _acme-challenge.{name}.",
    ]
    cert = x509.load_pem_x509_certificate(
        (cli.config_dir / "live" / name / "cert.pem").read_bytes()
    )
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [name]
    params = LineageStore(cli.config_dir).load(name).conf.renewalparams
    assert params.get("authenticator") == "dns-acmetest"
    assert params.get("dns_acmetest_credentials") == str(creds)
    renewed = cli.run("renew", "--force-renewal", "--no-random-sleep-on-renew", env=env)
    assert renewed.returncode == 0, renewed.stderr
    assert "1 renewed" in renewed.stdout


def test_an_unknown_plugin_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    creds = tmp_path / "none.ini"
    creds.write_text("x = y\n")
    os.chmod(creds, 0o600)
    result = cli.run(
        "certonly", "-a", "dns-nosuchprovider", "--dns-credentials", str(creds),
        "-d", unique_name("noplugin"), "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    assert result.returncode == 2
    assert "nosuchprovider" in result.stderr
    assert not (cli.config_dir / "renewal").exists()
