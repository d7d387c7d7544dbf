"""The http-01 reachability probe publishes through the real solver and fetches like the CA."""

from __future__ import annotations

import httpx

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.http01_standalone import StandaloneHttp01Server
from certsmith.renewal.probe import probe_http01
from certsmith.renewal.settings import LineageSettings


class Silent:
    """A solver that accepts tasks but publishes nothing (a webroot nobody serves)."""

    challenge_type = "http-01"

    def __init__(self) -> None:
        self.cleaned: list[ChallengeTask] = []

    async def present(self, task: ChallengeTask) -> None:
        return None

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        return None

    async def cleanup(self, task: ChallengeTask) -> None:
        self.cleaned.append(task)


async def test_probe_through_the_standalone_server_succeeds_and_cleans_up() -> None:
    async with StandaloneHttp01Server(address="127.0.0.1", port=0) as server:
        settings = LineageSettings(http01_port=server.port)
        results = await probe_http01(server, [Identifier.ip("127.0.0.1")], settings)
        assert [r.ok for r in results] == [True]
        seen = [r.target for r in server.requests_seen]
        assert len(seen) == 1 and seen[0].startswith("/.well-known/acme-challenge/")
        # The probe token is withdrawn: the very URL it was fetched at now answers 404.
        async with httpx.AsyncClient() as client:
            after = await client.get(f"http://127.0.0.1:{server.port}{seen[0]}")
        assert after.status_code == 404


async def test_probe_reports_what_it_saw_when_nothing_serves_the_token() -> None:
    async with StandaloneHttp01Server(address="127.0.0.1", port=0) as server:
        silent = Silent()
        settings = LineageSettings(http01_port=server.port)
        (result,) = await probe_http01(silent, [Identifier.ip("127.0.0.1")], settings)
        assert not result.ok and "404" in result.message
        assert len(silent.cleaned) == 1


async def test_wildcards_are_not_probed() -> None:
    silent = Silent()
    results = await probe_http01(silent, [Identifier.dns("*.example.test")], LineageSettings())
    assert results == [] and silent.cleaned == []
