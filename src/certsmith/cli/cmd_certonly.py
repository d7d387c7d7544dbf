"""`certsmith certonly`: obtain (or replace) one certificate and save it as a lineage."""

from __future__ import annotations

import asyncio
import datetime
import os

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.options import CertonlyOptions
from certsmith.cli.prompt import make_prompter
from certsmith.errors import UsageError
from certsmith.renewal.account import find_stored_account
from certsmith.renewal.hooks import HookRunner, validate_hooks
from certsmith.renewal.lifecycle import CertificateJob, JobOutcome, run_job, settings_from_conf
from certsmith.renewal.settings import LineageSettings
from certsmith.storage import Lineage, LineageStore
from certsmith.storage.locks import excluding_certbot


def _identifiers(options: CertonlyOptions, console: Console) -> tuple[Identifier, ...]:
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


def _existing(store: LineageStore, name: str) -> Lineage | None:
    if not store.conf_path(name).exists():
        return None
    return store.load(name)


def _check_names(
    options: CertonlyOptions, previous: Lineage | None, identifiers: tuple[Identifier, ...]
) -> None:
    if previous is None or set(previous.identifiers) == set(identifiers):
        return
    if options.cert_name or (options.expand and set(previous.identifiers) <= set(identifiers)):
        return
    old = ", ".join(i.value for i in previous.identifiers)
    raise UsageError(
        f"Certificate {previous.name!r} exists with other names ({old}); pass --expand to add "
        f"names, or --cert-name {previous.name} to replace its names."
    )


def _not_due(previous: Lineage, now: datetime.datetime) -> bool:
    cert = previous.certificate()
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - now > lifetime / 3


def _settings(
    options: CertonlyOptions, previous: Lineage | None, ids: tuple[Identifier, ...]
) -> LineageSettings:
    base = settings_from_conf(previous.conf) if previous else LineageSettings()
    overrides = common.setting_overrides(
        options.common, options.key, options.challenge, options.hooks, options.issuance, ids
    )
    overrides["account"] = options.account.account  # --account ID (None: the stored one)
    if previous is None:
        overrides["server"] = options.common.server
        overrides["key_type"] = options.key.effective_key_type
    settings = base.with_overrides(**overrides)
    if previous is None and options.challenge.authenticator is None:
        raise UsageError(
            "Say how to prove control of the names: --standalone, --webroot -w PATH, --manual, "
            "or a --dns-* plugin."
        )
    return settings


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


def certonly(options: CertonlyOptions, console: Console) -> int:
    if options.hooks.validate_hooks:
        h = options.hooks
        validate_hooks(pre_hook=h.pre_hook, post_hook=h.post_hook, deploy_hook=h.deploy_hook)
    identifiers = _identifiers(options, console)
    name = options.cert_name or lineage_name(identifiers)
    _check_before_writing(options, name, identifiers)
    store = LineageStore(options.common.config_dir)
    with excluding_certbot(options.common.config_dir), store.lock(name, timeout=60):
        previous = _existing(store, name)
        _check_names(options, previous, identifiers)
        now = datetime.datetime.now(datetime.UTC)
        if (
            previous is not None
            and set(previous.identifiers) == set(identifiers)
            and not options.issuance.force_renewal
            and not options.issuance.dry_run
            and _not_due(previous, now)
        ):
            console.say(
                f"Certificate not yet due for renewal; no action taken.\n"
                f"The certificate is at {previous.live_paths['fullchain']}."
            )
            return 0
        settings = _settings(options, previous, identifiers)
        hooks = _hook_runner(options)
        hooks.before_renewal(pre_hook=options.hooks.pre_hook, post_hook=options.hooks.post_hook)
        try:
            outcome = _obtain(options, console, name, identifiers, settings, previous)
            _report(options, console, outcome, name)
            _deploy(options, hooks, outcome, previous, identifiers)
        finally:
            hooks.finish()
    if hooks.failures:
        console.error(f"{len(hooks.failures)} hook(s) failed; see the log for their output.")
        return 1
    return 0


def _hook_runner(options: CertonlyOptions) -> HookRunner:
    """The hooks of one certonly run. As in certbot, the hooks are the ones given now (flags or
    cli.ini), not those stored in an existing lineage's renewal conf."""
    return HookRunner(
        config_dir=options.common.config_dir,
        directory_hooks=options.hooks.directory_hooks,
        dry_run=options.issuance.dry_run,
        run_deploy_hooks=options.hooks.run_deploy_hooks,
    )


def _deploy(
    options: CertonlyOptions,
    hooks: HookRunner,
    outcome: JobOutcome,
    previous: Lineage | None,
    identifiers: tuple[Identifier, ...],
) -> None:
    """certbot 5.8: deploy hooks after a new lineage or a replaced one; in a dry run only for an
    existing lineage and only with --run-deploy-hooks (on the certificate deployed now). Only a
    new lineage counts in the post hooks' RENEWED_DOMAINS."""
    deploy_hook = options.hooks.deploy_hook
    if outcome.lineage is not None:
        hooks.deploy(
            lineage_dir=outcome.lineage.live_dir,
            domains=[i.value for i in outcome.lineage.identifiers],  # what was issued
            deploy_hook=deploy_hook,
            count_as_renewed=previous is None,
        )
    elif previous is not None:  # a dry run of an existing lineage
        hooks.deploy(
            lineage_dir=previous.live_dir,
            domains=[i.value for i in identifiers],
            deploy_hook=deploy_hook,
            count_as_renewed=False,
        )


def _obtain(
    options: CertonlyOptions,
    console: Console,
    name: str,
    identifiers: tuple[Identifier, ...],
    settings: LineageSettings,
    previous: Lineage | None,
) -> JobOutcome:
    prompter = make_prompter(options.common.non_interactive)
    has_account = find_stored_account(options.common.config_dir, settings.server) is not None
    registration = common.registration(options.account, prompter, needs_email=not has_account)
    job = CertificateJob(
        name=name,
        identifiers=identifiers,
        settings=settings,
        dry_run=options.issuance.dry_run,
        previous=previous,
    )
    check = None
    if options.issuance.preflight:
        check = common.preflight(options.common, console, settings.authenticator == "standalone")
    env = common.environment(options.common)
    context = common.solver_context(prompter, console)
    report = common.probe_reporter(console) if options.issuance.preflight else None
    return asyncio.run(run_job(env, job, registration, context, check, report))


def _report(options: CertonlyOptions, console: Console, outcome: JobOutcome, name: str) -> None:
    for note in outcome.notes:
        console.note(note)
    if outcome.lineage is None:
        console.say("The dry run was successful.")
        return
    paths = common.live_paths(options.common.config_dir, name)
    cert = outcome.lineage.certificate()
    expires = cert.not_valid_after_utc.strftime("%Y-%m-%d")
    console.say(
        "Successfully received certificate.\n"
        f"Certificate is saved at: {paths['fullchain']}\n"
        f"Key is saved at:         {paths['privkey']}\n"
        f"This certificate expires on {expires}.\n"
        "certsmith renews it on schedule when `certsmith renew` runs (from cron or a timer)."
    )
    if outcome.replaced:
        console.say(f"It replaces the previous certificate (ARI id {outcome.replaced}).")
