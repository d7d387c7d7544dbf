from __future__ import annotations

from collections.abc import Iterator

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.dns01 import DnsSolver, PropagationChecker, txt_value
from certsmith.errors import SolverError
from support.fake_dns import FakeDnsServer


class ZoneProvider:
    """Writes straight into a FakeDnsServer's zone, and records the calls."""

    def __init__(self, server: FakeDnsServer, zone: str, fail_remove: bool = False) -> None:
        self.server, self.zone, self.fail_remove = server, zone, fail_remove
        self.values: dict[str, list[str]] = {}
        self.calls: list[tuple[str, str, str]] = []

    def _sync(self, fqdn: str) -> None:
        relative = fqdn.removesuffix("." + self.zone)
        self.server.set_records(self.zone, relative, "TXT", self.values.get(fqdn, []))

    async def add_txt(self, fqdn: str, value: str) -> None:
        self.calls.append(("add", fqdn, value))
        if value not in self.values.setdefault(fqdn, []):
            self.values[fqdn].append(value)
        self._sync(fqdn)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        self.calls.append(("remove", fqdn, value))
        if self.fail_remove:
            raise RuntimeError("API down")
        if value in self.values.get(fqdn, []):
            self.values[fqdn].remove(value)
        self._sync(fqdn)


def task(name: str, token: str = "tok") -> ChallengeTask:
    return ChallengeTask(Identifier.dns(name), "dns-01", token, f"{token}.{name}.thumbprint")


@pytest.fixture
def server() -> Iterator[FakeDnsServer]:
    zones = {
        "example.test": {
            "www": [("A", "127.0.0.1")],
            "_acme-challenge.delegated": [("CNAME", "delegated.acme.other.test.")],
        },
        "other.test": {"acme": [("A", "127.0.0.1")]},
    }
    with FakeDnsServer(zones) as fake:
        yield fake


def solver_for(server: FakeDnsServer, provider: ZoneProvider, sleeps: list[float]) -> DnsSolver:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    checker = PropagationChecker(
        dns_resolver=server.address, timeout=2.0, interval=1.0, sleep=sleep
    )
    return DnsSolver(provider, checker)


async def test_wildcard_and_base_name_publish_both_and_wait_once(server: FakeDnsServer) -> None:
    provider = ZoneProvider(server, "example.test")
    sleeps: list[float] = []
    solver = solver_for(server, provider, sleeps)
    tasks = [task("example.test", "a"), task("*.example.test", "b"), task("www.example.test", "c")]
    for t in tasks:
        await solver.present(t)
        await solver.present(t)  # idempotent
    assert [c[0] for c in provider.calls] == ["add"] * 3
    assert provider.values["_acme-challenge.example.test"] == [
        txt_value(tasks[0].key_authorization),
        txt_value(tasks[1].key_authorization),
    ]
    await solver.settle(tasks)
    assert sleeps == []
    for t in tasks:
        await solver.cleanup(t)
    assert provider.values == {
        "_acme-challenge.example.test": [],
        "_acme-challenge.www.example.test": [],
    }


async def test_present_writes_to_the_cname_target(server: FakeDnsServer) -> None:
    provider = ZoneProvider(server, "other.test")
    solver = solver_for(server, provider, [])
    t = task("delegated.example.test")
    await solver.present(t)
    assert provider.calls == [("add", "delegated.acme.other.test", txt_value(t.key_authorization))]
    await solver.settle([t])


async def test_settle_times_out_when_the_provider_wrote_nowhere_visible(
    server: FakeDnsServer,
) -> None:
    provider = ZoneProvider(server, "example.test")
    provider._sync = lambda fqdn: None  # type: ignore[method-assign]  # the API "accepts", DNS never serves
    sleeps: list[float] = []
    solver = solver_for(server, provider, sleeps)
    t = task("www.example.test")
    await solver.present(t)
    with pytest.raises(SolverError, match=r"_acme-challenge\.www\.example\.test"):
        await solver.settle([t])
    assert 1 <= len(sleeps) <= 4
    await solver.cleanup(t)
    assert provider.calls[-1][0] == "remove"


async def test_cleanup_never_raises_and_skips_unpresented(
    server: FakeDnsServer, caplog: pytest.LogCaptureFixture
) -> None:
    provider = ZoneProvider(server, "example.test", fail_remove=True)
    solver = solver_for(server, provider, [])
    await solver.cleanup(task("www.example.test"))
    assert provider.calls == []
    t = task("www.example.test")
    await solver.present(t)
    await solver.cleanup(t)
    assert "API down" in caplog.text


async def test_provider_errors_become_solver_errors_and_cleanup_still_tries(
    server: FakeDnsServer,
) -> None:
    class Broken(ZoneProvider):
        async def add_txt(self, fqdn: str, value: str) -> None:
            self.calls.append(("add", fqdn, value))
            raise TimeoutError("slow API")

    provider = Broken(server, "example.test")
    solver = solver_for(server, provider, [])
    t = task("www.example.test")
    with pytest.raises(
        SolverError, match=r"Broken could not add TXT _acme-challenge\.www\.example\.test"
    ):
        await solver.present(t)
    await solver.cleanup(t)
    assert provider.calls[-1][0] == "remove"


async def test_wrong_challenge_type_and_settle_before_present(server: FakeDnsServer) -> None:
    solver = solver_for(server, ZoneProvider(server, "example.test"), [])
    http = ChallengeTask(Identifier.dns("www.example.test"), "http-01", "t", "t.x")
    with pytest.raises(SolverError, match="http-01"):
        await solver.present(http)
    with pytest.raises(SolverError, match="settle"):
        await solver.settle([task("www.example.test")])
