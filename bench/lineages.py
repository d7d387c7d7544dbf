"""Build certbot-layout config dirs full of real lineages (certificates from Pebble via the core)
and clone them, so each tool under test starts with cold caches of its own."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from core import Issued, fresh_names, issue_many, register

from certsmith import crypto
from certsmith.storage import LineageStore


def write_lineages(config_dir: Path, issued: list[Issued], params: dict[str, Any]) -> None:
    """One lineage per issued certificate, renewal conf [renewalparams] = ``params``."""
    store = LineageStore(config_dir)
    for item in issued:
        blocks = crypto.split_pem_chain(item.result.fullchain_pem.encode())
        cert, chain = blocks[0], b"".join(blocks[1:])
        conf = store.new_conf(item.name, dict(params))
        store.save_version(item.name, item.key_pem, cert, chain, None, conf)


def clone_config(source: Path, target: Path) -> None:
    """Copy a config dir; its live/ links are relative, the renewal confs' paths are rewritten."""
    shutil.copytree(source, target, symlinks=True)
    for conf in (target / "renewal").glob("*.conf"):
        text = conf.read_text(encoding="utf-8")
        conf.write_text(text.replace(str(source) + "/", str(target) + "/"), encoding="utf-8")


def _serial_bits(item: Issued) -> int:
    pem = crypto.split_pem_chain(item.result.fullchain_pem.encode())[0]
    return int(crypto.load_certificates(pem)[0].serial_number.bit_length())


def archive_cert_count(config_dir: Path) -> int:
    """How many certN.pem files exist under archive/ (grows when a renewal happened)."""
    return sum(1 for _ in (config_dir / "archive").glob("*/cert*.pem"))


def build(
    ca: Any,
    base: Path,
    count: int,
    params: dict[str, Any],
    *,
    concurrency: int = 64,
    timeout: float = 300.0,
    prefix: str = "l",
    renewable: bool = False,
) -> tuple[list[str], list[str]]:
    """Register an account stored in ``base``, issue ``count`` certificates and write them as
    lineages there. Returns (names written, issuance errors). ``renewable`` issues a few
    spare certificates and skips those Pebble cannot renew with `replaces` (see below)."""

    wanted = count

    async def go() -> tuple[list[Issued], list[str]]:
        key, url, ident = await register(ca, base)
        params["account"] = ident
        extra = count // 4 + 2 if renewable else 0
        return await issue_many(ca, key, url, fresh_names(count + extra, prefix), concurrency)

    issued, errors = asyncio.run(asyncio.wait_for(go(), timeout))
    if renewable:
        # Pebble 2.10 cannot find the order for an RFC 9773 certID whose serial DER has a
        # leading zero octet (serverInternal on `replaces`); keep such certificates out of runs
        # that renew, so the figure measures scheduling, not that quirk.
        issued = [i for i in issued if _serial_bits(i) % 8 != 0][:wanted]
    full = {"server": ca.directory_url, **params}
    write_lineages(base, issued, full)
    return [i.name for i in issued], errors
