"""Korean particles chosen by the word (받침), the CAA advice for zones the user cannot control,
and the rule that what the manual path shows goes through the message catalogue."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from certsmith.preflight.josa import particle
from certsmith.preflight.messages import Catalogue, load_templates
from certsmith.preflight.provider_zones import provider_zone, read_public_suffixes

CLI = Path(__file__).resolve().parents[2] / "src" / "certsmith" / "cli"


@pytest.mark.parametrize(
    ("word", "spec", "expected"),
    [
        ("인증서", "은", "는"),  # no final consonant
        ("도메인", "은", "은"),  # ㄴ
        ("파일", "으로", "로"),  # ㄹ takes 로
        ("도메인", "으로", "으로"),
        ("레코드", "이", "가"),
        ("example.com", "을", "을"),  # 닷컴
        ("a.net", "이", "이"),  # 닷넷
        ("name.duckdns.org", "를", "를"),  # 오알지
        ("test2.iptime.test", "은", "는"),  # 테스트
        ("/etc/letsencrypt/live", "을", "를"),  # 라이브
        ("443", "을", "을"),  # 삼
        ("8082", "이", "가"),  # 이
        ("ssl", "으로", "로"),  # 엘: ㄹ
        ("http://a.example/x", "을", "를"),  # 엑스
        ("`certsmith renew`", "을", "를"),  # 리뉴 (trailing backquote skipped)
    ],
)
def test_particle_follows_the_last_sound(word: str, spec: str, expected: str) -> None:
    assert particle(word, spec) == expected


def test_korean_templates_pick_particles_and_never_write_both_forms() -> None:
    ko = load_templates("ko")
    for key, template in ko.items():
        for both in ("은(는)", "이(가)", "을(를)", "(으)로", "와(과)"):
            assert both not in template, key
    cat = Catalogue("ko")
    assert cat.get("check.local.ok", name="test2.iptime.test", addresses="x").startswith(
        "test2.iptime.test는 "
    )
    assert cat.get("check.local.ok", name="home.example.com", addresses="x").startswith(
        "home.example.com은 "
    )


def test_english_templates_use_no_particle_specs() -> None:
    for key, template in load_templates("en").items():
        assert ":은}" not in template and ":을}" not in template, key


# -- the CAA advice --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "record_at", "zone"),
    [
        ("home.iptime.org", "iptime.org", "iptime.org"),  # known DDNS zone, not in the PSL
        ("*.home.iptime.org", "iptime.org", "iptime.org"),
        ("a.b.ddns.net", "ddns.net", "ddns.net"),
        ("shop.example.co.kr", "co.kr", "co.kr"),  # a public suffix (the list given below)
        ("home.example.com", "example.com", None),  # the user's own zone
        ("iptime.org", "iptime.org", None),  # the provider itself
        ("home.iptime.org", None, None),
    ],
)
def test_provider_zone_decision(
    domain: str, record_at: str | None, zone: str | None, tmp_path: Path
) -> None:
    psl = tmp_path / "psl.dat"
    psl.write_text("// comment\nkr\nco.kr\n*.ck\n!www.ck\n", encoding="utf-8")
    assert provider_zone(domain, record_at, suffix_files=[psl]) == zone


def test_public_suffix_rules_skip_comments_wildcards_and_exceptions() -> None:
    assert read_public_suffixes(["// x", "", "com", "*.ck", "!www.ck", "blogspot.com"]) == {
        "com",
        "blogspot.com",
    }


async def test_caa_block_on_a_provider_zone_names_the_ways_out_not_no_preflight() -> None:
    from certsmith.dnsutil import make_resolver
    from certsmith.preflight.checks import run_preflight
    from support.fake_dns import FakeDnsServer

    server = FakeDnsServer(
        {"iptime.org": {"@": [("CAA", '0 issue "sectigo.com"')], "home": [("A", "192.0.2.7")]}}
    )
    server.start()
    try:
        results = await run_preflight(
            ["home.iptime.org"],
            "http-01",
            ["letsencrypt.org"],
            resolver=make_resolver(server.address),
            catalogue=Catalogue("en"),
        )
    finally:
        server.stop()
    [caa] = [r for r in results if r.name == "caa"]
    assert caa.blocking and not caa.skippable
    assert "iptime.org, a zone run by a dynamic-DNS or public-suffix provider" in caa.message
    assert caa.next_step is not None
    assert "DuckDNS" in caa.next_step and "domain of your own" in caa.next_step
    assert "Add a CAA record" not in caa.next_step and "--no-preflight" not in caa.next_step


def test_unskippable_preflight_failure_does_not_suggest_no_preflight() -> None:
    from certsmith.cli.explain import explain
    from certsmith.errors import PreflightFailed

    text = explain(PreflightFailed("x", skippable=False), catalogue=Catalogue("en"))
    assert "only move the refusal to the CA" in text.next_step
    assert "skip the checks with --no-preflight" not in text.next_step
    usual = explain(PreflightFailed("x"), catalogue=Catalogue("en"))
    assert "--no-preflight" in usual.next_step


# -- every line a user sees goes through the catalogue ----------------------------------------

_PRINTING = {"say", "note", "error", "write", "_ask", "wait_for_enter", "choose", "confirm"}


def _has_words(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(ch.isalpha() for ch in node.value)
    if isinstance(node, ast.JoinedStr):
        return any(_has_words(v) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _has_words(node.left) or _has_words(node.right)
    return False


def literals_shown(path: Path) -> list[int]:
    """Lines of ``path`` that print, prompt with or raise UsageError with literal English."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Call) or not node.args or not _has_words(node.args[0]):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name in _PRINTING or name == "UsageError":
            found.append(node.lineno)
    return found


# Files whose every user-visible line is worded from the catalogue.
THROUGH_THE_CATALOGUE = ("manual_text.py", "prompt.py", "folders.py")
# What is still English-only (issue 8, not finished): the most each file may hold. Lower a
# number when you move lines into the catalogue; a new literal line fails this test.
STILL_ENGLISH = {
    "args.py": 4, "build.py": 23, "cmd_account.py": 11, "cmd_certonly.py": 10,
    "cmd_checks.py": 5, "cmd_csr.py": 9, "cmd_manage.py": 15, "cmd_renew.py": 8,
    "cmd_run.py": 15, "common.py": 4, "config_file.py": 4, "console.py": 4, "flags.py": 1,
    "main.py": 4, "options.py": 4,
}  # fmt: skip


def test_the_manual_path_shows_nothing_but_catalogue_text() -> None:
    for name in THROUGH_THE_CATALOGUE:
        assert literals_shown(CLI / name) == [], name


def test_no_new_user_visible_english_literal_in_cli() -> None:
    over = {}
    for path in sorted(CLI.glob("*.py")):
        count = len(literals_shown(path))
        if path.name in THROUGH_THE_CATALOGUE:
            continue
        if count > STILL_ENGLISH.get(path.name, 0):
            over[path.name] = count
    assert over == {}, (
        "user-visible English literals in cli/ (put the text in locale/en.json and ko.json and "
        f"use console.message): {over}"
    )
