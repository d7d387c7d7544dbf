"""`certsmith certonly`: obtain (or replace) one certificate and save it as a lineage."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.options import CertonlyOptions
from certsmith.cli.prompt import make_prompter
from certsmith.errors import UsageError
from certsmith.renewal.engine import (
    Engine,
    HookCommands,
    LineageRequest,
    LineageResult,
    NamesChange,
    Outcome,
)
from certsmith.renewal.hooks import HookRunner, validate_hooks
from certsmith.renewal.settings import SettingOverrides


def _identifiers(options: CertonlyOptions) -> tuple[Identifier, ...]:
    names = [*options.domains, *options.ip_addresses]
    if not names:
        names = list(make_prompter(options.common.non_interactive).ask_domains())
    identifiers = crypto.normalize_names(names)
    unique = tuple(dict.fromkeys(identifiers))
    if not unique:
        raise UsageError("No domain given; pass -d NAME.")
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
        raise UsageError(
            f"The certificate name {name[:40]}... is too long for a file name; pass a shorter "
            "--cert-name."
        )
    wildcards = [i.value for i in identifiers if i.is_wildcard]
    authenticator = options.challenge.authenticator
    if not wildcards or authenticator is None:
        return
    preferred = options.challenge.preferred_challenges
    can_dns = authenticator == "manual" or str(authenticator).startswith("dns-")
    if not can_dns or (preferred and "dns-01" not in preferred):
        raise UsageError(
            f"The wildcard {wildcards[0]} can only be validated with dns-01; use --manual or a "
            "--dns-* plugin (with dns in --preferred-challenges)."
        )


def request_for(
    options: CertonlyOptions, name: str, identifiers: tuple[Identifier, ...], exists: bool
) -> LineageRequest:
    """The engine request of one certonly command line."""
    c, h = options.common, options.hooks
    overrides = common.setting_overrides(
        c, options.key, options.challenge, h, options.issuance, options.account, identifiers
    )
    if not exists and options.challenge.authenticator is None:
        raise UsageError(
            "Say how to prove control of the names: --standalone, --webroot -w PATH, --manual, "
            "or a --dns-* plugin."
        )
    if options.cert_name:
        change = NamesChange.REPLACE
    else:
        change = NamesChange.EXPAND if options.expand else NamesChange.REFUSE
    return LineageRequest(
        name,
        identifiers,
        overrides=overrides,
        new_lineage=SettingOverrides(server=c.server, key_type=options.key.effective_key_type),
        names_change=change,
        force=options.issuance.force_renewal,
        dry_run=options.issuance.dry_run,
        preflight=options.issuance.preflight,
        check_points_here=True,
        lock_timeout=60.0,
        # As in certbot, the hooks given now (flags or cli.ini), not the renewal conf's.
        hooks=HookCommands(h.pre_hook, h.post_hook, h.deploy_hook),
        count_replaced_as_renewed=False,  # certbot 5.8: only a new lineage counts
    )


def certonly(options: CertonlyOptions, console: Console) -> int:
    if options.hooks.validate_hooks:
        h = options.hooks
        validate_hooks(pre_hook=h.pre_hook, post_hook=h.post_hook, deploy_hook=h.deploy_hook)
    identifiers = _identifiers(options)
    name = options.cert_name or lineage_name(identifiers)
    _check_before_writing(options, name, identifiers)
    prompter = make_prompter(options.common.non_interactive)
    env = common.environment(options.common, common.CliEvents(console, prompter, options.account))
    request = request_for(options, name, identifiers, env.stores.lineages.exists(name))
    hooks = HookRunner(
        config_dir=options.common.config_dir,
        directory_hooks=options.hooks.directory_hooks,
        dry_run=options.issuance.dry_run,
        run_deploy_hooks=options.hooks.run_deploy_hooks,
    )

    async def run() -> LineageResult:
        async with Engine(env, hooks, common.registration(options.account)) as engine:
            try:
                return await engine.obtain_lineage(request)
            finally:
                await hooks.finish_async()

    with env.stores.guard():
        result = asyncio.run(run())
    _report(options, console, result, env.stores.lineages.live_paths(name))
    if hooks.failures:
        console.error(f"{len(hooks.failures)} hook(s) failed; see the log for their output.")
        return 1
    return 0


def _report(
    options: CertonlyOptions, console: Console, result: LineageResult, paths: Mapping[str, Path]
) -> None:
    if result.outcome is Outcome.NOT_DUE:
        console.say(
            "Certificate not yet due for renewal; no action taken.\n"
            f"The certificate is at {paths['fullchain']}."
        )
        return
    for note in result.notes:
        console.note(note)
    if result.lineage is None:
        console.say("The dry run was successful.")
        return
    cert = result.lineage.certificate()
    expires = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    console.say(
        "Successfully received certificate.\n"
        f"Certificate is saved at: {paths['fullchain']}\n"
        f"Key is saved at:         {paths['privkey']}\n"
        f"This certificate expires on {expires}.\n"
        "certsmith renews it on schedule when `certsmith renew` runs (from cron or a timer)."
    )
    if result.replaced:
        console.say(f"It replaces the previous certificate (ARI id {result.replaced}).")
