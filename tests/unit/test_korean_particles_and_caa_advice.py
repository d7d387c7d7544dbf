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
# What stays the same in every language: the program's tag at the start of a line on stderr
# ("certsmith: error: ...", as argparse and certbot print "prog: error:"; scripts grep it).
UNTRANSLATED = ("certsmith: error: ", "certsmith: ")
_LOGGERS = {"log", "logger", "logging"}


def _words(text: str) -> bool:
    for fragment in UNTRANSLATED:
        text = text.replace(fragment, "")
    return any(ch.isalpha() for ch in text)


def _has_words(node: ast.expr, constants: set[str]) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _words(node.value)
    if isinstance(node, ast.JoinedStr):
        return _words("".join(v.value for v in node.values if isinstance(v, ast.Constant)))
    if isinstance(node, ast.BinOp):
        return _has_words(node.left, constants) or _has_words(node.right, constants)
    if isinstance(node, ast.IfExp):
        return _has_words(node.body, constants) or _has_words(node.orelse, constants)
    if isinstance(node, ast.BoolOp):
        return any(_has_words(v, constants) for v in node.values)
    return isinstance(node, ast.Name) and node.id in constants


def _is_log_call(func: ast.expr) -> bool:
    """``log.error(...)``, ``logging.getLogger(...).error(...)``: the log file, not the user."""
    if not isinstance(func, ast.Attribute):
        return False
    owner = func.value
    if isinstance(owner, ast.Name):
        return owner.id in _LOGGERS
    return isinstance(owner, ast.Call) and getattr(owner.func, "attr", None) == "getLogger"


def literals_shown(path: Path) -> list[int]:
    """Lines of ``path`` that print, prompt with or raise UsageError with literal English
    (also through a module-level string constant or either branch of a conditional)."""
    tree = ast.parse(path.read_text("utf-8"))
    constants = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign) and _has_words(node.value, set())
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args or _is_log_call(node.func):
            continue
        if not _has_words(node.args[0], constants):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name in _PRINTING or name == "UsageError":
            found.append(node.lineno)
    return found


def test_the_detector_sees_literals_through_constants_and_conditionals(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text(
        'TEXT = "Authenticators: ..."\n'
        "console.say(TEXT)\n"
        'console.say(a if b else "Nothing to roll back.")\n'
        'raise UsageError(f"--config {path}: no such file.")\n'
        'sys.stderr.write(f"certsmith: error: {said}\\n")\n'
        'log.error("%s (%s)", a, b)\n'
        'console.say(console.message("rollback.nothing"))\n',
        encoding="utf-8",
    )
    assert literals_shown(source) == [2, 3, 4]


def test_no_cli_file_shows_a_literal_english_line() -> None:
    """Every line a user sees is worded from locale/<lang>.json (issue 8). The one English
    literal left is main.py's fallback for when the catalogue itself fails, which is not
    passed to the console directly (see _internal_error)."""
    shown = {p.name: literals_shown(p) for p in sorted(CLI.glob("*.py"))}
    assert {name: lines for name, lines in shown.items() if lines} == {}, (
        "user-visible English literals in cli/ (put the text in locale/en.json and ko.json and "
        "use console.message or usage_error)"
    )


_WORDING = {"message", "usage_error", "get"}


def test_every_catalogue_key_named_in_cli_exists() -> None:
    """A mistyped key would print the key itself to the user."""
    en = load_templates("en")
    missing = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            first = node.args[0]
            if name not in _WORDING or not isinstance(first, ast.Constant):
                continue
            key = first.value
            if isinstance(key, str) and "." in key and " " not in key and key not in en:
                missing.append(f"{path.name}:{node.lineno}: {key}")
    assert missing == []


def test_a_usage_error_is_shown_in_the_users_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from certsmith.cli.main import main

    monkeypatch.setenv("LC_ALL", "ko_KR.UTF-8")
    assert main(["certonly", "-n", "--standalone", "-d", "a.test", "--email", "no-at-sign"]) == 2
    err = capsys.readouterr().err
    assert err == "certsmith: error: --email 'no-at-sign': 이메일 주소가 아닙니다.\n"
    monkeypatch.setenv("LC_ALL", "C")
    main(["certonly", "-n", "--standalone", "-d", "a.test", "--email", "no-at-sign"])
    assert "--email 'no-at-sign' is not an e-mail address." in capsys.readouterr().err


def test_a_usage_error_keeps_its_english_message_and_korean_particles() -> None:
    from certsmith.cli.usage import usage_error, usage_text

    error = usage_error("usage.ip_as_domain", name="10.0.0.1")
    assert str(error) == "10.0.0.1 is an IP address; pass it with --ip-address."
    assert usage_text(error, Catalogue("ko")).startswith("10.0.0.1은 IP 주소입니다.")
    wildcard = usage_error("usage.wildcard_needs_dns", name="*.home.iptime.org")
    assert usage_text(wildcard, Catalogue("ko")).startswith(
        "와일드카드 도메인 *.home.iptime.org는 "
    )


def test_certonly_and_renew_lines_read_in_korean() -> None:
    ko = Catalogue("ko")
    received = ko.get("certonly.received", fullchain="/f", privkey="/k", expires="2026-01-02")
    assert received.splitlines()[0] == "인증서를 발급받았습니다."
    assert ko.get("renew.summary", renewed=1, not_due=3, failed=0, locked=2) == (
        "갱신 1개, 갱신 전 3개, 실패 0개, 건너뜀(잠김) 2개"
    )
    en = Catalogue("en")
    assert en.get("renew.summary", renewed=1, not_due=3, failed=0, locked=2) == (
        "1 renewed, 3 not due, 0 failed, 2 skipped (locked)"  # what log scrapers read
    )
