"""dns-account-01 through --manual's hooks (`-a dns-account`), and the dns-persist-01 advice:
the exact record to set when it names another account, and a persistUntil less than 30 days
away (doctor, pre-flight)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.dns01 import txt_value
from certsmith.challenges.dns_account import account_label
from certsmith.challenges.dns_persist import PersistRecord
from certsmith.challenges.manual import ManualInstructions, ManualSolver
from certsmith.cli.args import parse_args
from certsmith.cli.console import Console
from certsmith.cli.manual_text import manual_text
from certsmith.cli.option_types import CertonlyOptions
from certsmith.dnsutil import make_resolver
from certsmith.preflight.messages import Catalogue
from certsmith.preflight.persist import check_persist_records
from support.fake_dns import FakeDnsServer

ISSUER = "pebble.letsencrypt.org"
ACCOUNT = "https://ca.test/my-account/1"
OLD_ACCOUNT = "https://ca.test/my-account/old"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def account_task(name: str = "www.example.test") -> ChallengeTask:
    return ChallengeTask(Identifier.dns(name), "dns-account-01", "tok", "tok.thumb", ACCOUNT)


async def test_manual_hook_gets_certbot_variables_and_the_account_label_owner() -> None:
    solver = ManualSolver(challenge_type="dns-account-01", auth_hook="true", base_env={})
    task = account_task()
    await solver.present(task)
    env = solver.hook_env(task, [task], 0)
    assert env["CERTBOT_DOMAIN"] == "www.example.test"
    assert env["CERTBOT_VALIDATION"] == txt_value("tok.thumb")
    assert env["CERTSMITH_TXT_NAME"] == f"{account_label(ACCOUNT)}._acme-challenge.www.example.test"
    assert "CERTBOT_TOKEN" not in env


async def test_manual_waits_for_the_txt_at_the_account_label() -> None:
    seen: list[dict[str, set[str]]] = []

    async def wait(records: dict[str, set[str]]) -> None:
        seen.append(records)

    solver = ManualSolver(auth_hook="true", base_env={"PATH": "/usr/bin:/bin"}, wait_for_txt=wait)
    task = account_task()
    await solver.settle([task])
    owner = f"{account_label(ACCOUNT)}._acme-challenge.www.example.test"
    assert seen == [{owner: {txt_value("tok.thumb")}}]


def test_manual_instructions_name_the_account_label_record() -> None:
    owner = f"{account_label(ACCOUNT)}._acme-challenge.www.example.test"
    ins = ManualInstructions(
        "dns-account-01", Identifier.dns("www.example.test"), "VALUE", record_name=owner
    )
    text = manual_text(Console(catalogue=Catalogue("en")), ins)
    assert owner in text and "VALUE" in text and "http" not in text


def test_dash_a_dns_account_is_manual_with_dns_account_01_first() -> None:
    argv = ["certonly", "-a", "dns-account", "-d", "example.test", "--manual-auth-hook", "h"]
    command = parse_args(argv, environ={}, is_root=True)
    assert isinstance(command, CertonlyOptions)
    assert command.challenge.authenticator == "manual"
    assert command.challenge.preferred_challenges == ("dns-account-01",)
    argv += ["--preferred-challenges", "dns-01"]
    command = parse_args(argv, environ={}, is_root=True)
    assert isinstance(command, CertonlyOptions)
    assert command.challenge.preferred_challenges == ("dns-account-01", "dns-01")


@pytest.fixture
def server() -> Iterator[FakeDnsServer]:
    with FakeDnsServer({"example.test": {"www": [("A", "127.0.0.1")]}}) as fake:
        yield fake


async def test_preflight_for_a_moved_lineage_prints_the_exact_new_record(
    server: FakeDnsServer,
) -> None:
    until = int((NOW + timedelta(days=300)).timestamp())
    old = PersistRecord(ISSUER, OLD_ACCOUNT, wildcard=True, persist_until=until).to_text()
    server.set_records("example.test", "_validation-persist", "TXT", [old])
    [result] = await check_persist_records(
        [Identifier.dns("example.test")],
        [ISSUER],
        ACCOUNT,
        resolver=make_resolver(server.address),
        now=NOW,
        catalogue=Catalogue("en"),
    )
    assert result.blocking and OLD_ACCOUNT in result.message
    new = PersistRecord(ISSUER, ACCOUNT, wildcard=True, persist_until=until).to_text()
    assert f'_validation-persist.example.test. IN TXT "{new}"' in (result.next_step or "")


@pytest.mark.parametrize(("days", "warned"), [(10, True), (29, True), (31, False), (None, False)])
async def test_persist_until_within_30_days_is_a_warning(
    server: FakeDnsServer, days: int | None, warned: bool
) -> None:
    until = None if days is None else int((NOW + timedelta(days=days)).timestamp())
    record = PersistRecord(ISSUER, ACCOUNT, persist_until=until).to_text()
    server.set_records("example.test", "_validation-persist", "TXT", [record])
    [result] = await check_persist_records(
        [Identifier.dns("example.test")],
        [ISSUER],
        ACCOUNT,
        resolver=make_resolver(server.address),
        now=NOW,
        catalogue=Catalogue("en"),
    )
    assert result.ok and not result.blocking
    assert (result.severity == "warning") is warned
    assert ("only until" in result.message) is warned


async def test_doctor_mode_skips_names_without_a_record_and_only_warns(
    server: FakeDnsServer,
) -> None:
    other = PersistRecord(ISSUER, OLD_ACCOUNT).to_text()
    server.set_records("example.test", "_validation-persist.www", "TXT", [other])
    results = await check_persist_records(
        [Identifier.dns("example.test"), Identifier.dns("www.example.test")],
        [ISSUER],
        ACCOUNT,
        resolver=make_resolver(server.address),
        now=NOW,
        catalogue=Catalogue("en"),
        required=False,
    )
    assert [(r.identifier, r.severity, r.blocking) for r in results] == [
        ("www.example.test", "warning", False)
    ]
