"""The CAA record parser: examples and property-based invariants."""

from __future__ import annotations

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from hypothesis import given, settings, strategies as st

from certsmith.preflight.caa import RFC8659, evaluate
from certsmith.preflight.caa_record import (
    CaaRecord,
    CaaSyntaxError,
    format_issue_value,
    parse_caa_text,
    parse_caa_wire,
    parse_issue_value,
)

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
tags = st.text(ALNUM, min_size=1, max_size=15)
records = st.builds(CaaRecord, st.integers(0, 255), tags, st.binary(max_size=300))
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)
param_tags = st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True)
param_values = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";"), max_size=20
)
parameters = st.lists(st.tuples(param_tags, param_values), max_size=4).map(tuple)
# No example database in the work tree; enough examples to matter, few enough to stay fast.
FAST = settings(max_examples=80, database=None, deadline=None)


def test_examples() -> None:
    rec = parse_caa_text('0 issue "letsencrypt.org; validationmethods=dns-01"')
    assert (rec.flags, rec.tag, rec.critical) == (0, "issue", False)
    value = parse_issue_value(rec.value_text)
    assert value.issuer == "letsencrypt.org"
    assert value.parameters == (("validationmethods", "dns-01"),)
    assert parse_caa_text('128 tbs "Unknown"').critical
    assert parse_caa_wire(b"\x00\x05issueletsencrypt.org").value == b"letsencrypt.org"
    assert parse_caa_text(r'0 issue "a\"b\059"').value == b'a"b;'


@pytest.mark.parametrize(
    ("value", "issuer", "params", "malformed"),
    [
        (";", "", (), False),
        ("", "", (), False),
        ("  letsencrypt.org  ", "letsencrypt.org", (), False),
        ("letsencrypt.org;", "letsencrypt.org", (), False),
        ("ca.example; a=1;b = 2 ", "ca.example", (("a", "1"), ("b", "2")), False),
        ("; accounturi=x", "", (("accounturi", "x"),), False),
        ("ca.example; a=1;;b=2", "ca.example", (("a", "1"),), True),
        ("ca.example; novalue", "ca.example", (), True),
        ("ca.example; a=b c", "ca.example", (), True),
        ("-bad.example", "-bad.example", (), True),
        ("ca..example", "ca..example", (), True),
    ],
)
def test_issue_values(
    value: str, issuer: str, params: tuple[tuple[str, str], ...], malformed: bool
) -> None:
    parsed = parse_issue_value(value)
    assert parsed.issuer == issuer
    assert parsed.parameters == params
    assert (parsed.malformed is not None) == malformed


@pytest.mark.parametrize(
    "bad",
    [b"", b"\x00", b"\x00\x00", b"\x00\x10issue", b"\x00\x05iss", b"\x00\x03is-", b"\x00\x01\xff"],
)
def test_wire_errors(bad: bytes) -> None:
    with pytest.raises(CaaSyntaxError):
        parse_caa_wire(bad)


@pytest.mark.parametrize(
    "bad", ["", "0 issue", "256 issue x", "x issue y", '0 is-sue "x"', '0 issue "\\"', "0 a b c"]
)
def test_text_errors(bad: str) -> None:
    with pytest.raises(CaaSyntaxError):
        parse_caa_text(bad)


@FAST
@given(records)
def test_wire_round_trip(rec: CaaRecord) -> None:
    assert parse_caa_wire(rec.to_wire()) == rec


@FAST
@given(records)
def test_text_round_trip(rec: CaaRecord) -> None:
    assert parse_caa_text(rec.to_text()) == rec


@FAST
@given(records)
def test_agrees_with_dnspython(rec: CaaRecord) -> None:
    theirs = dns.rdata.from_wire(
        dns.rdataclass.IN, dns.rdatatype.CAA, rec.to_wire(), 0, len(rec.to_wire())
    )
    assert CaaRecord.from_rdata(theirs) == rec
    assert parse_caa_text(theirs.to_text()) == rec
    assert dns.rdata.from_text("IN", "CAA", rec.to_text()) == theirs


@FAST
@given(records)
def test_critical_is_bit_128(rec: CaaRecord) -> None:
    assert rec.critical == (rec.flags >= 128)
    assert rec.tag_lower == rec.tag.lower()


@FAST
@given(st.text(st.sampled_from(list('ab1.-;= \t="\xe9')) | st.characters(), max_size=60))
def test_issue_parser_is_total(value: str) -> None:
    parsed = parse_issue_value(value)
    assert parsed.issuer == parsed.issuer.strip(" \t")
    assert ";" not in parsed.issuer


@FAST
@given(st.one_of(st.just(""), domains), parameters)
def test_issue_format_round_trip(issuer: str, params: tuple[tuple[str, str], ...]) -> None:
    parsed = parse_issue_value(format_issue_value(issuer, params))
    assert parsed.malformed is None
    assert (parsed.issuer, parsed.parameters) == (issuer, params)


@FAST
@given(domains, parameters)
def test_unrelated_parameters_never_change_a_match(
    issuer: str, params: tuple[tuple[str, str], ...]
) -> None:
    params = tuple(
        (k, v) for k, v in params if k.lower() not in ("accounturi", "validationmethods")
    )
    rec = CaaRecord(0, "issue", format_issue_value(issuer, params).encode())
    assert evaluate([rec], [issuer], wildcard=False, policy=RFC8659).verdict == "allowed"
    assert evaluate([rec], [issuer + "x"], wildcard=False, policy=RFC8659).verdict == "forbidden"


@FAST
@given(st.lists(records, min_size=1, max_size=5), st.booleans())
def test_critical_unknown_always_forbids(extra: list[CaaRecord], wildcard: bool) -> None:
    blocker = CaaRecord(128, "zzunknown", b"x")
    issue = CaaRecord(0, "issue", b"letsencrypt.org")
    result = evaluate([*extra, blocker, issue], ["letsencrypt.org"], wildcard=wildcard)
    assert result.verdict == "forbidden"
