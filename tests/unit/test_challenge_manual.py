"""The manual solver: certbot-compatible hooks, instructions, and the http-01 self-check."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.manual import (
    ManualInstructions,
    ManualSolver,
    OnSelfCheckFailure,
    SelfCheckChoice,
    dns01_record_name,
    dns01_txt_value,
    http01_url,
)
from certsmith.challenges.selfcheck import Resolve, SelfCheckFailure
from certsmith.errors import SelfCheckFailed, SolverError

BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CERTBOT_STALE": "old"}


def http_task(name: str, token: str) -> ChallengeTask:
    return ChallengeTask(Identifier.dns(name), "http-01", token, f"{token}.thumbprint")


def dns_task(name: str, token: str = "D" * 43) -> ChallengeTask:
    return ChallengeTask(Identifier.dns(name), "dns-01", token, f"{token}.thumbprint")


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs if k.startswith("CERTBOT_")}


# A hook that records its CERTBOT_* environment, one file per domain and phase.
DUMP_ENV = 'env > "$OUT/$PHASE-$CERTBOT_DOMAIN"'


def hook_solver(tmp_path: Path, challenge_type: str = "http-01") -> ManualSolver:
    env = {**BASE_ENV, "OUT": str(tmp_path)}
    return ManualSolver(
        auth_hook=f"PHASE=auth; {DUMP_ENV}; echo published-$CERTBOT_DOMAIN",
        cleanup_hook=f"PHASE=cleanup; {DUMP_ENV}",
        base_env=env,
        self_check=False,
        hook_timeout=5,
        challenge_type=challenge_type,
    )


async def test_http01_hooks_get_exactly_certbots_variables(tmp_path: Path) -> None:
    solver = hook_solver(tmp_path)
    tasks = [http_task("a.example", "A" * 43), http_task("b.example", "B" * 43)]
    for t in tasks:
        await solver.present(t)
    await solver.settle(tasks)
    first = read_env(tmp_path / "auth-a.example")
    assert first == {
        "CERTBOT_DOMAIN": "a.example",
        "CERTBOT_IDENTIFIER": "a.example",
        "CERTBOT_VALIDATION": f"{'A' * 43}.thumbprint",
        "CERTBOT_TOKEN": "A" * 43,
        "CERTBOT_REMAINING_CHALLENGES": "1",
        "CERTBOT_ALL_DOMAINS": "a.example,b.example",
        "CERTBOT_ALL_IDENTIFIERS": "a.example,b.example",
    }
    assert read_env(tmp_path / "auth-b.example")["CERTBOT_REMAINING_CHALLENGES"] == "0"
    for t in tasks:
        await solver.cleanup(t)
    cleanup_env = read_env(tmp_path / "cleanup-a.example")
    assert cleanup_env == {**first, "CERTBOT_AUTH_OUTPUT": "published-a.example"}
    assert read_env(tmp_path / "cleanup-b.example")["CERTBOT_AUTH_OUTPUT"] == "published-b.example"


async def test_dns01_hook_variables(tmp_path: Path) -> None:
    solver = hook_solver(tmp_path, challenge_type="dns-01")
    wildcard = dns_task("*.example.org")
    await solver.present(wildcard)
    await solver.settle([wildcard])
    env = read_env(tmp_path / "auth-example.org")
    assert "CERTBOT_TOKEN" not in env
    assert env["CERTBOT_DOMAIN"] == "example.org"
    assert env["CERTBOT_VALIDATION"] == dns01_txt_value(wildcard.key_authorization)
    assert env["CERTBOT_ALL_DOMAINS"] == "example.org"


def test_dns01_txt_value_matches_rfc8555() -> None:
    key_auth = "token.thumbprint"
    expected = base64.urlsafe_b64encode(hashlib.sha256(key_auth.encode()).digest())
    assert dns01_txt_value(key_auth) == expected.decode().rstrip("=")
    assert "=" not in dns01_txt_value(key_auth)
    assert dns01_record_name(Identifier.dns("*.Example.com")) == "_acme-challenge.Example.com"


async def test_failing_auth_hook_raises_and_cleanup_still_runs(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    solver = ManualSolver(
        auth_hook="echo broken >&2; exit 3",
        cleanup_hook=f"touch {marker}",
        base_env=BASE_ENV,
        self_check=False,
    )
    t = http_task("a.example", "A" * 43)
    await solver.present(t)
    with pytest.raises(SolverError, match=r"status 3.*broken"):
        await solver.settle([t])
    await solver.cleanup(t)
    assert marker.exists()


async def test_hook_timeout_kills_the_hook(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    solver = ManualSolver(
        auth_hook=f"sleep 30 & echo $! > {pidfile}; wait",
        base_env=BASE_ENV,
        self_check=False,
        hook_timeout=0.3,
    )
    t = http_task("a.example", "A" * 43)
    await solver.present(t)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(SolverError, match="did not finish"):
        await solver.settle([t])
    assert loop.time() - started < 3
    child = int(pidfile.read_text())
    await asyncio.sleep(0.1)
    assert process_state(child) in (None, "Z")  # the hook's children were killed with it


def process_state(pid: int) -> str | None:
    """'R', 'S', 'Z', ... from /proc, or None when the process is gone."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat_line.rsplit(")", 1)[1].split()[0]


