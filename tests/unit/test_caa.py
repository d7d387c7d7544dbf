"""CAA contract tests (RFC 8659, RFC 8657) against the local DNS server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import dns.asyncresolver
import pytest

from certsmith.dnsutil import make_resolver
from certsmith.errors import UsageError
from certsmith.preflight.caa import RFC8659, check_caa
from certsmith.preflight.messages import Catalogue
from support.dnsserver import DnsServer

pytestmark = pytest.mark.usefixtures("english")  # the assertions read English messages

LE = "letsencrypt.org"
ACCT = "https://acme-v02.api.letsencrypt.org/acme/acct/1234"
SOA = "ns1.example. hostmaster.example. 1 7200 900 1209600 60"

ZONES = {
    # No CAA anywhere.
    "nocaa.test": {"SOA": [SOA], "NS": ["ns1.example."]},
    "www.nocaa.test": {"A": ["127.0.0.1"]},
    # The dynamic-DNS provider case: the parent forbids everyone.
    "iptime.org": {"SOA": [SOA], "CAA": ['0 issue ";"', '0 issuewild ";"']},
    "test.iptime.org": {"A": ["127.0.0.1"]},
    # Tree climbing.
    "le.example": {"CAA": [f'0 issue "{LE}"']},
    "deep.a.b.c.le.example": {"A": ["127.0.0.1"]},
    "sub.le.example": {"CAA": ['0 issue "pki.goog"']},
    # CNAMEs.
    "alias.le.example": {"CNAME": ["target.cdn.example."]},
    "target.cdn.example": {"CAA": ['0 issue "pki.goog"']},
    "alias2.le.example": {"CNAME": ["www.cdn2.example."]},
    "www.cdn2.example": {"A": ["127.0.0.1"]},
    "cdn2.example": {"CAA": ['0 issue ";"']},
    "chain.le.example": {"CNAME": ["c1.chain.example."]},
    "c1.chain.example": {"CNAME": ["c2.chain.example."]},
    "c2.chain.example": {"CAA": ['0 issue "sectigo.com"']},
    "dangling.le.example": {"CNAME": ["gone.nowhere.example."]},
    # Critical flag.
    "crit.example": {"CAA": ['128 tbs "Unknown"', f'0 issue "{LE}"']},
    "crit1.example": {"CAA": ['1 tbs "Unknown"', f'0 issue "{LE}"']},
    "noncrit.example": {"CAA": ['0 tbs "Unknown"', f'0 issue "{LE}"']},
    "critiodef.example": {"CAA": ['128 iodef "mailto:sec@example.com"', f'0 issue "{LE}"']},
    "upper.example": {"CAA": [f'0 ISSUE "{LE}"']},
    "onlyiodef.example": {"CAA": ['0 iodef "mailto:sec@example.com"']},
    # issue vs issuewild.
    "wild.example": {"CAA": [f'0 issue "{LE}"', '0 issuewild "pki.goog"']},
    "wild2.example": {"CAA": ['0 issue ";"', f'0 issuewild "{LE}"']},
    "wild3.example": {"CAA": ['0 issuewild ";"']},
    "wild4.example": {"CAA": [f'0 issue "{LE}"']},
    # RFC 8657 parameters.
    "acct.example": {"CAA": [f'0 issue "{LE}; accounturi={ACCT}"']},
    "meth.example": {"CAA": [f'0 issue "{LE}; validationmethods=dns-01,tls-alpn-01"']},
    "both.example": {"CAA": [f'0 issue "{LE}; accounturi={ACCT}5"', f'0 issue "{LE}"']},
    "dup.example": {"CAA": [f'0 issue "{LE}; accounturi={ACCT}; accounturi={ACCT}"']},
    "badmeth.example": {"CAA": [f'0 issue "{LE}; validationmethods=dns-01,,http-01"']},
    # Issuer names: case and syntax.
    "case.example": {"CAA": ['0 issue "LetsEncrypt.org"']},
    "mal.example": {"CAA": [f'0 issue "{LE}; foo"']},
    "unknownparam.example": {"CAA": [f'0 issue "{LE}; foo=bar"']},
    "hyphen.example": {"CAA": [f'0 issue "{LE}; x-y=1"']},
    "badissuer.example": {"CAA": ['0 issue "lets_encrypt.org"']},
    "emptyvalue.example": {"CAA": ['0 issue ""']},
    # Lookup failures.
    "sf.example": {"A": ["127.0.0.1"]},
    "ok.sfparent.example": {"CAA": [f'0 issue "{LE}"']},
    "sfparent.example": {"A": ["127.0.0.1"]},
    "child.sfp2.example": {"A": ["127.0.0.1"]},
    "slow.example": {"A": ["127.0.0.1"]},
    "ref.example": {"A": ["127.0.0.1"]},
    "cname-to-sf.example": {"CNAME": ["sf.example."]},
}


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with DnsServer(ZONES) as srv:
        srv.fail("sf.example", "servfail")
        srv.fail("sfparent.example", "servfail")
        srv.fail("sfp2.example", "servfail")
        srv.fail("slow.example", "timeout")
        srv.fail("ref.example", "refused")
        yield srv


@pytest.fixture
def resolver(server: DnsServer) -> dns.asyncresolver.Resolver:
    return make_resolver(server.address, timeout=0.4)


async def verdict(resolver: dns.asyncresolver.Resolver, name: str, **kw: object) -> str:
    result = await check_caa(name, kw.pop("issuer", LE), resolver=resolver, **kw)  # type: ignore[arg-type]
    return result.verdict


async def test_no_caa_anywhere_allows(resolver: dns.asyncresolver.Resolver) -> None:
    result = await check_caa("www.nocaa.test", LE, resolver=resolver)
    assert (result.verdict, result.reason_key, result.relevant_domain) == (
        "allowed",
        "caa.none",
        None,
    )
    assert result.records == []


async def test_dyndns_parent_forbids_every_ca(resolver: dns.asyncresolver.Resolver) -> None:
    result = await check_caa("test.iptime.org", LE, resolver=resolver)
    assert result.verdict == "forbidden"
    assert result.relevant_domain == "iptime.org"
    assert result.reason_key == "caa.forbidden.nobody"
    assert result.records == ['0 issue ";"', '0 issuewild ";"']
    assert "iptime.org" in result.reason
    wildcard = await check_caa("*.test.iptime.org", LE, resolver=resolver)
    assert wildcard.verdict == "forbidden"
    assert "issuewild" in wildcard.reason


async def test_tree_climbing_stops_at_closest_rrset(
    server: DnsServer, resolver: dns.asyncresolver.Resolver
) -> None:
    result = await check_caa("deep.a.b.c.le.example", LE, resolver=resolver)
    assert (result.verdict, result.relevant_domain) == ("allowed", "le.example")
    asked = [q[0] for q in server.queries if q[1] == "CAA"]
    for name in ("deep.a.b.c.le.example", "a.b.c.le.example", "c.le.example", "le.example"):
        assert name in asked
    assert "example" not in asked  # the climb stopped at le.example
    closer = await check_caa("x.sub.le.example", LE, resolver=resolver)
    assert (closer.verdict, closer.relevant_domain) == ("forbidden", "sub.le.example")
    assert closer.reason_key == "caa.forbidden.not_listed"


async def test_cname_target_records_are_used(resolver: dns.asyncresolver.Resolver) -> None:
    result = await check_caa("alias.le.example", LE, resolver=resolver)
    assert result.verdict == "forbidden"
    assert result.relevant_domain == "alias.le.example"
    assert result.canonical_name == "target.cdn.example"
    assert result.records == ['0 issue "pki.goog"']
    assert await verdict(resolver, "alias.le.example", issuer="pki.goog") == "allowed"


async def test_climb_continues_on_original_name_not_cname_target(
    resolver: dns.asyncresolver.Resolver,
) -> None:
    # www.cdn2.example has no CAA; its parent cdn2.example forbids all, but the climb must go
    # to le.example (the parent of the original name), which allows Let's Encrypt.
    result = await check_caa("alias2.le.example", LE, resolver=resolver)
    assert (result.verdict, result.relevant_domain) == ("allowed", "le.example")


async def test_cname_chain_and_dangling_cname(resolver: dns.asyncresolver.Resolver) -> None:
    chain = await check_caa("chain.le.example", LE, resolver=resolver)
    assert (chain.verdict, chain.canonical_name) == ("forbidden", "c2.chain.example")
    assert await verdict(resolver, "chain.le.example", issuer="sectigo.com") == "allowed"
    dangling = await check_caa("dangling.le.example", LE, resolver=resolver)
    assert (dangling.verdict, dangling.relevant_domain) == ("allowed", "le.example")


async def test_cname_to_failing_name_is_an_error(resolver: dns.asyncresolver.Resolver) -> None:
    assert await verdict(resolver, "cname-to-sf.example") == "error"


@pytest.mark.parametrize(
    ("name", "le_policy", "rfc_policy"),
    [
        ("crit.example", "forbidden", "forbidden"),
        ("crit1.example", "forbidden", "allowed"),  # Boulder: flag bit 1 is critical too
        ("noncrit.example", "allowed", "allowed"),
        ("critiodef.example", "allowed", "allowed"),  # iodef is a known tag
        ("upper.example", "allowed", "allowed"),  # tags compare case-insensitively
        ("onlyiodef.example", "allowed", "allowed"),
        ("case.example", "forbidden", "allowed"),  # Boulder compares the issuer exactly
        ("hyphen.example", "forbidden", "allowed"),  # Boulder: tags are letters and digits
    ],
)
async def test_flags_tags_and_policies(
    resolver: dns.asyncresolver.Resolver, name: str, le_policy: str, rfc_policy: str
) -> None:
    assert await verdict(resolver, name) == le_policy
    assert await verdict(resolver, name, policy=RFC8659) == rfc_policy


async def test_critical_unknown_tag_reason(resolver: dns.asyncresolver.Resolver) -> None:
    result = await check_caa("crit.example", LE, resolver=resolver)
    assert result.reason_key == "caa.forbidden.critical"
    assert "tbs" in result.reason


async def test_case_mismatch_is_explained(resolver: dns.asyncresolver.Resolver) -> None:
    result = await check_caa("case.example", LE, resolver=resolver)
    assert result.reason_key == "caa.forbidden.case"
    assert "LetsEncrypt.org" in result.reason


@pytest.mark.parametrize(
    ("name", "plain", "wildcard"),
    [
        ("wild.example", "allowed", "forbidden"),
        ("wild2.example", "forbidden", "allowed"),
        ("wild3.example", "allowed", "forbidden"),
        ("wild4.example", "allowed", "allowed"),
    ],
)
async def test_issue_versus_issuewild(
    resolver: dns.asyncresolver.Resolver, name: str, plain: str, wildcard: str
) -> None:
    assert await verdict(resolver, name) == plain
    assert await verdict(resolver, "*." + name) == wildcard


async def test_accounturi(resolver: dns.asyncresolver.Resolver) -> None:
    assert await verdict(resolver, "acct.example", account_uri=ACCT) == "allowed"
    other = await check_caa("acct.example", LE, resolver=resolver, account_uri=ACCT + "9")
    assert (other.verdict, other.reason_key) == ("forbidden", "caa.forbidden.account")
    unknown = await check_caa("acct.example", LE, resolver=resolver)
    assert unknown.verdict == "allowed"
    assert unknown.caveat is not None and "account" in unknown.caveat
    # One property for another account, one without the parameter: the second authorises.
    both = await check_caa("both.example", LE, resolver=resolver, account_uri=ACCT)
    assert (both.verdict, both.caveat) == ("allowed", None)
    assert await verdict(resolver, "dup.example", account_uri=ACCT) == "forbidden"


async def test_validationmethods(resolver: dns.asyncresolver.Resolver) -> None:
    assert await verdict(resolver, "meth.example", method="dns-01") == "allowed"
    assert await verdict(resolver, "meth.example", method="tls-alpn-01") == "allowed"
    http = await check_caa("meth.example", LE, resolver=resolver, method="http-01")
    assert (http.verdict, http.reason_key) == ("forbidden", "caa.forbidden.method")
    unknown = await check_caa("meth.example", LE, resolver=resolver)
    assert unknown.verdict == "allowed" and unknown.caveat is not None
    assert await verdict(resolver, "badmeth.example", method="dns-01") == "forbidden"


@pytest.mark.parametrize("name", ["mal.example", "badissuer.example", "emptyvalue.example"])
async def test_malformed_or_empty_values_match_nobody(
    resolver: dns.asyncresolver.Resolver, name: str
) -> None:
    assert await verdict(resolver, name) == "forbidden"
    assert await verdict(resolver, name, policy=RFC8659) == "forbidden"


async def test_unknown_parameters_are_ignored(resolver: dns.asyncresolver.Resolver) -> None:
    assert await verdict(resolver, "unknownparam.example") == "allowed"


async def test_several_issuer_identities(resolver: dns.asyncresolver.Resolver) -> None:
    assert await verdict(resolver, "sub.le.example", issuer=[LE, "pki.goog"]) == "allowed"
    assert await verdict(resolver, "sub.le.example", issuer=[LE]) == "forbidden"


@pytest.mark.parametrize("name", ["sf.example", "ref.example", "child.sfp2.example"])
async def test_servfail_and_refused_are_errors(
    resolver: dns.asyncresolver.Resolver, name: str
) -> None:
    result = await check_caa(name, LE, resolver=resolver)
    assert result.verdict == "error"
    assert result.reason_key == "caa.error.lookup"
    assert ("SERVFAIL" in result.reason) or ("REFUSED" in result.reason)


async def test_failure_above_the_relevant_rrset_is_not_asked(
    resolver: dns.asyncresolver.Resolver,
) -> None:
    assert await verdict(resolver, "ok.sfparent.example") == "allowed"


async def test_timeout_is_an_error_within_the_resolver_lifetime(
    resolver: dns.asyncresolver.Resolver,
) -> None:
    started = time.monotonic()
    result = await check_caa("slow.example", LE, resolver=resolver)
    assert result.verdict == "error"
    assert "timeout" in result.reason
    assert time.monotonic() - started < 2.0


async def test_tcp_fallback_on_truncation() -> None:
    with DnsServer(ZONES, truncate_udp=True) as srv:
        result = await check_caa("test.iptime.org", LE, resolver=make_resolver(srv.address, 1.0))
        assert result.verdict == "forbidden"
        assert any(q[2] == "tcp" for q in srv.queries)


async def test_ip_address_and_bad_names(resolver: dns.asyncresolver.Resolver) -> None:
    result = await check_caa("127.0.0.1", LE, resolver=resolver)
    assert (result.verdict, result.reason_key) == ("allowed", "caa.ip")
    with pytest.raises(UsageError):
        await check_caa("a..b.example", LE, resolver=resolver)
    with pytest.raises(UsageError):
        await check_caa("a.*.example", LE, resolver=resolver)
    with pytest.raises(UsageError):
        await check_caa("le.example", [], resolver=resolver)


async def test_to_json_and_korean_reason(resolver: dns.asyncresolver.Resolver) -> None:
    result = await check_caa("test.iptime.org", LE, resolver=resolver, catalogue=Catalogue("ko"))
    data = json.loads(json.dumps(result.to_json()))
    assert data["verdict"] == "forbidden"
    assert data["relevant_domain"] == "iptime.org"
    assert data["records"] == ['0 issue ";"', '0 issuewild ";"']
    assert "금지" in data["reason"]
