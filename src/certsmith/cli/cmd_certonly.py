"""`certsmith certonly`: obtain (or replace) one certificate and save it as a lineage."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.folders import check_writable
from certsmith.cli.options import CertonlyOptions, RunOptions
from certsmith.cli.prompt import MANUAL_NEEDS_TTY, Prompter, make_prompter
from certsmith.cli.usage import usage_error
from certsmith.errors import CertsmithError, LockHeld
from certsmith.renewal import keep_issued
from certsmith.renewal.engine import (
    Engine,
    HookCommands,
    LineageRequest,
    LineageResult,
    NamesChange,
    Outcome,
)
from certsmith.renewal.hooks import HookResult, HookRunner, validate_hooks
from certsmith.renewal.key_change import KeyTypeChange, key_type_change, private_key_type
from certsmith.renewal.settings import SettingOverrides
from certsmith.storage.filesystem import written_folders
from certsmith.storage.interface import LineageStorage


def _announce_wait(
    lineages: LineageStorage, name: str, console: Console, timeout: float | None
) -> None:
    """Say at once when another run holds the lineage's lock (the engine then waits for it)."""
    try:
        with lineages.lock(name, blocking=False):
            return
    except LockHeld:
        console.note(console.message("lock.waiting", name=name, seconds=f"{timeout or 0:g}"))


def _identifiers(options: CertonlyOptions) -> tuple[Identifier, ...]:
    names = [*options.domains, *options.ip_addresses]
    if not names:
        names = list(make_prompter(options.common.non_interactive).ask_domains())
    identifiers = crypto.normalize_names(names)
    unique = tuple(dict.fromkeys(identifiers))
    if not unique:
        raise usage_error("usage.no_domain")
    return unique


def lineage_name(identifiers: tuple[Identifier, ...]) -> str:
    """certbot names a lineage after its first name, without a wildcard's `*.`."""
    return identifiers[0].value.removeprefix("*.")


# The longest file name most file systems take (NAME_MAX); renewal/NAME.conf must fit in it.
MAX_FILE_NAME = 255


def _check_before_writing(
    options: CertonlyOptions, name: str, identifiers: tuple[Identifier, ...]
) -> None:
    """Refuse what cannot work before any file (lock, account) is written."""
    if len(os.fsencode(name)) + len(".conf") > MAX_FILE_NAME:
        raise usage_error("usage.cert_name_too_long", name=name[:40])
    wildcards = [i.value for i in identifiers if i.is_wildcard]
    authenticator = options.challenge.authenticator
    if not wildcards or authenticator is None:
        return
    preferred = options.challenge.preferred_challenges
    can_dns = authenticator == "manual" or str(authenticator).startswith("dns-")
    dns_types = ("dns-01", "dns-account-01", "dns-persist-01")
    if not can_dns or (preferred and not any(m in preferred for m in dns_types)):
        raise usage_error("usage.wildcard_needs_dns", name=wildcards[0])


def request_for(
    options: CertonlyOptions, name: str, identifiers: tuple[Identifier, ...], exists: bool
) -> LineageRequest:
    """The engine request of one certonly command line."""
    c, h = options.common, options.hooks
    overrides = common.setting_overrides(
        c, options.key, options.challenge, h, options.issuance, options.account, identifiers
    )
    if not exists and options.challenge.authenticator is None:
        raise usage_error("usage.no_authenticator")
    # certbot reuses the key only when this command line says --reuse-key, and stores what it
    # says (a later certonly without it drops reuse_key: main.py, renewal.renew_cert).
    overrides = dataclasses.replace(overrides, reuse_key=bool(options.key.reuse_key))
    if options.cert_name:
        change = NamesChange.REPLACE
    else:
        change = NamesChange.EXPAND if options.expand else NamesChange.REFUSE
    run = isinstance(options, RunOptions)
    return LineageRequest(
        name,
        identifiers,
        overrides=overrides.merged(common.installer_overrides(options.installer)),
        new_lineage=SettingOverrides(server=c.server, key_type=options.key.effective_key_type),
        names_change=change,
        force=options.issuance.force_renewal,
        dry_run=options.issuance.dry_run,
        preflight=options.issuance.preflight,
        break_my_certs=options.issuance.break_my_certs,
        check_points_here=True,
        lock_timeout=60.0,
        # As in certbot, the hooks given now (flags or cli.ini), not the renewal conf's.
        hooks=HookCommands(h.pre_hook, h.post_hook, h.deploy_hook),
        count_replaced_as_renewed=False,  # certbot 5.8: only a new lineage counts
        install=run,  # certonly records -i/--nginx for renew but installs nothing (certbot)
        enhancements=options.installer.enhancements if run else (),
    )


def _check_key_type_change(
    options: CertonlyOptions,
    lineages: LineageStorage,
    name: str,
    prompter: Prompter,
    console: Console,
) -> None:
    """certbot's rule (renewal/key_change.py): --key-type that changes an existing lineage's
    key type needs --cert-name too, or a person's yes."""
    requested = options.key.key_type
    if requested is None:  # not given: the lineage keeps its type (nothing to read)
        return
    current = private_key_type(lineages.load(name).private_key_pem())
    change = key_type_change(current, requested, named=options.cert_name is not None)
    if change is not KeyTypeChange.ASK:
        return
    values = {"name": name, "old": current.upper(), "new": requested.upper()}
    question = console.message("prompt.key_type_change", **values)
    if not (prompter.interactive and prompter.confirm(question, default=False)):
        raise usage_error("usage.key_type_change", **values)


