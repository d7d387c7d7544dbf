"""`certsmith certonly --allow-subset-of-names` against a real Pebble: one name's http-01 cannot be
reached (its A record points at 127.0.0.9, where nothing listens), the other is answered by the
standalone responder on 127.0.0.2."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from test_cli_e2e import STANDALONE_IP, Cli, cli, unique_name

__all__ = ["cli"]  # the fixture, imported so pytest finds it here

pytestmark = pytest.mark.pebble

NOTHING_LISTENS = "127.0.0.9"


def names_of(cert_path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(str(v) for v in san.get_values_for_type(x509.DNSName))


def good_and_bad(cli: Cli) -> tuple[str, str]:
    good, bad = unique_name("good"), unique_name("bad")
    cli.ca.add_a(good, [STANDALONE_IP])
    cli.ca.add_a(bad, [NOTHING_LISTENS])
    return good, bad


def test_allow_subset_of_names_drops_the_failed_name_and_remembers_the_flag(cli: Cli) -> None:
    good, bad = good_and_bad(cli)
    result = cli.run(*cli.standalone(good, bad, extra=("--allow-subset-of-names",)))
    assert result.returncode == 0, result.stderr
    assert f"The CA could not validate {bad}; the certificate was issued without it" in (
        result.stdout + result.stderr
    )
    live = cli.config_dir / "live" / good
    assert names_of(live / "cert.pem") == [good]
    conf = (cli.config_dir / "renewal" / f"{good}.conf").read_text()
    assert "allow_subset_of_names = True" in conf.splitlines()

    # Renewal reads the flag back; the lineage now has the good name only, so it just renews.
    renewed = cli.run("renew", "--no-random-sleep-on-renew", "--force-renewal")
    assert renewed.returncode == 0, renewed.stderr
    assert (cli.config_dir / "archive" / good / "cert2.pem").exists()
    assert names_of(live / "cert.pem") == [good]
    conf = (cli.config_dir / "renewal" / f"{good}.conf").read_text()
    assert "allow_subset_of_names = True" in conf.splitlines()


def test_without_the_flag_the_same_run_fails_naming_the_failed_name(cli: Cli) -> None:
    good, bad = good_and_bad(cli)
    result = cli.run(*cli.standalone(good, bad))
    assert result.returncode == 1
    assert f"The CA could not connect to the server of {bad}." in result.stderr
    assert good not in result.stderr
    assert not (cli.config_dir / "live" / good).exists()
    assert not (cli.config_dir / "renewal" / f"{good}.conf").exists()