async def test_failing_cleanup_hook_only_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "cleaned"
    solver = ManualSolver(
        auth_hook="true", cleanup_hook=f"touch {marker}; exit 1", base_env=BASE_ENV,
        self_check=False,
    )  # fmt: skip
    t = http_task("a.example", "A" * 43)
    await solver.present(t)
    await solver.settle([t])
    with caplog.at_level(logging.WARNING):
        await solver.cleanup(t)  # does not raise
    assert marker.exists()  # the hook did run
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("--manual-cleanup-hook for a.example" in m and "failed" in m for m in failures)


async def test_cleanup_hook_skipped_for_tasks_never_published(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    solver = ManualSolver(
        auth_hook="true", cleanup_hook=f"touch {marker}", base_env=BASE_ENV, self_check=False
    )
    t = http_task("a.example", "A" * 43)
    await solver.present(t)
    await solver.cleanup(t)
    assert not marker.exists()


def test_needs_hook_or_instructions() -> None:
    with pytest.raises(SolverError, match="manual-auth-hook"):
        ManualSolver()
    with pytest.raises(SolverError):
        ManualSolver(auth_hook="true", challenge_type="tls-alpn-01")


async def test_unsafe_token_refused() -> None:
    solver = ManualSolver(auth_hook="true", base_env=BASE_ENV)
    with pytest.raises(SolverError, match="unsafe"):
        await solver.present(http_task("a.example", "../x"))


async def test_instructions_say_what_and_where() -> None:
    shown: list[ManualInstructions] = []
    waited: list[dict[str, set[str]]] = []

    async def show(task: ChallengeTask, instructions: ManualInstructions) -> None:
        shown.append(instructions)

    async def wait_for_txt(records: dict[str, set[str]]) -> None:
        waited.append(records)

    solver = ManualSolver(
        challenge_type="dns-01", show_instructions=show, wait_for_txt=wait_for_txt
    )
    tasks = [dns_task("*.example.com", "E" * 43), dns_task("example.com", "F" * 43)]
    for t in tasks:
        await solver.present(t)
    await solver.settle(tasks)
    assert [i.record_name for i in shown] == ["_acme-challenge.example.com"] * 2
    assert [i.content for i in shown] == [dns01_txt_value(t.key_authorization) for t in tasks]
    assert [i.subsequent for i in shown] == [False, True]
    assert [i.verify_dns for i in shown] == [False, True]
    assert "_acme-challenge.example.com." in shown[0].render()
    assert waited == [
        {"_acme-challenge.example.com": {dns01_txt_value(t.key_authorization) for t in tasks}}
    ]


async def test_http_instructions_and_url() -> None:
    shown: list[ManualInstructions] = []

    async def show(task: ChallengeTask, instructions: ManualInstructions) -> None:
        shown.append(instructions)

    solver = ManualSolver(show_instructions=show, self_check=False)
    t = http_task("a.example", "A" * 43)
    await solver.present(t)
    await solver.settle([t])
    assert shown[0].url == f"http://a.example/.well-known/acme-challenge/{'A' * 43}"
    assert shown[0].content == t.key_authorization
    assert shown[0].url in shown[0].render()
    assert http01_url(Identifier.ip("::1"), "T") == "http://[::1]/.well-known/acme-challenge/T"


# -- self-check against a local server -------------------------------------------------


Routes = dict[str, tuple[int, dict[str, str], bytes]]  # "host/path" -> (status, headers, body)


@pytest.fixture
async def site() -> AsyncIterator[tuple[int, Routes]]:
    """A loopback web server answering from ``routes`` by Host header and path."""
    routes: Routes = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        path = lines[0].split(" ")[1]
        host = next(
            v.strip() for k, _, v in (x.partition(":") for x in lines[1:]) if k.lower() == "host"
        )
        status, headers, body = routes.get(f"{host}{path}", (404, {}, b"not here"))
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], routes
    server.close()
    await server.wait_closed()


