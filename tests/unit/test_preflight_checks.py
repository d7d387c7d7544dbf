"""Pre-flight checks: resolution, pointing here, http-01 reachability, dns-01 zone, the runner."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import dns.asyncresolver
import httpx
import pytest

from certsmith.acme.identifier import Identifier
from certsmith.dnsutil import make_resolver
from certsmith.preflight.checks import (
    check_dns01_zone,
    check_http01,
    check_resolution,
    default_local_addresses,
    run_preflight,
)
from support.dnsserver import DnsServer

pytestmark = pytest.mark.usefixtures("english")  # the assertions read English messages

SOA = "ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 60"
ZONES = {
    "example.com": {"SOA": [SOA], "NS": ["ns1.example.com.", "ns2.example.com."]},
    "www.example.com": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
    "far.example.com": {"A": ["192.0.2.10"]},
    "noaddr.example.com": {"TXT": ['"hi"']},
    "broken.example.com": {"A": ["127.0.0.1"]},
    "blocked.example.com": {"A": ["127.0.0.1"], "CAA": ['0 issue ";"']},
    "orphan.test": {"A": ["127.0.0.1"]},
}
TOKEN = "probe-token_123"
CONTENT = "probe-token_123.thumbprint"


@pytest.fixture(scope="module")
def server() -> Iterator[DnsServer]:
    with DnsServer(ZONES) as srv:
        srv.fail("broken.example.com", "servfail")
        yield srv


@pytest.fixture
def resolver(server: DnsServer) -> dns.asyncresolver.Resolver:
    return make_resolver(server.address, timeout=0.5)


async def test_resolution_and_pointing_here(resolver: dns.asyncresolver.Resolver) -> None:
    ok = await check_resolution("www.example.com", resolver, local_addresses={"127.0.0.1"})
    assert [(r.name, r.ok) for r in ok] == [("resolve", True), ("points_here", True)]
    assert "127.0.0.1" in ok[0].message and "::1" in ok[0].message
    far = await check_resolution("far.example.com", resolver, local_addresses={"127.0.0.1"})
    assert far[1].ok is False and far[1].severity == "warning" and not far[1].blocking
    assert "192.0.2.10" in far[1].message
    only = await check_resolution("far.example.com", resolver)
    assert len(only) == 1


@pytest.mark.parametrize(
    ("name", "word"),
    [
        ("noaddr.example.com", "no A or AAAA"),
        ("nx.example.com", "no A or AAAA"),
        ("broken.example.com", "SERVFAIL"),
    ],
)
async def test_resolution_failures_block(
    resolver: dns.asyncresolver.Resolver, name: str, word: str
) -> None:
    (result,) = await check_resolution(name, resolver)
    assert result.blocking and word in result.message


def test_default_local_addresses_include_loopback() -> None:
    assert {"127.0.0.1", "::1"} <= default_local_addresses()


def scripted(routes: dict[str, httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        key = f"{request.url.scheme}://{request.url.netloc.decode()}{request.url.path}"
        if key not in routes:
            raise httpx.ConnectError("connection refused", request=request)
        return routes[key]

    return httpx.MockTransport(handler)


PATH = f"/.well-known/acme-challenge/{TOKEN}"


def redirect(location: str) -> httpx.Response:
    return httpx.Response(302, headers={"Location": location})


async def test_http01_direct_match_ignores_trailing_whitespace() -> None:
    seen: list[httpx.Request] = []
    routes = {f"http://a.example{PATH}": httpx.Response(200, text=CONTENT + "\r\n")}
    result = await check_http01("a.example", TOKEN, CONTENT, transport=scripted(routes, seen))
    assert result.ok, result.message
    assert seen[0].url == f"http://a.example{PATH}" and seen[0].method == "GET"


async def test_http01_follows_redirects_to_https() -> None:
    routes = {
        f"http://a.example{PATH}": redirect(f"https://a.example{PATH}"),
        f"https://a.example{PATH}": redirect("/moved"),
        "https://a.example/moved": httpx.Response(200, text=CONTENT),
    }
    result = await check_http01("a.example", TOKEN, CONTENT, transport=scripted(routes, []))
    assert result.ok, result.message


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("http://a.example:8080/x", "port 8080"),
        ("ftp://a.example/x", "scheme"),
        ("http://192.0.2.1/x", "IP address"),
    ],
)
async def test_http01_refuses_redirects_the_ca_refuses(location: str, why: str) -> None:
    routes = {f"http://a.example{PATH}": redirect(location)}
    result = await check_http01("a.example", TOKEN, CONTENT, transport=scripted(routes, []))
    assert result.blocking and why in result.message


@pytest.mark.parametrize(("hops", "ok"), [(10, True), (11, False)])
async def test_http01_redirect_limit(hops: int, ok: bool) -> None:
    # PATH -> /1 -> /2 ... -> /hops (200): ``hops`` redirects in all.
    routes = {f"http://a.example{PATH}": redirect("/1")}
    routes |= {f"http://a.example/{i}": redirect(f"/{i + 1}") for i in range(1, hops)}
    routes[f"http://a.example/{hops}"] = httpx.Response(200, text=CONTENT)
    seen: list[httpx.Request] = []
    result = await check_http01("a.example", TOKEN, CONTENT, transport=scripted(routes, seen))
    assert result.ok is ok, result.message
    assert len(seen) == 11
    if not ok:
        assert "10" in result.message


@pytest.mark.parametrize(
    ("response", "word"),
    [
        (httpx.Response(200, text="<html>nginx</html>"), "not with the expected"),
        (httpx.Response(404), "404"),
    ],
)
async def test_http01_wrong_answers(response: httpx.Response, word: str) -> None:
    routes = {f"http://a.example{PATH}": response}
    result = await check_http01("a.example", TOKEN, CONTENT, transport=scripted(routes, []))
    assert result.blocking and word in result.message


async def test_http01_unreachable() -> None:
    result = await check_http01("a.example", TOKEN, CONTENT, transport=scripted({}, []))
    assert result.blocking and "could not be fetched" in result.message


class _Handler(BaseHTTPRequestHandler):
    hosts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hosts.append(self.headers["Host"])
        body = CONTENT.encode() if self.path == PATH else b"nope"
        self.send_response(200 if self.path == PATH else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def test_http01_against_a_real_loopback_server_through_address_map() -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        port = httpd.server_address[1]
        result = await check_http01(
            "site.example",
            TOKEN,
            CONTENT,
            address_map={("site.example", 80): ("127.0.0.1", port)},
            timeout=2,
        )
        assert result.ok, result.message
        assert _Handler.hosts[-1] == "site.example"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=2)


async def test_dns01_zone(resolver: dns.asyncresolver.Resolver) -> None:
    ok = await check_dns01_zone("*.www.example.com", resolver)
    assert (
        ok.ok and "example.com" in ok.message and "ns1.example.com, ns2.example.com" in ok.message
    )
    orphan = await check_dns01_zone("orphan.test", resolver)
    assert orphan.blocking


@pytest.mark.parametrize("mode", ["servfail", "notimp", "refused"])
async def test_dns01_zone_that_could_not_be_checked_warns_but_does_not_block(
    server: DnsServer, resolver: dns.asyncresolver.Resolver, mode: str
) -> None:
    server.fail("example.com", mode, "SOA")
    try:
        result = await check_dns01_zone("www.example.com", resolver)
        results = await run_preflight(["*.www.example.com"], "dns-01", [], resolver=resolver)
    finally:
        server.heal("example.com", "SOA")
    assert not result.ok and result.severity == "warning" and not result.blocking
    assert [r.severity for r in results if not r.ok] == ["warning"]


async def test_run_preflight_http01_standalone(resolver: dns.asyncresolver.Resolver) -> None:
    routes = {f"http://www.example.com{PATH}": httpx.Response(200, text=CONTENT)}
    results = await run_preflight(
        [Identifier.dns("www.example.com"), "127.0.0.1", "far.example.com"],
        "http-01",
        ["letsencrypt.org"],
        resolver=resolver,
        standalone=True,
        http_probe=(TOKEN, CONTENT),
        transport=scripted(routes, []),
        local_addresses=lambda: {"127.0.0.1"},
    )
    by = {(r.identifier, r.name): r for r in results}
    assert by[("www.example.com", "caa")].ok
    assert by[("www.example.com", "points_here")].ok
    assert by[("www.example.com", "http01")].ok
    assert by[("127.0.0.1", "points_here")].ok
    assert by[("far.example.com", "points_here")].severity == "warning"
    assert by[("far.example.com", "http01")].blocking  # nothing serves far.example.com
    assert not any(r.blocking for r in results if r.identifier != "far.example.com")


async def test_run_preflight_blocks_on_caa_and_wildcard_method(
    resolver: dns.asyncresolver.Resolver,
) -> None:
    results = await run_preflight(
        ["blocked.example.com", "*.www.example.com"],
        "http-01",
        ["letsencrypt.org"],
        resolver=resolver,
    )
    caa = next(r for r in results if r.name == "caa")
    assert caa.blocking and caa.next_step is not None and "blocked.example.com" in caa.next_step
    wild = next(r for r in results if r.identifier == "*.www.example.com")
    assert wild.name == "method" and wild.blocking
    assert all(r.to_json()["identifier"] for r in results)


async def test_run_preflight_dns01_without_ca_identities(
    resolver: dns.asyncresolver.Resolver,
) -> None:
    results = await run_preflight(["*.www.example.com"], "dns-01", [], resolver=resolver)
    assert [(r.name, r.ok) for r in results] == [("dns01_zone", True)]


async def test_http01_reads_at_most_a_bounded_prefix_of_an_endless_body() -> None:
    sent = [0]

    async def endless() -> AsyncIterator[bytes]:
        chunk = b"x" * 65536
        while sent[0] < 256 * 1024 * 1024:  # stops the test, not the code, if unbounded
            sent[0] += len(chunk)
            yield chunk

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    result = await check_http01("a.example", TOKEN, CONTENT, transport=httpx.MockTransport(handler))
    assert result.blocking and "not with the expected" in result.message
    assert sent[0] <= 2 * 65536