def _uses_web_server(options: CertonlyOptions) -> bool:
    names = (options.installer.name, options.challenge.authenticator)
    return any(n in ("nginx", "apache") for n in names)


def certonly(options: CertonlyOptions, console: Console) -> int:
    if options.csr is not None:
        from certsmith.cli.cmd_csr import certonly_csr

        return certonly_csr(options, options.csr, console)
    if options.hooks.validate_hooks:
        h = options.hooks
        validate_hooks(pre_hook=h.pre_hook, post_hook=h.post_hook, deploy_hook=h.deploy_hook)
    identifiers = _identifiers(options)
    name = options.cert_name or lineage_name(identifiers)
    _check_before_writing(options, name, identifiers)
    c = options.common
    check_writable([*written_folders(c.config_dir), c.work_dir])
    prompter = make_prompter(options.common.non_interactive)
    if (
        options.challenge.authenticator == "manual"
        and not options.challenge.manual_auth_hook
        and not prompter.interactive
    ):
        raise usage_error(MANUAL_NEEDS_TTY)  # before the CA is contacted or a file written
    events = common.CliEvents(console, prompter, options.account)
    factory = common.installer_factory(options.common) if _uses_web_server(options) else None
    env = common.environment(options.common, events, installers=factory)
    if not options.issuance.self_check:
        env = dataclasses.replace(env, manual_self_check=False)
    if options.duplicate and env.stores.lineages.exists(name):
        # certbot's --duplicate: NAME-0001; the one a killed --duplicate was creating, if any.
        unfinished = keep_issued.unfinished_duplicate(env.stores, name, identifiers)
        name = unfinished or env.stores.lineages.available_name(name)
    exists = env.stores.lineages.exists(name)
    if exists:
        _check_key_type_change(options, env.stores.lineages, name, prompter, console)
    request = request_for(options, name, identifiers, exists)
    _announce_wait(env.stores.lineages, name, console, request.lock_timeout)
    reload_errors: list[CertsmithError] = []
    diffs: list[str | None] = []  # run --dry-run: what the installer would write
    hooks = HookRunner(
        config_dir=options.common.config_dir,
        directory_hooks=options.hooks.directory_hooks,
        dry_run=options.issuance.dry_run,
        run_deploy_hooks=options.hooks.run_deploy_hooks,
    )

    async def run() -> LineageResult:
        async with Engine(env, hooks, common.registration(options.account)) as engine:
            try:
                result = await engine.obtain_lineage(request)
                if request.dry_run and request.install and _uses_web_server(options):
                    diffs.append(await engine.preview_install(request))
                if result.outcome is Outcome.NOT_DUE and request.install:
                    # certbot's run keeps a certificate that is not due and installs it again
                    await engine.install_lineage(
                        name, request.overrides, options.installer.enhancements
                    )
                return result
            finally:
                reload_errors.extend(await engine.reload_servers())
                await hooks.finish_async()

    with env.stores.guard():
        result = asyncio.run(run())
    for diff in diffs:
        show_preview(console, name, diff)
    _report(options, console, result, env.stores.lineages.live_paths(name))
    for error in reload_errors:
        console.explain(error)
    if reload_errors:
        return 1
    if request.install and not request.dry_run and options.installer.name not in (None, "null"):
        console.say(console.message("certonly.installed", installer=options.installer.name))
    say_hook_failures(console, hooks.failures)  # as certbot: a failed hook never fails certonly
    return 0


def say_hook_failures(
    console: Console, failures: Sequence[HookResult], key: str = "hooks.failed_went_on"
) -> None:
    """One line per failed hook, naming it and how it failed (``key``: the sentence)."""
    for failure in failures:
        outcome = failure.outcome
        if outcome.timed_out:
            how = console.message("hooks.how.timeout")
        elif outcome.error is not None:
            how = console.message("hooks.how.error", error=outcome.error)
        else:
            how = console.message("hooks.how.exit", code=outcome.returncode)
        kind, command = failure.kind.value, failure.command
        console.note(console.message(key, kind=kind, command=command, how=how))


def show_preview(console: Console, name: str, diff: str | None) -> None:
    """--dry-run: the diff on stdout, then one sentence (nothing was changed)."""
    if diff:
        console.data(diff)
        console.say(console.message("install.preview.changes", name=name))
    else:
        console.say(console.message("install.preview.nothing", name=name))


def _report(
    options: CertonlyOptions, console: Console, result: LineageResult, paths: Mapping[str, Path]
) -> None:
    if result.outcome is Outcome.NOT_DUE:
        console.say(console.message("certonly.not_due", fullchain=paths["fullchain"]))
        return
    for note in result.notes:
        console.note(note)
    if result.lineage is None:
        console.say(console.message("certonly.dry_run_ok"))
        return
    cert = result.lineage.certificate()
    expires = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    received = console.message(
        "certonly.received", fullchain=paths["fullchain"], privkey=paths["privkey"], expires=expires
    )
    console.say(received + "\n" + _renewal_sentence(console, result))
    if result.replaced:
        console.say(console.message("certonly.replaces", ari_id=result.replaced))


def _renewal_sentence(console: Console, result: LineageResult) -> str:
    """How it will be renewed: on schedule, or (--manual without a hook) only by hand."""
    from certsmith.renewal.manual_policy import renews_unattended

    if result.lineage is not None and not renews_unattended(result.lineage.conf):
        return console.message("manual.renew_by_hand")
    return console.message("renew.scheduled")
