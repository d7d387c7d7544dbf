"""dns-persist-01 records (syntax, judgement, solver, pre-flight) and dns-account-01 labels."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.acme.messages import Challenge
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.dns01 import DnsSolver, PropagationChecker, txt_value
from certsmith.challenges.dns01.persist import PersistSolver
from certsmith.challenges.dns_account import account_challenge_name, account_label
from certsmith.challenges.dns_persist import (
    Finding,
    PersistRecord,
    evaluate,
    persist_owner,
)
from certsmith.cli.cmd_persist import parse_until, records_for
from certsmith.dnsutil import make_resolver
from certsmith.errors import SolverError, UsageError
from certsmith.preflight.messages import Catalogue
from certsmith.preflight.persist import check_persist_records
from support.fake_dns import FakeDnsServer

ISSUER = "pebble.letsencrypt.org"
ACCOUNT = "https://ca.test/my-account/1"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


# --- dns-account-01 ------------------------------------------------------------------------


def test_account_label_matches_the_published_example() -> None:
    # The draft's example account, as Certify The Web's documentation of it shows the label.
    assert account_label("https://example.com/acme/acct/ExampleAccount") == "_ujmmovf2vn55tgye"


def test_account_label_is_lowercase_base32_of_the_first_ten_sha256_bytes() -> None:
    url = "https://127.0.0.1:14000/my-account/abc"
    digest = hashlib.sha256(url.encode()).digest()[:10]
    expected = "_" + base64.b32encode(digest).decode().lower()
    assert account_label(url) == expected
    assert len(expected) == 17 and "=" not in expected
    assert account_label(url + "x") != expected


def test_account_challenge_name_prefixes_the_acme_challenge_name() -> None:
    name = account_challenge_name("_acme-challenge.example.test", ACCOUNT)
    assert name == f"{account_label(ACCOUNT)}._acme-challenge.example.test"


# --- record syntax -------------------------------------------------------------------------


def test_record_text_has_issuer_account_policy_and_until_in_draft_order() -> None:
    assert PersistRecord(ISSUER, ACCOUNT).to_text() == f"{ISSUER}; accounturi={ACCOUNT}"
    full = PersistRecord(ISSUER, ACCOUNT, wildcard=True, persist_until=1798761600).to_text()
    assert full == f"{ISSUER}; accounturi={ACCOUNT}; policy=wildcard; persistUntil=1798761600"


def test_record_round_trips_and_tags_are_case_insensitive() -> None:
    record = PersistRecord(ISSUER, ACCOUNT, wildcard=True, persist_until=5)
    assert PersistRecord.parse(record.to_text()) == record
    parsed = PersistRecord.parse(f" {ISSUER} ;AccountURI={ACCOUNT};POLICY=Wildcard;persistuntil=7")
    assert parsed == PersistRecord(ISSUER, ACCOUNT, wildcard=True, persist_until=7)


def test_unknown_policy_counts_as_none_and_unknown_tags_are_ignored() -> None:
    parsed = PersistRecord.parse(f"{ISSUER}; accounturi={ACCOUNT}; policy=all; extra=1")
    assert parsed.wildcard is False


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"{ISSUER}", "no accounturi"),
        (f"{ISSUER}; accounturi=", "no accounturi"),
        (f"{ISSUER}; accounturi={ACCOUNT};", "empty parameter"),
        (f"{ISSUER}; accounturi={ACCOUNT}; accounturi={ACCOUNT}", "twice"),
        (f"{ISSUER}; accounturi", "tag=value"),
        (f"{ISSUER}; accounturi={ACCOUNT}; persistUntil=soon", "Unix time"),
        (f"{ISSUER}; accounturi=a b", "not allowed"),
        ("; accounturi=x", "no issuer"),
    ],
)
def test_malformed_records_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        PersistRecord.parse(text)


def test_owner_drops_the_wildcard_and_refuses_other_names() -> None:
    assert persist_owner(Identifier.dns("*.Example.Test")) == "_validation-persist.example.test"
    with pytest.raises(SolverError):
        persist_owner(Identifier.dns("bad name.test"))
    with pytest.raises(SolverError):
        persist_owner(Identifier("ip", "192.0.2.1"))


# --- judging what the DNS serves -----------------------------------------------------------


def judge(*values: str, wildcard: bool = False, account: str | None = ACCOUNT) -> Finding:
    return evaluate(values, [ISSUER], account, wildcard=wildcard, now=NOW).finding


def test_evaluate_finds_the_matching_record_among_others() -> None:
    good = PersistRecord(ISSUER, ACCOUNT).to_text()
    assert judge("other.ca; accounturi=x", "v=spf1 -all", good) is Finding.OK
    assert judge(good.upper().replace(ACCOUNT.upper(), ACCOUNT)) is Finding.OK  # issuer case


def test_evaluate_names_the_nearest_miss() -> None:
    assert judge() is Finding.MISSING
    assert judge("other.ca; accounturi=x") is Finding.OTHER_CA
    assert judge(f"{ISSUER}; accounturi=https://ca.test/my-account/2") is Finding.OTHER_ACCOUNT
    assert judge(PersistRecord(ISSUER, ACCOUNT).to_text(), wildcard=True) is Finding.NO_WILDCARD
    expired = PersistRecord(ISSUER, ACCOUNT, persist_until=int(NOW.timestamp()) - 1)
    assert judge(expired.to_text()) is Finding.EXPIRED
    assert judge(f"{ISSUER}; accounturi={ACCOUNT};") is Finding.MALFORMED
    assert judge(PersistRecord(ISSUER, ACCOUNT).to_text(), account=None) is Finding.OTHER_ACCOUNT


def test_evaluate_accepts_wildcard_policy_and_a_future_until() -> None:
    until = int(NOW.timestamp()) + 60
    record = PersistRecord(ISSUER, ACCOUNT, wildcard=True, persist_until=until).to_text()
    assert judge(record, wildcard=True) is Finding.OK


# --- the wire: issuer-domain-names ---------------------------------------------------------


def test_challenge_without_token_keeps_its_issuer_domain_names() -> None:
    raw = {
        "type": "dns-persist-01",
        "url": "https://ca.test/chal/1",
        "status": "pending",
        "issuer-domain-names": [ISSUER],
    }
    challenge = Challenge.from_json(raw)
    assert challenge.token is None
    assert challenge.issuer_domain_names == (ISSUER,)


# --- persist-record's output ---------------------------------------------------------------


def test_records_for_merges_a_name_and_its_wildcard_into_one_wildcard_record() -> None:
    records = records_for(
        ("example.test", "*.example.test", "www.other.test"),
        ISSUER,
        ACCOUNT,
        wildcard=False,
        until=None,
    )
    assert [(r.name, r.value) for r in records] == [
        ("_validation-persist.example.test", f"{ISSUER}; accounturi={ACCOUNT}; policy=wildcard"),
        ("_validation-persist.www.other.test", f"{ISSUER}; accounturi={ACCOUNT}"),
    ]
    assert records[1].zone_line() == (
        f'_validation-persist.www.other.test. IN TXT "{ISSUER}; accounturi={ACCOUNT}"'
    )


def test_parse_until_takes_dates_times_and_unix_times_but_not_the_past() -> None:
    assert parse_until("2027-01-01", NOW) == 1798761600
    assert parse_until("2027-01-01T00:00:00Z", NOW) == 1798761600
    assert parse_until("1798761600", NOW) == 1798761600
    with pytest.raises(UsageError, match="past"):
        parse_until("2020-01-01", NOW)
    with pytest.raises(UsageError, match="date"):
        parse_until("next year", NOW)


# --- against a DNS server: the solver's last look and the pre-flight -----------------------


@pytest.fixture
def server() -> Iterator[FakeDnsServer]:
    with FakeDnsServer({"example.test": {"www": [("A", "127.0.0.1")]}}) as fake:
        yield fake


def persist_task(name: str, account: str = ACCOUNT) -> ChallengeTask:
    ident = Identifier.dns(name.removeprefix("*."))
    return ChallengeTask(
        ident, "dns-persist-01", "", "", account, (ISSUER,), wildcard=name.startswith("*.")
    )


async def test_persist_solver_writes_nothing_and_settles_on_a_matching_record(
    server: FakeDnsServer,
) -> None:
    record = PersistRecord(ISSUER, ACCOUNT).to_text()
    server.set_records("example.test", "_validation-persist", "TXT", [record])
    solver = PersistSolver(PropagationChecker(dns_resolver=server.address), now=lambda: NOW)
    t = persist_task("example.test")
    await solver.present(t)
    await solver.settle([t])
    await solver.cleanup(t)
    asked = {(q[1].rstrip(".").lower(), q[2]) for q in server.queries}
    assert asked == {("_validation-persist.example.test", "TXT")}


async def test_persist_solver_refuses_before_answering_when_the_account_differs(
    server: FakeDnsServer,
) -> None:
    record = PersistRecord(ISSUER, "https://ca.test/my-account/other").to_text()
    server.set_records("example.test", "_validation-persist", "TXT", [record])
    solver = PersistSolver(PropagationChecker(dns_resolver=server.address), now=lambda: NOW)
    t = persist_task("*.example.test")
    await solver.present(t)
    with pytest.raises(SolverError, match="another ACME account"):
        await solver.settle([t])


async def test_preflight_explains_each_kind_of_mismatch_in_one_sentence(
    server: FakeDnsServer,
) -> None:
    server.add_zone("other.test", {"www": [("A", "127.0.0.1")]})
    server.set_records(
        "example.test", "_validation-persist", "TXT", [PersistRecord(ISSUER, ACCOUNT).to_text()]
    )
    wrong = PersistRecord(ISSUER, "https://ca.test/my-account/2").to_text()
    server.set_records("other.test", "_validation-persist.www", "TXT", [wrong])
    idents = [
        Identifier.dns("example.test"),
        Identifier.dns("*.example.test"),
        Identifier.dns("www.other.test"),
        Identifier.dns("www.example.test"),
        Identifier("ip", "192.0.2.1"),
    ]
    results = await check_persist_records(
        idents,
        [ISSUER],
        ACCOUNT,
        resolver=make_resolver(server.address),
        now=NOW,
        catalogue=Catalogue("en"),
    )
    by_name = {r.identifier: r for r in results}
    assert set(by_name) == {"example.test", "*.example.test", "www.other.test", "www.example.test"}
    assert by_name["example.test"].ok
    assert (
        not by_name["*.example.test"].ok and "policy=wildcard" in by_name["*.example.test"].message
    )
    assert "https://ca.test/my-account/2" in by_name["www.other.test"].message
    assert "not the account in use" in by_name["www.other.test"].message
    assert "There is no TXT record" in by_name["www.example.test"].message
    assert all(r.blocking for n, r in by_name.items() if n != "example.test")
    assert "persist-record -d www.example.test" in (by_name["www.example.test"].next_step or "")


async def test_preflight_without_an_account_says_to_register_first(server: FakeDnsServer) -> None:
    server.set_records(
        "example.test", "_validation-persist", "TXT", [PersistRecord(ISSUER, ACCOUNT).to_text()]
    )
    [result] = await check_persist_records(
        [Identifier.dns("example.test")],
        [ISSUER],
        None,
        resolver=make_resolver(server.address),
        now=NOW,
        catalogue=Catalogue("en"),
    )
    assert result.blocking and "No ACME account is registered" in result.message


# --- dns-account-01 through a DNS provider -------------------------------------------------


class RecordingProvider:
    def __init__(self, server: FakeDnsServer) -> None:
        self.server = server
        self.added: list[tuple[str, str]] = []

    async def add_txt(self, fqdn: str, value: str) -> None:
        self.added.append((fqdn, value))
        self.server.set_records("example.test", fqdn + ".", "TXT", [value])

    async def remove_txt(self, fqdn: str, value: str) -> None:
        self.server.set_records("example.test", fqdn + ".", "TXT", [])


async def test_dns_solver_publishes_dns_account_01_at_the_account_label(
    server: FakeDnsServer,
) -> None:
    provider = RecordingProvider(server)
    checker = PropagationChecker(dns_resolver=server.address, timeout=2.0, interval=0.1)
    solver = DnsSolver(provider, checker)
    t = ChallengeTask(
        Identifier.dns("www.example.test"), "dns-account-01", "tok", "tok.thumb", ACCOUNT
    )
    await solver.present(t)
    await solver.settle([t])
    await solver.cleanup(t)
    label = account_label(ACCOUNT)
    assert provider.added == [(f"{label}._acme-challenge.www.example.test", txt_value("tok.thumb"))]
