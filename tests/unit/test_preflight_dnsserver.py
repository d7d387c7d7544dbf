"""The test DNS server behaves like the DNS the checks will meet."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from support.dnsserver import DnsServer

SOA = "ns1.example. hostmaster.example. 1 7200 900 1209600 60"
ZONES = {
    "example": {"SOA": [SOA], "NS": ["ns1.example."]},
    "a.b.example": {"A": ["127.0.0.1"]},
    "alias.example": {"CNAME": ["c2.example."]},
    "c2.example": {"CNAME": ["a.b.example."]},
    "loop1.example": {"CNAME": ["loop2.example."]},
    "loop2.example": {"CNAME": ["loop1.example."]},
    "txt.example": {"TXT": ['"v=1"'], "CAA": ['0 issue "ca.example"', r"\# 6 80 03 74 62 73 21"]},
}


def ask(server: DnsServer, name: str, rtype: str, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", port=server.port, timeout=1.0)


@pytest.fixture
def server() -> Iterator[DnsServer]:
    srv = DnsServer(ZONES).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("tcp", [False, True])
def test_answers_over_udp_and_tcp(server: DnsServer, tcp: bool) -> None:
    response = ask(server, "a.b.example", "A", tcp)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert [r.address for r in response.answer[0]] == ["127.0.0.1"]
    assert server.queries[-1] == ("a.b.example", "A", "tcp" if tcp else "udp")


def test_nxdomain_nodata_and_empty_non_terminal(server: DnsServer) -> None:
    nx = ask(server, "nope.example", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN
    assert nx.authority[0].rdtype == dns.rdatatype.SOA
    nodata = ask(server, "a.b.example", "CAA")
    assert (nodata.rcode(), nodata.answer) == (dns.rcode.NOERROR, [])
    ent = ask(server, "b.example", "A")  # exists because a.b.example does
    assert (ent.rcode(), ent.answer) == (dns.rcode.NOERROR, [])


def test_cname_chains_are_followed_and_loops_fail(server: DnsServer) -> None:
    response = ask(server, "alias.example", "A")
    assert [rrset.rdtype for rrset in response.answer] == [
        dns.rdatatype.CNAME,
        dns.rdatatype.CNAME,
        dns.rdatatype.A,
    ]
    assert ask(server, "alias.example", "CNAME").answer[0][0].target.to_text() == "c2.example."
    assert ask(server, "loop1.example", "A").rcode() == dns.rcode.SERVFAIL


def test_caa_including_generic_rdata(server: DnsServer) -> None:
    rrset = ask(server, "txt.example", "CAA").answer[0]
    assert sorted((r.flags, r.tag) for r in rrset) == [(0, b"issue"), (128, b"tbs")]


def test_failure_modes_and_runtime_changes(server: DnsServer) -> None:
    server.fail("a.b.example", "servfail")
    assert ask(server, "a.b.example", "A").rcode() == dns.rcode.SERVFAIL
    assert ask(server, "alias.example", "A").rcode() == dns.rcode.SERVFAIL  # as a CNAME target
    server.fail("a.b.example", "refused", "TXT")
    assert ask(server, "a.b.example", "TXT").rcode() == dns.rcode.REFUSED
    server.heal("a.b.example")
    assert ask(server, "a.b.example", "A").rcode() == dns.rcode.NOERROR
    server.fail("a.b.example", "timeout")
    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(
            dns.message.make_query("a.b.example", "A"), "127.0.0.1", port=server.port, timeout=0.2
        )
    server.set("new.example", "AAAA", ["::1"])
    assert ask(server, "new.example", "AAAA").answer[0][0].address == "::1"
    server.set("new.example", "AAAA", [])
    assert ask(server, "new.example", "AAAA").answer == []
    with pytest.raises(ValueError):
        server.fail("x.example", "explode")


def test_truncation_sets_tc_over_udp_only() -> None:
    with DnsServer(ZONES, truncate_udp=True) as srv:
        assert ask(srv, "a.b.example", "A").flags & dns.flags.TC
        assert not ask(srv, "a.b.example", "A", tcp=True).flags & dns.flags.TC


def test_stop_releases_the_port() -> None:
    srv = DnsServer(ZONES).start()
    port = srv.port
    srv.stop()
    srv.stop()  # twice is fine
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", port))
    finally:
        probe.close()
