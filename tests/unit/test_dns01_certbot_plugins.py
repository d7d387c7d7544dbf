"""certbot's DNS plug-in flags and renewal conf keys reach the built-in providers: the command
line, the renewal conf (read and written back), the fixed propagation wait."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.dns01.cloudflare import CloudflareProvider
from certsmith.challenges.dns01.route53 import Route53Provider
from certsmith.challenges.dns01.solver import DnsSolver
from certsmith.cli import common
from certsmith.cli.args import parse_args
from certsmith.errors import UsageError
from certsmith.renewal.settings import LineageSettings
from certsmith.renewal.solvers import SolverContext, _dns_solver, propagation_seconds


def parse(line: str) -> Any:
    return parse_args(shlex.split(line), environ={"HOME": "/home/alice"}, is_root=False)


def overrides(line: str) -> Any:
    o = parse(line)
    return common.setting_overrides(
        o.common,
        o.key,
        o.challenge,
        o.hooks,
        o.issuance,
        o.account,
        [Identifier.dns(d) for d in o.domains],
    )


def creds(tmp_path: Path, **options: str) -> Path:
    path = tmp_path / "creds.ini"
    path.write_text("".join(f"{k} = {v}\n" for k, v in options.items()))
    path.chmod(0o600)
    return path


def test_certbot_cloudflare_command_line_becomes_certbot_conf_keys(tmp_path: Path) -> None:
    ini = creds(tmp_path, dns_cloudflare_api_token="t")
    given = overrides(
        f"certonly --dns-cloudflare --dns-cloudflare-credentials {ini} "
        "--dns-cloudflare-propagation-seconds 30 -d a.example.test"
    )
    settings = given.apply(LineageSettings())
    conf = settings.to_renewalparams()
    assert conf["authenticator"] == "dns-cloudflare"
    assert conf["dns_cloudflare_credentials"] == str(ini)
    assert conf["dns_cloudflare_propagation_seconds"] == "30"
    solver = _dns_solver(settings, SolverContext())
    assert isinstance(solver.provider, CloudflareProvider)
    assert solver.propagation_seconds == 30


@pytest.mark.parametrize(
    "plugin", ["cloudflare", "route53", "digitalocean", "google", "ovh", "linode"]
)
def test_each_builtin_certbot_plugin_flag_selects_its_authenticator(plugin: str) -> None:
    options = parse(f"certonly --dns-{plugin} -d a.example.test")
    assert options.challenge.authenticator == f"dns-{plugin}"
    assert not getattr(options.common, "unsupported", None)


@pytest.mark.parametrize("credentials", [True, False])
def test_certbot_plugins_without_a_builtin_say_how_to_add_one(
    tmp_path: Path, credentials: bool
) -> None:
    ini = creds(tmp_path, dns_dnsimple_token="t")
    options = parse(f"certonly --dns-dnsimple --dns-dnsimple-credentials {ini} -d a.example.test")
    assert options.challenge.authenticator == "dns-dnsimple"
    assert options.challenge.dns_credentials == ini
    settings = LineageSettings(
        authenticator="dns-dnsimple", dns_credentials=str(ini) if credentials else None
    )
    with pytest.raises(UsageError, match=r"entry point group certsmith\.dns_providers"):
        _dns_solver(settings, SolverContext())


def test_certbot_route53_lineage_needs_no_credentials_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    settings = LineageSettings.from_renewalparams(
        {"authenticator": "dns-route53", "dns_route53_propagation_seconds": "10"}
    )
    solver = _dns_solver(settings, SolverContext())
    assert isinstance(solver.provider, Route53Provider)
    assert solver.propagation_seconds == 10
    assert settings.to_renewalparams()["dns_route53_propagation_seconds"] == "10"


def test_certbot_written_conf_round_trips_with_its_keys(tmp_path: Path) -> None:
    ini = creds(tmp_path, dns_cloudflare_email="a@b.test", dns_cloudflare_api_key="k")
    params = {
        "authenticator": "dns-cloudflare",
        "dns_cloudflare_credentials": str(ini),
        "dns_cloudflare_propagation_seconds": "10",
        "server": "https://ca.test/dir",
        "account": "abc",
        "key_type": "ecdsa",
    }
    settings = LineageSettings.from_renewalparams(params)
    assert settings.dns_credentials == str(ini)
    written = settings.to_renewalparams()
    for key, value in params.items():
        assert written[key] == value, key


def test_bad_propagation_seconds_in_the_conf_is_a_usage_error() -> None:
    settings = LineageSettings.from_renewalparams(
        {"authenticator": "dns-cloudflare", "dns_cloudflare_propagation_seconds": "soon"}
    )
    with pytest.raises(UsageError, match="dns_cloudflare_propagation_seconds"):
        propagation_seconds(settings)


class RecordingChecker:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def resolve_challenge_target(self, name: str) -> str:
        return name

    async def wait(self, records: Any) -> None:
        self.log.append("check")


class MemoryProvider:
    async def add_txt(self, fqdn: str, value: str) -> None:
        pass

    async def remove_txt(self, fqdn: str, value: str) -> None:
        pass


@pytest.mark.parametrize(("seconds", "expected"), [(0, ["check"]), (25, ["sleep 25", "check"])])
async def test_propagation_seconds_is_a_fixed_wait_before_the_check(
    seconds: int, expected: list[str]
) -> None:
    log: list[str] = []

    async def sleep(delay: float) -> None:
        log.append(f"sleep {delay:g}")

    solver = DnsSolver(
        MemoryProvider(), RecordingChecker(log), propagation_seconds=seconds, sleep=sleep
    )  # type: ignore[arg-type]
    task = ChallengeTask(Identifier.dns("a.example.test"), "dns-01", "tok", "tok.key")
    await solver.present(task)
    await solver.settle([task])
    assert log == expected


def test_dns_google_project_flag_is_kept_and_given_to_the_provider(tmp_path: Path) -> None:
    given = overrides(
        "certonly --dns-google --dns-google-credentials /k.json --dns-google-project p-2 "
        "-d a.example.test"
    )
    settings = given.apply(LineageSettings())
    conf = settings.to_renewalparams()
    assert (conf["authenticator"], conf["dns_google_credentials"]) == ("dns-google", "/k.json")
    assert conf["dns_google_project"] == "p-2"
    # The key file is read (and refused: it does not exist) only when the solver is built.
    with pytest.raises(UsageError, match=r"/k\.json"):
        _dns_solver(settings, SolverContext())
