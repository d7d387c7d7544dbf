"""`certsmith caa-check DOMAIN --issuer ISSUER` as issue 5's contract spells it."""

from __future__ import annotations

import pytest

from certsmith.cli.args import parse_args
from certsmith.cli.options import CaaCheckOptions


@pytest.mark.parametrize(
    "argv",
    [
        ["caa-check", "example.com", "--issuer", "letsencrypt.org"],
        ["caa-check", "--issuer", "letsencrypt.org", "example.com"],
        ["--dns-resolver", "127.0.0.1:53", "caa-check", "example.com", "--issuer=letsencrypt.org"],
        ["caa-check", "-d", "example.com", "--issuer", "letsencrypt.org"],
    ],
)
def test_domain_may_be_positional(argv: list[str]) -> None:
    command = parse_args(argv, environ={}, is_root=False)
    assert isinstance(command, CaaCheckOptions)
    assert command.domains == ("example.com",)
    assert command.issuer == "letsencrypt.org"


def test_wildcard_positional_and_method() -> None:
    command = parse_args(
        ["caa-check", "*.example.com", "--method", "dns-01", "--account-uri", "https://ca/acct/1"],
        environ={},
        is_root=False,
    )
    assert isinstance(command, CaaCheckOptions)
    assert command.domains == ("*.example.com",)
    assert (command.method, command.account_uri) == ("dns-01", "https://ca/acct/1")
