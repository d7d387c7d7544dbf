"""`certsmith certonly --csr FILE`: a certificate for a CSR made elsewhere, written where certbot
writes it, with no lineage (certsmith has no private key to keep).

As certbot 5.8: PEM or DER; the names come from the CSR's subjectAltName; a ``-d`` name the CSR
does not hold is refused; the files are ``--cert-path``, ``--chain-path`` and
``--fullchain-path`` when given (never overwritten), else ``./cert.pem`` and ``./chain.pem``
made unique as certbot does: ``0000_cert.pem``, ``0000_chain.pem`` and, for the full chain,
``0001_chain.pem`` (certbot's default for --fullchain-path is ./chain.pem too).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.options import CertonlyOptions, CsrOptions
from certsmith.cli.prompt import make_prompter
from certsmith.cli.usage import usage_error
from certsmith.renewal.engine import Engine
from certsmith.renewal.settings import LineageSettings

MAX_UNIQUE = 10_000  # certbot counts 0000..9999 in the same way


def certonly_csr(options: CertonlyOptions, csr: CsrOptions, console: Console) -> int:
    try:
        data = csr.csr.read_bytes()
    except OSError as exc:
        raise usage_error("csr.unreadable", path=csr.csr, error=exc.strerror or exc) from None
    der, names = crypto.load_csr(data)
    _check_names(options, names)
    if options.challenge.authenticator is None:
        raise usage_error("usage.no_authenticator")
    c = options.common
    overrides = common.setting_overrides(
        c, options.key, options.challenge, options.hooks, options.issuance, options.account, names
    )
    settings = overrides.apply(LineageSettings(server=c.server))
    events = common.CliEvents(console, make_prompter(c.non_interactive), options.account)
    env = common.environment(c, events)
    dry_run = options.issuance.dry_run
    summary = ", ".join(n.value for n in names)
    console.say(console.message("csr.simulating" if dry_run else "csr.requesting", names=summary))

    async def go() -> tuple[str, str, str]:
        async with Engine(env, registration=common.registration(options.account)) as engine:
            got = await engine.obtain_for_csr(settings, der, names, dry_run=dry_run)
            return got.cert_pem, got.chain_pem, got.fullchain_pem

    with env.stores.guard():
        cert, chain, fullchain = asyncio.run(go())
    if dry_run:
        console.say(console.message("certonly.dry_run_ok"))
        return 0
    cert_path = _write(csr.cert_path, Path("cert.pem"), cert)
    chain_path = _write(csr.chain_path, Path("chain.pem"), chain)
    fullchain_path = _write(csr.fullchain_path, Path("chain.pem"), fullchain)
    expiry = crypto.load_certificates(cert.encode())[0].not_valid_after_utc.date()
    console.say(
        console.message(
            "csr.received",
            cert=cert_path,
            chain=chain_path,
            fullchain=fullchain_path,
            expires=expiry,
        )
    )
    return 0


def _check_names(options: CertonlyOptions, names: list[Identifier]) -> None:
    """certbot: the -d names must be names of the CSR (it asks for the CSR's names)."""
    in_csr = {n.value for n in names}
    typed = [*options.domains, *options.ip_addresses]
    given = crypto.normalize_names(typed) if typed else []
    stray = [g.value for g in given if g.value not in in_csr]
    if stray:
        raise usage_error(
            "csr.names_mismatch", in_csr=", ".join(sorted(in_csr)), stray=", ".join(stray)
        )


def _write(given: Path | None, default: Path, pem: str) -> Path:
    """Write ``pem`` to ``given`` (which must not exist, as in certbot) or to the first free
    ``NNNN_<default>`` in the current folder; the absolute path written."""
    data = pem.encode("ascii")
    if given is not None:
        given.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        try:
            _create(given, data)
        except FileExistsError:
            raise usage_error("csr.exists", path=given) from None
        return given
    for count in range(MAX_UNIQUE):
        path = Path.cwd() / default.parent / f"{count:04d}_{default.name}"
        try:
            _create(path, data)
        except FileExistsError:
            continue
        return path
    raise usage_error("csr.no_free_name", name=default.name)


def _create(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise
    except OSError as exc:
        raise usage_error("usage.file_unwritable", path=path, error=exc.strerror or exc) from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
