"""Protocol-core figures (1 and 2) and the bulk issuance used to build lineages for figure 5."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ChalltestSolver, Row, judge, pebble

from certsmith import crypto
from certsmith.acme import AcmeClient, Identifier
from certsmith.issuance import IssuanceRequest, IssuanceResult, obtain_certificate
from certsmith.storage import AccountStore


@dataclass
class Issued:
    name: str
    key_pem: bytes
    result: IssuanceResult


def fresh_names(count: int, prefix: str = "b") -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"{prefix}{i}-{tag}.example.com" for i in range(count)]


async def register(ca: Any, config_dir: Path | None = None) -> tuple[Any, str, str | None]:
    """A new account at ``ca``: (key, account URL, account id if stored in ``config_dir``)."""
    key = crypto.generate_private_key("ecdsa")
    async with AcmeClient(ca.directory_url, key, ca_bundle=ca.ca_bundle) as client:
        account = await client.new_account(terms_agreed=True)
    ident = None
    if config_dir is not None:
        body = {"contact": [], "status": str(account.status), "termsOfServiceAgreed": True}
        ident = AccountStore(config_dir).save(ca.directory_url, key, account.url, body)
    return key, account.url, ident


async def issue(client: AcmeClient, solver: ChalltestSolver, name: str) -> Issued:
    """One single-name certificate through certsmith.issuance.obtain_certificate."""
    key = crypto.generate_private_key("ecdsa")
    csr = crypto.make_csr(key, [Identifier.dns(name)])
    result = await obtain_certificate(
        client, IssuanceRequest([Identifier.dns(name)], csr), {"http-01": solver}
    )
    return Issued(name, crypto.private_key_pem(key), result)


def _client(ca: Any, key: Any, account_url: str) -> AcmeClient:
    return AcmeClient(ca.directory_url, key, account_url=account_url, ca_bundle=ca.ca_bundle)


async def _count_one(ca: Any) -> dict[str, int]:
    key, url, _ = await register(ca)
    solver = ChalltestSolver(ca.challtestsrv_url)
    try:
        async with _client(ca, key, url) as client:
            await issue(client, solver, fresh_names(1)[0])
            return {
                "requests": client.request_count,
                "nonce_fetches": client.nonce_fetches,
                "bad_nonce_retries": client.bad_nonce_retries,
            }
    finally:
        await solver.aclose()


def figure1(workdir: Path) -> list[Row]:
    """HTTP requests for one single-name issuance with a known account."""
    rows: list[Row] = []
    for reject in (0, 20):
        with pebble(workdir / f"fig1-nr{reject}", nonce_reject=reject) as ca:
            counts = asyncio.run(asyncio.wait_for(_count_one(ca), 60))
        protocol = counts["requests"] - counts["nonce_fetches"] - counts["bad_nonce_retries"]
        where = f"PEBBLE_WFE_NONCEREJECT={reject}"
        if reject == 0:
            rows.append(
                Row(
                    "1",
                    f"requests, one issuance, all ({where})",
                    counts["requests"],
                    "req",
                    "",
                    None,
                    "includes the one HEAD newNonce",
                    counts,
                )
            )
            rows.append(
                Row(
                    "1",
                    f"requests besides the first newNonce ({where})",
                    protocol,
                    "req",
                    "<= 8",
                    judge(protocol, 8),
                    "Pebble sends no Replay-Nonce with the directory",
                    counts,
                )
            )
            rows.append(
                Row(
                    "1",
                    f"newNonce requests ({where})",
                    counts["nonce_fetches"],
                    "req",
                    "<= 1",
                    judge(counts["nonce_fetches"], 1),
                    "",
                    counts,
                )
            )
        else:
            rows.append(
                Row(
                    "1",
                    f"requests, one issuance ({where})",
                    counts["requests"],
                    "req",
                    "",
                    None,
                    f"{counts['bad_nonce_retries']} badNonce retries, "
                    f"{counts['nonce_fetches']} newNonce; {protocol} without those",
                    counts,
                )
            )
    return rows


async def _timed_batch(ca: Any, names: list[str], concurrent: bool) -> tuple[float, float]:
    key, url, _ = await register(ca)
    solver = ChalltestSolver(ca.challtestsrv_url)
    try:
        async with _client(ca, key, url) as client:
            await client.directory()
            wall, cpu = time.perf_counter(), time.process_time()
            if concurrent:
                await asyncio.gather(*(issue(client, solver, n) for n in names))
            else:
                for name in names:
                    await issue(client, solver, name)
            return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await solver.aclose()


def figure2(workdir: Path, count: int = 20, sleep_time: int = 3) -> list[Row]:
    """``count`` issuances concurrently vs one after another, Pebble validation delay on."""
    with pebble(
        workdir / "fig2", nonce_reject=0, validation_sleep=True, sleep_time=sleep_time
    ) as ca:
        seq_wall, seq_cpu = asyncio.run(
            asyncio.wait_for(_timed_batch(ca, fresh_names(count, "s"), False), 300)
        )
        par_wall, par_cpu = asyncio.run(
            asyncio.wait_for(_timed_batch(ca, fresh_names(count, "p"), True), 120)
        )
    ratio = par_wall / seq_wall
    setup = f"PEBBLE_VA_SLEEPTIME={sleep_time}, NONCEREJECT=0"
    return [
        Row("2", f"{count} issuances one after another", seq_wall, "s", "", None, setup),
        Row("2", f"{count} issuances concurrently", par_wall, "s", "", None, setup),
        Row(
            "2",
            "concurrent / sequential wall time",
            ratio,
            "x",
            "<= 0.20",
            judge(ratio, 0.2),
            setup,
        ),
        Row("2", "client CPU per issuance (sequential)", seq_cpu / count * 1000, "ms"),
        Row("2", "client CPU per issuance (concurrent)", par_cpu / count * 1000, "ms"),
    ]


async def issue_many(
    ca: Any, key: Any, account_url: str, names: list[str], concurrency: int = 64
) -> tuple[list[Issued], list[str]]:
    """Issue one certificate per name, ``concurrency`` at a time: (issued, error messages)."""
    gate = asyncio.Semaphore(concurrency)
    solver = ChalltestSolver(ca.challtestsrv_url)
    errors: list[str] = []

    async def one(client: AcmeClient, name: str) -> Issued | None:
        async with gate:
            try:
                return await issue(client, solver, name)
            except Exception as exc:  # a failed one is reported, the rest go on
                errors.append(f"{name}: {exc}")
                return None

    try:
        async with _client(ca, key, account_url) as client:
            done = await asyncio.gather(*(one(client, n) for n in names))
    finally:
        await solver.aclose()
    return [d for d in done if d is not None], errors
