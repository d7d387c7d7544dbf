"""`certificates`, `revoke` and `delete`: look at and retire lineages."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certsmith import crypto
from certsmith.acme.jws import AccountKey
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.options import CertificatesOptions, DeleteOptions, RevokeOptions
from certsmith.cli.output import (
    CertificatePaths,
    CertificateSummary,
    render_certificates_json,
    render_certificates_text,
    select_certificates,
)
from certsmith.cli.prompt import make_prompter
from certsmith.cli.usage import usage_error
from certsmith.errors import CertsmithError
from certsmith.renewal import retire
from certsmith.renewal.account import as_account_key
from certsmith.renewal.ari_cache import AriCacheRecord
from certsmith.renewal.due import settings_from_conf
from certsmith.renewal.engine import Engine
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.settings import LineageSettings, SettingOverrides
from certsmith.storage import Lineage
from certsmith.storage.history import last_result_per_lineage
from certsmith.storage.interface import LineageStorage, RenewalStateCache, Stores


def _load_locked(store: LineageStorage, name: str) -> Lineage:
    """Loading may repair live/ (heal), so it happens under the lineage's lock; a lineage being
    renewed right now is shown after that run is done with it."""
    try:
        lock = store.lock(name, timeout=30)
    except PermissionError:  # a user reading someone else's config dir: read, never repair
        return store.load(name)
    with lock:
        return store.load(name)


def _summary(store: LineageStorage, states: RenewalStateCache, name: str) -> CertificateSummary:
    paths = store.live_paths(name)
    summary_paths = CertificatePaths(
        paths["cert"], paths["chain"], paths["fullchain"], paths["privkey"]
    )
    try:
        lineage = _load_locked(store, name)
        cert = lineage.certificate()
        info = crypto.inspect_certificate(cert)
    except CertsmithError as exc:
        return CertificateSummary(name, (), summary_paths, store.conf_path(name), problem=str(exc))
    window = None
    state = states.load(name, store.revision(name))
    if state is not None and state.ari:
        record = AriCacheRecord.from_json(state.ari)
        window = record.window
    key_type = "rsa" if info.key_type.upper().startswith("RSA") else "ecdsa"
    return CertificateSummary(
        name=name,
        identifiers=tuple(i.value for i in lineage.identifiers),
        paths=summary_paths,
        renewal_conf=store.conf_path(name),
        key_type=key_type,
        serial=info.serial_hex,
        not_before=info.not_before,
        not_after=info.not_after,
        ari_window=window,
        revoked=bool(state and state.revoked),
        test_cert="staging" in settings_from_conf(lineage.conf).server,
    )


def certificates(options: CertificatesOptions, console: Console) -> int:
    stores = common.environment(options.common).stores
    store = stores.lineages
    summaries = _with_last_runs(stores, [_summary(store, stores.states, n) for n in store.names()])
    wanted = [*options.domains, *options.ip_addresses]
    chosen = select_certificates(summaries, options.cert_name, wanted)
    now = datetime.datetime.now(datetime.UTC)
    chosen = _with_persist_checks(stores, chosen, now)
    if options.json:
        console.data(render_certificates_json(chosen, now))
    else:
        filtered = bool(options.cert_name or wanted)
        text = render_certificates_text(chosen, now, filtered=filtered, catalogue=console.catalogue)
        console.say(text)
    return 0


def _with_persist_checks(
    stores: Stores, summaries: list[CertificateSummary], now: datetime.datetime
) -> list[CertificateSummary]:
    """dns-persist lineages with how long their standing records still count (a DNS lookup
    each, bounded; a failed one says so)."""
    from certsmith.cli.persist_watch import persist_checks

    names = [s.name for s in summaries if s.problem is None]
    checks = persist_checks(stores.lineages, stores.accounts, names, now)
    return [dataclasses.replace(s, persist=checks.get(s.name)) for s in summaries]


def _with_last_runs(
    stores: Stores, summaries: list[CertificateSummary]
) -> list[CertificateSummary]:
    """Each summary with the newest run that renewed, failed or skipped it (the history)."""
    if stores.history is None:
        return summaries
    last = last_result_per_lineage(stores.history.recent(), [s.name for s in summaries])
    out = []
    for s in summaries:
        if s.name in last:
            record, outcome = last[s.name]
            last_run = (record.started, outcome, record.reason_for(s.name))
            s = dataclasses.replace(s, last_run=last_run)
        out.append(s)
    return out


def _revoke_target(options: RevokeOptions, store: LineageStorage) -> tuple[bytes, str | None, str]:
    """(certificate DER, lineage name or None, server URL)."""
    if options.cert_name:
        if options.cert_name not in store.names():
            raise usage_error("revoke.no_such_certificate", name=repr(options.cert_name))
        # Read without healing: revoke() heals (loads) only under the locks.
        cert = crypto.load_certificates(store.read_live_cert(options.cert_name))[0]
        server = settings_from_conf(store.read_conf(options.cert_name)).server
        return cert.public_bytes(Encoding.DER), options.cert_name, server
    if options.cert_path is None:
        raise usage_error("revoke.which")
    try:
        certs = crypto.load_certificates(Path(options.cert_path).read_bytes())
    except OSError as exc:
        raise usage_error(
            "usage.file_unreadable", path=options.cert_path, error=exc.strerror
        ) from None
    if not certs:
        raise usage_error("revoke.no_pem", path=options.cert_path)
    name = next((n for n in store.names() if _holds(store, n, certs[0])), None)
    # A certificate of a lineage here is revoked at the CA that issued it, as with --cert-name.
    server = settings_from_conf(store.read_conf(name)).server if name else options.common.server
    return certs[0].public_bytes(Encoding.DER), name, server


def _certificate_key(path: Path, der: bytes) -> AccountKey:
    try:
        key = crypto.load_private_key(path.read_bytes())
    except OSError as exc:
        raise usage_error("usage.file_unreadable", path=path, error=exc.strerror) from None
    except ValueError:
        raise usage_error("revoke.no_key", path=path) from None
    if not crypto.key_matches_certificate(key, x509.load_der_x509_certificate(der)):
        raise usage_error("revoke.key_mismatch", path=path)
    return as_account_key(key)


def _holds(store: LineageStorage, name: str, cert: x509.Certificate) -> bool:
    try:
        return crypto.load_certificates(store.read_live_cert(name))[0] == cert
    except CertsmithError:
        return False


def revoke(options: RevokeOptions, console: Console) -> int:
    """Every write of a revoke (the renewal state, a heal on load, the deletion) holds the
    certbot lock and the lineage's lock, as renew's writes do."""
    env = common.environment(options.common)
    with env.stores.guard():
        return _revoke_guarded(options, console, env)


def _revoke_guarded(options: RevokeOptions, console: Console, env: RunEnvironment) -> int:
    stores = env.stores
    der, name, server = _revoke_target(options, stores.lineages)
    if "server" in options.common.set_on_command_line:
        server = options.common.server
    ca_bundle = str(options.common.ca_bundle) if options.common.ca_bundle else None
    overrides = SettingOverrides(server=server, ca_bundle=ca_bundle)
    with stores.lineages.lock(name, timeout=30) if name else contextlib.nullcontext():
        asyncio.run(_revoke(options, env, der, name, overrides))
    revoked = "revoke.done.named" if name else "revoke.done"
    console.say(console.message(revoked, name=name, reason=options.reason))
    if name is None:
        return 0
    # certbot 5.8's default: delete ("Yes (recommended)"), also without a terminal.
    delete_it = options.delete_after_revoke
    if delete_it is None:
        delete_it = make_prompter(options.common.non_interactive).confirm(
            console.message("revoke.delete_confirm", name=name), True
        )
    if delete_it:
        retire.delete_lineage(stores, name)  # takes the lineage's lock itself
        console.say(console.message("revoke.deleted", name=name))
    return 0


async def _revoke(
    options: RevokeOptions,
    env: RunEnvironment,
    der: bytes,
    name: str | None,
    overrides: SettingOverrides,
) -> None:
    """With the certificate's key (--key-path), else the account: a lineage's through the
    engine (which remembers it was revoked), any other certificate's directly."""
    reason = options.reason_code
    if options.key_path is not None:
        base = settings_from_conf(env.stores.lineages.read_conf(name)) if name else None
        settings = overrides.apply(base or LineageSettings())
        cert_key = _certificate_key(options.key_path, der)
        revoking = retire.revoke_with_certificate_key(env, settings, cert_key, der, reason)
        await retire.remembered(env.stores, name, revoking)
        return
    async with Engine(env) as engine:
        if name is not None:
            await engine.revoke_lineage(name, reason, overrides)
        else:
            await retire.revoke_with_account(
                engine.ca, overrides.apply(LineageSettings()), der, reason
            )


def delete(options: DeleteOptions, console: Console) -> int:
    stores = common.environment(options.common).stores
    store = stores.lineages
    name = options.cert_name
    if not name:
        raise usage_error("delete.which")
    if name not in store.names() and name not in store.interrupted_deletions():
        raise usage_error("usage.no_such_certificate", name=repr(name))
    if not make_prompter(options.common.non_interactive).confirm(
        console.message("delete.confirm", name=name), True
    ):
        console.say(console.message("delete.nothing"))
        return 0
    with stores.guard():
        retire.delete_lineage(stores, name)
    console.say(console.message("delete.done", name=name))
    return 0
