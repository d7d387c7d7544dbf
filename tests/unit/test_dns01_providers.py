from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from certsmith.challenges.dns01.contract import DnsProvider, read_credentials
from certsmith.challenges.dns01.provider import ENTRY_POINT_GROUP, discover_providers, load_provider
from certsmith.challenges.dns01.rfc2136 import Rfc2136Credentials, Rfc2136Provider
from certsmith.errors import SolverError, UsageError
from support.fake_dns import FakeDnsServer

SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="


class ThirdParty:
    def __init__(self, options: Mapping[str, str]) -> None:
        self.options = dict(options)

    async def add_txt(self, fqdn: str, value: str) -> None: ...

    async def remove_txt(self, fqdn: str, value: str) -> None: ...


def fake_entry_points(*entries: importlib.metadata.EntryPoint) -> Any:
    def entry_points(**kwargs: str) -> list[importlib.metadata.EntryPoint]:
        assert kwargs == {"group": ENTRY_POINT_GROUP}
        return list(entries)

    return entry_points


def entry(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_entry_point_providers_are_discovered_and_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        fake_entry_points(entry("thirdparty", f"{__name__}:ThirdParty")),
    )
    found = discover_providers()
    assert {"rfc2136", "acme-dns", "duckdns", "thirdparty"} <= set(found)
    made = load_provider("thirdparty", {"k": "v"})
    assert isinstance(made, ThirdParty) and made.options == {"k": "v"}
    assert isinstance(made, DnsProvider)


def test_builtin_wins_over_a_plugin_with_the_same_name(caplog: pytest.LogCaptureFixture) -> None:
    eps = fake_entry_points(entry("rfc2136", f"{__name__}:ThirdParty"))
    options = {
        "dns_rfc2136_server": "127.0.0.1",
        "dns_rfc2136_name": "k.",
        "dns_rfc2136_secret": SECRET,
    }
    assert isinstance(load_provider("rfc2136", options, eps), Rfc2136Provider)
    assert "ignoring DNS provider plug-in 'rfc2136'" in caplog.text


def test_unknown_broken_and_wrong_shaped_plugins_are_usage_errors() -> None:
    eps = fake_entry_points(
        entry("broken", "no_such_module_xyz:make"), entry("shapeless", "builtins:dict")
    )
    with pytest.raises(
        UsageError, match=r"unknown DNS provider 'nope'; available: acme-dns, broken"
    ):
        load_provider("nope", {}, eps)
    with pytest.raises(UsageError, match=r"'broken' \(no_such_module_xyz:make\) failed to load"):
        load_provider("broken", {}, eps)
    with pytest.raises(UsageError, match="returned dict, which has no add_txt"):
        load_provider("shapeless", {}, eps)


def write_credentials(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_credentials_readable_by_others_are_refused(tmp_path: Path) -> None:
    creds = write_credentials(tmp_path / "rfc2136.ini", "dns_rfc2136_server = 127.0.0.1\n", 0o644)
    with pytest.raises(UsageError) as caught:
        read_credentials(creds)
    assert str(creds) in str(caught.value) and "chmod 600" in str(caught.value)
    creds.chmod(0o640)
    with pytest.raises(UsageError, match="0640"):
        Rfc2136Provider.from_credentials_file(creds)
    with pytest.raises(UsageError, match="cannot read credentials file"):
        read_credentials(tmp_path / "missing.ini")


def test_certbot_rfc2136_credentials_file_is_read(tmp_path: Path) -> None:
    creds = write_credentials(
        tmp_path / "rfc2136.ini",
        "# Target DNS server\n"
        "dns_rfc2136_server = 127.0.0.1\n"
        "dns_rfc2136_port = 5353\n"
        "dns_rfc2136_name = certbot.\n"
        f'dns_rfc2136_secret = "{SECRET}"\n'
        "dns_rfc2136_algorithm = hmac-sha512\n"
        "dns_rfc2136_sign_query = true\n",
    )
    provider = Rfc2136Provider.from_credentials_file(creds)
    assert provider.credentials == Rfc2136Credentials(
        "127.0.0.1", 5353, "certbot.", SECRET, "HMAC-SHA512", True
    )
    defaults = Rfc2136Credentials.from_options(
        {"dns_rfc2136_server": "::1", "dns_rfc2136_name": "k", "dns_rfc2136_secret": SECRET}
    )
    assert (defaults.port, defaults.algorithm, defaults.sign_query) == (53, "HMAC-MD5", False)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dns_rfc2136_server", "ns.example.com", "not an IP address"),
        ("dns_rfc2136_port", "fifty", "is not a number"),
        ("dns_rfc2136_algorithm", "HMAC-FOO", "unknown dns_rfc2136_algorithm"),
        ("dns_rfc2136_secret", "not base64!", "not base64"),
        ("dns_rfc2136_name", "", "missing dns_rfc2136_name"),
    ],
)
def test_bad_rfc2136_options_are_usage_errors(key: str, value: str, message: str) -> None:
    options = {
        "dns_rfc2136_server": "127.0.0.1",
        "dns_rfc2136_name": "k.",
        "dns_rfc2136_secret": SECRET,
    }
    options[key] = value
    with pytest.raises(UsageError, match=message):
        Rfc2136Credentials.from_options(options)


def test_malformed_credentials_line_names_file_and_line(tmp_path: Path) -> None:
    creds = write_credentials(tmp_path / "c.ini", "a = 1\nthis line has no equals\n")
    with pytest.raises(UsageError, match=r"c\.ini, line 2"):
        read_credentials(creds)


async def test_rfc2136_finds_the_zone_by_soa_walk_against_its_server() -> None:
    zones = {"example.test": {"www": [("A", "127.0.0.1")]}, "sub.example.test": {}}
    with FakeDnsServer(zones) as server:
        provider = Rfc2136Provider(
            Rfc2136Credentials("127.0.0.1", server.port, "k.", SECRET), timeout=2.0
        )
        zone = await provider.find_zone("_acme-challenge.www.example.test")
        assert zone.to_text() == "example.test."
        assert (
            await provider.find_zone("_acme-challenge.sub.example.test")
        ).to_text() == "sub.example.test."
        with pytest.raises(SolverError, match="not authoritative for any zone"):
            await provider.find_zone("_acme-challenge.elsewhere.invalid")