def resolver_to(port: int) -> Resolve:
    known = {"site.test", "other.test"}

    async def resolve(host: str, wanted_port: int) -> tuple[str, int]:
        if host not in known:
            raise httpx.ConnectError(f"unknown test name {host}")
        return "127.0.0.1", port

    return resolve


async def check(port: int, task: ChallengeTask) -> None:
    solver = ManualSolver(auth_hook="true", base_env=BASE_ENV, self_check_resolve=resolver_to(port))
    await solver.present(task)
    await solver.settle([task])


async def test_self_check_passes_on_right_content(site: tuple[int, Routes]) -> None:
    port, routes = site
    t = http_task("site.test", "A" * 43)
    routes[f"site.test/.well-known/acme-challenge/{'A' * 43}"] = (
        200,
        {},
        t.key_authorization.encode() + b"\n",
    )
    await check(port, t)


async def test_self_check_reports_wrong_content(site: tuple[int, Routes]) -> None:
    port, routes = site
    t = http_task("site.test", "A" * 43)
    routes[f"site.test/.well-known/acme-challenge/{'A' * 43}"] = (200, {}, b"<html>default page")
    with pytest.raises(SelfCheckFailed) as info:
        await check(port, t)
    seen = info.value.values["seen"]
    assert f"HTTP 200 (connected to 127.0.0.1:{port})" in seen
    assert '"<html>default page"' in seen and "b'" not in seen


async def test_self_check_reports_missing_file(site: tuple[int, Routes]) -> None:
    port, _ = site
    with pytest.raises(
        SolverError, match=r'HTTP 404 \(connected to 127.0.0.1:\d+\) with "not here"'
    ):
        await check(port, http_task("site.test", "A" * 43))


def answering(*choices: SelfCheckChoice) -> tuple[OnSelfCheckFailure, list[SelfCheckFailure]]:
    """A decision maker that answers ``choices`` in turn and records what it was shown."""
    seen: list[SelfCheckFailure] = []
    queue = list(choices)

    async def decide(failure: SelfCheckFailure, by_hook: bool) -> SelfCheckChoice:
        seen.append(failure)
        return queue.pop(0)

    return decide, seen


