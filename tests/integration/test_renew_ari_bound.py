"""The first `renew` of a fleet asks its CA's renewalInfo no more than the per-CA bound at once
(issue 12), counted at Pebble: a counting proxy sits between the CLI and Pebble.

The fleet is large enough (``helper_process.SPLIT_AT``) for `renew` to split the work over two
processes, so the count covers both. Each renewalInfo request is held a moment at the proxy:
a client that allowed more in flight than the bound would show it there.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith import crypto
from certsmith.acme import AcmeClient, Identifier
from certsmith.issuance import IssuanceRequest, obtain_certificate
from certsmith.renewal.due import ARI_CONCURRENCY
from certsmith.renewal.helper_process import SPLIT_AT
from certsmith.storage import LineageStore
from support.fault_proxy import FaultProxy

pytestmark = pytest.mark.pebble

ROOT = Path(__file__).resolve().parents[2]
CERTSMITH = ROOT / ".venv" / "bin" / "certsmith"
SEEDS = 3  # certificates issued by Pebble; the fleet's lineages share them
FLEET = SPLIT_AT + 40
HOLD = 0.03  # seconds each renewalInfo request is held at the proxy
RUN_TIMEOUT = 90.0


class ChalltestSolver:
    """http-01 answers published through challtestsrv (Pebble's VA asks it)."""

    challenge_type = "http-01"

    def __init__(self, ca: Any) -> None:
        self._ca = ca

    async def present(self, task: Any) -> None:
        body = {"token": task.token, "content": task.key_authorization}
        await asyncio.to_thread(self._ca.challtest, "/add-http01", body)

    async def settle(self, tasks: list[Any]) -> None:
        return None

    async def cleanup(self, task: Any) -> None:
        await asyncio.to_thread(self._ca.challtest, "/del-http01", {"token": task.token})


async def issue_seeds(ca: Any, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` single-name certificates from Pebble: (key PEM, full chain PEM) each."""
    solver = ChalltestSolver(ca)
    tag = uuid.uuid4().hex[:8]
    seeds = []
    async with AcmeClient(
        ca.directory_url, crypto.generate_private_key("ecdsa"), ca_bundle=ca.ca_bundle
    ) as client:
        await client.new_account(terms_agreed=True)
        for i in range(count):
            name = f"seed{i}-{tag}.example.com"
            ca.add_aaaa(name, ["::ffff:127.0.0.1"])  # Pebble's VA dials AAAA first
            key = crypto.generate_private_key("ecdsa")
            csr = crypto.make_csr(key, [Identifier.dns(name)])
            request = IssuanceRequest([Identifier.dns(name)], csr)
            result = await obtain_certificate(client, request, {"http-01": solver})
            seeds.append((crypto.private_key_pem(key), result.fullchain_pem.encode()))
    return seeds


def write_fleet(config_dir: Path, server: str, seeds: list[tuple[bytes, bytes]]) -> None:
    """``FLEET`` lineages: one saved per seed certificate, cloned (as bench/fleet.py does: hard
    links, live/ links, a conf from the seed's) to the others, since a save is several fsyncs."""
    store = LineageStore(config_dir)
    for i, (key_pem, fullchain) in enumerate(seeds):
        blocks = crypto.split_pem_chain(fullchain)
        name = f"f{i:04d}.example"
        conf = store.new_conf(name, {"authenticator": "standalone", "server": server})
        with store.lock(name):
            store.save_version(name, key_pem, blocks[0], b"".join(blocks[1:]), None, conf)
    for i in range(len(seeds), FLEET):
        seed, name = f"f{i % len(seeds):04d}.example", f"f{i:04d}.example"
        archive, live = config_dir / "archive" / name, config_dir / "live" / name
        archive.mkdir()
        live.mkdir()
        for kind in ("cert", "chain", "fullchain", "privkey"):
            os.link(config_dir / "archive" / seed / f"{kind}1.pem", archive / f"{kind}1.pem")
            (live / f"{kind}.pem").symlink_to(f"../../archive/{name}/{kind}1.pem")
        conf_text = (config_dir / "renewal" / f"{seed}.conf").read_text()
        conf_path = config_dir / "renewal" / f"{name}.conf"
        conf_path.write_text(conf_text.replace(f"/{seed}", f"/{name}"))


async def renew_json(base: Path, proxy: FaultProxy) -> dict[str, Any]:
    argv = [
        str(CERTSMITH), "renew", "--no-random-sleep-on-renew", "--json", "-n",
        "--server", f"{proxy.url}/dir", "--ca-bundle", proxy.ca_bundle,
        "--config-dir", str(base / "etc"), "--work-dir", str(base / "work"),
        "--logs-dir", str(base / "logs"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{out.decode()}\n{err.decode()}"
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


async def test_a_first_renew_of_a_fleet_keeps_renewal_info_requests_within_the_per_ca_bound(
    pebble: Any, tmp_path: Path
) -> None:
    seeds = await issue_seeds(pebble, SEEDS)
    write_fleet(tmp_path / "etc", pebble.directory_url, seeds)
    upstream = f"https://127.0.0.1:{pebble.acme_port}"
    async with FaultProxy(upstream, str(pebble.ca_bundle), tmp_path) as proxy:
        trust = ssl.create_default_context(cafile=proxy.ca_bundle)
        async with httpx.AsyncClient(verify=trust, timeout=10) as http:
            directory = (await http.get(f"{proxy.url}/dir")).json()
        assert directory["renewalInfo"].startswith(proxy.url + "/")  # counted here, not around
        watch = proxy.watch("renewalInfo", hold=HOLD)
        summary = await renew_json(tmp_path, proxy)
    assert summary["checked"] == FLEET and summary["not_due"] == FLEET
    assert summary["ari_asked"] == FLEET and summary["ari_deferred"] == 0
    assert watch.total == summary["ari_asked"]
    # Never above the bound, across both processes; and the bound is used, not undercut.
    assert watch.most == ARI_CONCURRENCY
    # Both processes' lines reach the log, each once (the helper's own records, none twice).
    log = (tmp_path / "logs" / "letsencrypt.log").read_text()
    gets = [line for line in log.splitlines() if ":GET " in line and "/renewalInfo/" in line]
    assert len(gets) == FLEET
