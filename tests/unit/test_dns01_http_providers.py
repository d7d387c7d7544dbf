"""acme-dns and DuckDNS against fake APIs (httpx.MockTransport) implementing their endpoints."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import httpx
import pytest

from certsmith.challenges.dns01.acmedns import AcmeDnsProvider
from certsmith.challenges.dns01.duckdns import DuckDnsProvider, duckdns_subdomain
from certsmith.challenges.dns01.provider import load_provider
from certsmith.errors import SolverError, UsageError

VALUE_A = "A" * 43
VALUE_B = "B" * 43


class FakeAcmeDns:
    """POST /register and POST /update as acme-dns documents them; keeps the last two values."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, str]] = {}
        self.txt: dict[str, list[str]] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/register":
            sub = str(uuid.uuid4())
            account = {
                "username": str(uuid.uuid4()),
                "password": "pw-" + sub[:8],
                "fulldomain": f"{sub}.auth.acme-dns.test",
                "subdomain": sub,
                "allowfrom": [],
            }
            self.accounts[account["username"]] = account  # type: ignore[assignment]
            return httpx.Response(201, json=account)
        if request.method == "POST" and request.url.path == "/update":
            account = self.accounts.get(request.headers.get("X-Api-User", ""))
            if account is None or account["password"] != request.headers.get("X-Api-Key"):
                return httpx.Response(401, json={"error": "forbidden"})
            body = json.loads(request.content)
            if body.get("subdomain") != account["subdomain"] or len(body.get("txt", "")) != 43:
                return httpx.Response(400, json={"error": "bad_subdomain"})
            values = self.txt.setdefault(account["subdomain"], [])
            values[:] = [*values, body["txt"]][-2:]
            return httpx.Response(200, json={"txt": body["txt"]})
        return httpx.Response(404)


@pytest.fixture
def acmedns(tmp_path: Path) -> tuple[FakeAcmeDns, AcmeDnsProvider]:
    fake = FakeAcmeDns()
    provider = AcmeDnsProvider(
        "https://acme-dns.test/",
        tmp_path / "acmedns.json",
        transport=httpx.MockTransport(fake.handle),
    )
    return fake, provider


async def test_acmedns_register_stores_0600_and_update_uses_it(
    acmedns: tuple[FakeAcmeDns, AcmeDnsProvider],
) -> None:
    fake, provider = acmedns
    registration = await provider.register("*.Example.com")
    mode = stat.S_IMODE(provider.registration_file.stat().st_mode)
    assert mode == 0o600
    stored = json.loads(provider.registration_file.read_text())
    assert stored["example.com"]["fulldomain"] == registration.fulldomain
    await provider.add_txt(registration.fulldomain + ".", VALUE_A)
    await provider.add_txt(registration.fulldomain, VALUE_B)
    assert fake.txt[registration.subdomain] == [VALUE_A, VALUE_B]
    await provider.remove_txt(registration.fulldomain, VALUE_A)  # acme-dns cannot delete
    assert fake.txt[registration.subdomain] == [VALUE_A, VALUE_B]


async def test_acmedns_without_registration_or_with_bad_key(
    acmedns: tuple[FakeAcmeDns, AcmeDnsProvider],
) -> None:
    fake, provider = acmedns
    # First use registers the domain and stops with the CNAME the user must create.
    with pytest.raises(SolverError, match=r"registered a\.test at acme-dns .*CNAME"):
        await provider.add_txt("_acme-challenge.a.test", VALUE_A)
    assert len(fake.accounts) == 1
    stored = json.loads(provider.registration_file.read_text())
    assert "a.test" in stored
    # Until that CNAME exists, a second run says so at once instead of registering again.
    with pytest.raises(SolverError, match="CNAME"):
        await provider.add_txt("_acme-challenge.a.test", VALUE_A)
    assert len(fake.accounts) == 1
    registration = await provider.register("a.test")
    fake.accounts[registration.username]["password"] = "rotated"
    with pytest.raises(SolverError, match="HTTP 401"):
        await provider.add_txt(registration.fulldomain, VALUE_A)


def test_acmedns_corrupt_registration_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "reg.json"
    path.write_text('{"a.test": {"username": "u"}}')
    provider = load_provider(
        "acme-dns",
        {"dns_acmedns_api_url": "https://x.test", "dns_acmedns_registration_file": str(path)},
    )
    assert isinstance(provider, AcmeDnsProvider)
    with pytest.raises(UsageError, match="lacks password, fulldomain, subdomain"):
        provider.load_registrations()


async def test_acmedns_transport_error_is_a_solver_error(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    provider = AcmeDnsProvider(
        "https://acme-dns.test", tmp_path / "r.json", transport=httpx.MockTransport(refuse)
    )
    with pytest.raises(SolverError, match=r"registration at https://acme-dns\.test failed"):
        await provider.register("a.test")
    assert not (tmp_path / "r.json").exists()


class FakeDuckDns:
    """GET /update?domains=&token=&txt=[&clear=true] -> OK / KO."""

    def __init__(self, token: str, domains: set[str]) -> None:
        self.token, self.domains = token, domains
        self.txt: dict[str, str] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if request.url.path != "/update":
            return httpx.Response(404)
        domain = params.get("domains", "")
        if params.get("token") != self.token or domain not in self.domains:
            return httpx.Response(200, text="KO")
        if params.get("clear") == "true":
            self.txt.pop(domain, None)
        else:
            self.txt[domain] = params["txt"]
        return httpx.Response(200, text="OK")


async def test_duckdns_sets_and_clears_the_subdomain_txt() -> None:
    fake = FakeDuckDns("tok-123", {"myhost"})
    provider = DuckDnsProvider(
        "tok-123", base_url="https://duck.test", transport=httpx.MockTransport(fake.handle)
    )
    await provider.add_txt("_acme-challenge.www.myhost.duckdns.org", VALUE_A)
    assert fake.txt == {"myhost": VALUE_A}
    with pytest.raises(SolverError, match="one TXT value per domain"):
        await provider.add_txt("_acme-challenge.myhost.duckdns.org.", VALUE_B)
    assert fake.txt == {"myhost": VALUE_A}
    await provider.remove_txt("_acme-challenge.www.myhost.duckdns.org", VALUE_A)
    assert fake.txt == {}


async def test_duckdns_ko_and_foreign_names_are_solver_errors() -> None:
    fake = FakeDuckDns("right", {"myhost"})
    provider = DuckDnsProvider(
        "wrong-token", base_url="https://duck.test", transport=httpx.MockTransport(fake.handle)
    )
    with pytest.raises(SolverError, match=r"refused the update of myhost\.duckdns\.org") as caught:
        await provider.add_txt("_acme-challenge.myhost.duckdns.org", VALUE_A)
    assert "wrong-token" not in str(caught.value)
    with pytest.raises(SolverError, match=r"not a name under duckdns\.org"):
        duckdns_subdomain("_acme-challenge.example.com")
    assert duckdns_subdomain("_acme-challenge.MyHost.DuckDNS.org.") == "myhost"


def test_duckdns_factory_reads_token_and_base_url() -> None:
    provider = load_provider(
        "duckdns", {"dns_duckdns_token": "t", "dns_duckdns_base_url": "https://duck.test/"}
    )
    assert isinstance(provider, DuckDnsProvider)
    assert (provider.token, provider.base_url) == ("t", "https://duck.test")
    with pytest.raises(UsageError, match="missing dns_duckdns_token"):
        load_provider("duckdns", {})