def checked_solver(port: int, decide: OnSelfCheckFailure | None, **kw: object) -> ManualSolver:
    return ManualSolver(
        auth_hook="true", base_env=BASE_ENV, self_check_resolve=resolver_to(port),
        on_self_check_failure=decide, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_failed_self_check_can_go_on_when_the_decider_says_continue(
    site: tuple[int, Routes],
) -> None:
    port, _ = site
    decide, seen = answering(SelfCheckChoice.CONTINUE)
    solver, t = checked_solver(port, decide), http_task("site.test", "A" * 43)
    await solver.present(t)
    await solver.settle([t])  # no error: the CA has the last word
    [failure] = seen
    assert failure.status == 404 and failure.excerpt == "not here"
    assert failure.address == f"127.0.0.1:{port}"


async def test_check_again_fetches_again_and_passes_once_the_file_is_there(
    site: tuple[int, Routes],
) -> None:
    port, routes = site
    t = http_task("site.test", "A" * 43)
    queue = [SelfCheckChoice.RETRY]
    shown: list[SelfCheckFailure] = []

    async def decide(failure: SelfCheckFailure, by_hook: bool) -> SelfCheckChoice:
        shown.append(failure)
        # The user fixes the web server, then asks to check again.
        routes[f"site.test/.well-known/acme-challenge/{'A' * 43}"] = (
            200, {}, t.key_authorization.encode(),
        )  # fmt: skip
        return queue.pop(0)

    solver = checked_solver(port, decide)
    await solver.present(t)
    await solver.settle([t])
    assert len(shown) == 1


async def test_abort_stops_with_what_was_seen(site: tuple[int, Routes]) -> None:
    port, _ = site
    decide, seen = answering(SelfCheckChoice.RETRY, SelfCheckChoice.ABORT)
    solver, t = checked_solver(port, decide), http_task("site.test", "A" * 43)
    await solver.present(t)
    with pytest.raises(SelfCheckFailed) as info:
        await solver.settle([t])
    assert len(seen) == 2
    assert info.value.values["url"].endswith("/.well-known/acme-challenge/" + "A" * 43)


async def test_unreachable_url_is_described_without_python_reprs() -> None:
    async def nowhere(host: str, port: int) -> tuple[str, int]:
        return "127.0.0.1", 9  # discard port: nothing listens

    decide, seen = answering(SelfCheckChoice.CONTINUE)
    solver = ManualSolver(
        auth_hook="true", base_env=BASE_ENV, self_check_resolve=nowhere,
        on_self_check_failure=decide,
    )  # fmt: skip
    t = http_task("site.test", "A" * 43)
    await solver.present(t)
    await solver.settle([t])
    [failure] = seen
    assert failure.status is None and failure.address == "127.0.0.1:9"
    assert failure.problem and "ConnectError(" not in failure.problem


async def test_no_self_check_fetches_nothing(site: tuple[int, Routes]) -> None:
    port, _ = site
    decide, seen = answering()
    solver, t = checked_solver(port, decide, self_check=False), http_task("site.test", "A" * 43)
    await solver.present(t)
    await solver.settle([t])
    assert seen == []


async def test_self_check_follows_redirects_like_the_ca(site: tuple[int, Routes]) -> None:
    port, routes = site
    t = http_task("site.test", "A" * 43)
    routes[f"site.test/.well-known/acme-challenge/{'A' * 43}"] = (
        301,
        {"Location": "http://other.test/x"},
        b"",
    )
    routes["other.test/x"] = (200, {}, t.key_authorization.encode())
    await check(port, t)


async def test_self_check_refuses_redirect_to_other_port(site: tuple[int, Routes]) -> None:
    port, routes = site
    t = http_task("site.test", "A" * 43)
    routes[f"site.test/.well-known/acme-challenge/{'A' * 43}"] = (
        302,
        {"Location": "http://other.test:8080/x"},
        b"",
    )
    with pytest.raises(SolverError, match="would not follow"):
        await check(port, t)


async def test_self_check_stops_redirect_loops(site: tuple[int, Routes]) -> None:
    port, routes = site
    t = http_task("site.test", "A" * 43)
    routes[f"site.test/.well-known/acme-challenge/{'A' * 43}"] = (302, {"Location": "/loop"}, b"")
    routes["site.test/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(SolverError, match="more than 10 redirects"):
        await check(port, t)


async def test_self_check_unresolvable_name() -> None:
    with pytest.raises(SolverError, match="could not fetch"):
        await check(1, http_task("unknown.test", "A" * 43))


async def test_self_check_with_injected_transport() -> None:
    t = http_task("a.example", "A" * 43)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, text=t.key_authorization)

    solver = ManualSolver(
        auth_hook="true", base_env=BASE_ENV, self_check_transport=httpx.MockTransport(answer)
    )
    await solver.present(t)
    await solver.settle([t])
    assert seen == [f"http://a.example/.well-known/acme-challenge/{'A' * 43}"]
