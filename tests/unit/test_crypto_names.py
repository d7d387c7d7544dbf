"""Name normalisation (certsmith.crypto.normalize_names)."""

from __future__ import annotations

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.crypto import normalize_name, normalize_names
from certsmith.errors import UsageError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", Identifier.dns("example.com")),
        ("Example.COM.", Identifier.dns("example.com")),
        ("  www.example.com ", Identifier.dns("www.example.com")),
        ("*.example.com", Identifier.dns("*.example.com")),
        ("한국.kr", Identifier.dns("xn--3e0b707e.kr")),
        ("bücher.example", Identifier.dns("xn--bcher-kva.example")),
        ("BÜCHER.example", Identifier.dns("xn--bcher-kva.example")),
        ("*.bücher.example", Identifier.dns("*.xn--bcher-kva.example")),
        # IDNA 2008 (UTS 46 non-transitional) keeps ß; IDNA 2003 would map it to "ss".
        ("faß.de", Identifier.dns("xn--fa-hia.de")),
        ("xn--3e0b707e.kr", Identifier.dns("xn--3e0b707e.kr")),
        ("a-b.c-d.example", Identifier.dns("a-b.c-d.example")),
        ("127.0.0.1", Identifier.ip("127.0.0.1")),
        ("2001:DB8:0:0::1", Identifier("ip", "2001:db8::1")),
        ("[::1]", Identifier("ip", "::1")),
        ("1" + ".a" * 126, Identifier.dns("1" + ".a" * 126)),  # 253 characters
    ],
)
def test_good_names(raw: str, expected: Identifier) -> None:
    assert normalize_name(raw) == expected


def test_idna2008_differs_from_python_idna2003() -> None:
    assert "faß.de".encode("idna") == b"fass.de"  # the stdlib codec is IDNA 2003
    assert normalize_name("faß.de").value == "xn--fa-hia.de"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty name"),
        ("a..example", "empty label"),
        (".example.com", "empty label"),
        ("example.com..", "empty label"),
        ("a" * 64 + ".com", "longer than 63"),
        ("a." * 126 + "com", "longer than 253"),
        ("under_score.example", "underscore"),
        ("with space.example", "space"),
        ("with/slash.example", "slash"),
        ("-lead.example", "hyphen"),
        ("trail-.example", "hyphen"),
        ("foo.*.example", "wildcard"),
        ("*foo.example", "wildcard"),
        ("**.example", "wildcard"),
        ("*.", "wildcard"),
        ("*.com", "at least two labels"),
        ("ab--cd.example", "positions 3 and 4"),
        ("bad!.example", "letters, digits and hyphens"),
        ("xn--zz.example", "invalid punycode"),
        ("a\u200db.example", "IDNA 2008"),
        ("fe80::1%eth0", "scoped IPv6"),
    ],
)
def test_bad_names(raw: str, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        normalize_name(raw)
    assert fragment in info.value.message
    assert info.value.message.endswith(".")


def test_normalize_names_dedups_and_keeps_order() -> None:
    result = normalize_names(["B.example", "a.example", "b.example.", "::1", "0::1"])
    assert result == [
        Identifier.dns("b.example"),
        Identifier.dns("a.example"),
        Identifier.ip("::1"),
    ]


def test_normalize_names_reports_every_problem_once() -> None:
    with pytest.raises(UsageError) as info:
        normalize_names(["ok.example", "bad_one.example", "-bad.example"])
    message = info.value.message
    assert "bad_one.example" in message and "-bad.example" in message
    assert "ok.example" not in message
    assert message.count(".'") == 2 or message.count("'") == 4


def test_normalize_names_needs_one() -> None:
    with pytest.raises(UsageError, match="No names"):
        normalize_names([])
