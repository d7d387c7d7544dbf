"""`certsmith renew`: renew every lineage that is due (or only --cert-name), in parallel."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import random
import sys
import time

from certsmith.cli.console import Console
from certsmith.cli.options import RenewOptions
from certsmith.cli.renew_report import say_certbot_block, skipped_lineages
from certsmith.cli.renew_summary import RenewSummary, say_summary
from certsmith.cli.run_history import record_not_due, record_results
from certsmith.cli.usage import usage_error
from certsmith.errors import LockHeld
from certsmith.renewal.check import Verdict, quick_verdict
from certsmith.storage.filesystem import file_stores
from certsmith.storage.interface import Stores

log = logging.getLogger(__name__)

MAX_RANDOM_SLEEP = 480.0  # seconds, as certbot: spreads cron-started renewals over 8 minutes


def renew(options: RenewOptions, console: Console) -> int:
    h = options.hooks
    if h.validate_hooks and (h.pre_hook or h.post_hook or h.deploy_hook):
        from certsmith.renewal.hooks import validate_hooks  # not on the fast path without hooks

        validate_hooks(pre_hook=h.pre_hook, post_hook=h.post_hook, deploy_hook=h.deploy_hook)
    started = time.monotonic()
    stores = file_stores(options.common.config_dir)
    _finish_deletions(stores)
    names = stores.lineages.names()
    if options.cert_name:
        if options.cert_name not in names:
            raise usage_error("usage.no_such_certificate", name=repr(options.cert_name))
        names = [options.cert_name]
    if not names:
        console.say(console.message("renew.none_found"))
        if not options.json:
            say_certbot_block(console, [], attempted=False, hooks_given=_hooks_given(options))
        return 0
    every = options.issuance.force_renewal or options.issuance.dry_run
    if not every:
        # The fast path: decided from small cached files, without the ACME engine's imports.
        now = datetime.datetime.now(datetime.UTC)
        # Two stats per unchanged lineage (the index); the first that needs more hands the
        # rest to the engine, so no conf or verdict of a large fleet is held here.
        verdicts: list[Verdict] = []
        for name in names:
            verdict = quick_verdict(stores, name, now)
            if verdict.due is not False or verdict.ask_ca is not None:
                break
            verdicts.append(verdict)
        kept = stores.pending.names() if stores.pending is not None else []
        if len(verdicts) == len(names) and not kept:
            stores.states.flush()  # index entries of an older version completed by the check
            record_not_due(stores, len(verdicts), started)
            return _report_not_due(options, console, stores, verdicts, started)
        known = {v.name: v for v in verdicts}
        return _renew_with_engine(options, console, stores, names, known, started)
    return _renew_with_engine(options, console, stores, names, {}, started)


def _report_not_due(
    options: RenewOptions, console: Console, stores: Stores, verdicts: list[Verdict], started: float
) -> int:
    if options.common.verbose and not options.json:
        for verdict in verdicts:
            console.say(console.message("renew.not_due", name=verdict.name, reason=verdict.reason))
    if not options.json and not console.quiet:
        skipped = skipped_lineages(stores, [v.name for v in verdicts])
        say_certbot_block(console, skipped, attempted=False, hooks_given=_hooks_given(options))
    summary = RenewSummary(checked=len(verdicts), not_due=len(verdicts))
    say_summary(console, summary, started, options.json)
    return 0


def _finish_deletions(stores: Stores) -> None:
    """Remove what a `delete` killed midway left of a lineage no longer listed (live/ and
    archive/ files that would stop certbot, or a new certonly, from using the name)."""
    unfinished = stores.lineages.interrupted_deletions()
    if not unfinished:
        return
    try:
        with stores.guard():
            for name in unfinished:
                with stores.lineages.lock(name, timeout=30):
                    stores.lineages.delete(name)
                stores.states.delete(name)
                log.warning("%s: finished a deletion an interrupted run had begun", name)
    except LockHeld as exc:  # certbot or another run holds it: the next run finishes
        log.warning("could not finish an interrupted deletion: %s", exc)
    stores.states.flush()


def _renew_with_engine(
    options: RenewOptions,
    console: Console,
    stores: Stores,
    names: list[str],
    known: dict[str, Verdict],
    started: float,
) -> int:
    from certsmith.cli import common
    from certsmith.cli.prompt import make_prompter
    from certsmith.renewal.hooks import HookRunner
    from certsmith.renewal.runner import Outcome, Renewer, RenewPlan

    c = options.common
    overrides = common.setting_overrides(
        c, options.key, options.challenge, options.hooks, options.issuance, options.account
    ).merged(common.installer_overrides(options.installer))
    plan = RenewPlan(
        overrides=overrides,
        force=options.issuance.force_renewal,
        dry_run=options.issuance.dry_run,
        parallel=options.parallel,
        preflight=options.issuance.preflight,
        break_my_certs=options.issuance.break_my_certs,
        first_renewal_delay=random_sleep_seconds(options, random.Random()),
    )
    if options.ari_fetch_limit is not None:
        plan = dataclasses.replace(plan, ari_fetch_limit=options.ari_fetch_limit)
    hooks = HookRunner(
        config_dir=options.common.config_dir,
        directory_hooks=options.hooks.directory_hooks,
        dry_run=options.issuance.dry_run,
        run_deploy_hooks=options.hooks.run_deploy_hooks,
    )
    events = common.CliEvents(console, make_prompter(True), options.account, ask_email=False)
    # Installers are imported only when a lineage names one (most renewals install nowhere).
    installers = common.lazy_installer_factory(c)
    env = common.environment(c, events, stores=stores, installers=installers)
    if not options.issuance.self_check:  # --no-self-check
        env = dataclasses.replace(env, manual_self_check=False)
    renewer = Renewer(env, plan, hooks, common.registration(options.account))
    helper = None
    if not (options.issuance.force_renewal or options.issuance.dry_run):
        from certsmith.renewal.helper_process import start_helper

        unknown = [n for n in names if n not in known]
        helper = start_helper(renewer, unknown)
    with stores.guard():
        results = asyncio.run(renewer.run(names, known, helper))
    counts = {outcome: 0 for outcome in Outcome}
    for result in results:
        counts[result.outcome] += 1
        if result.outcome == Outcome.RENEWED:
            done = "renew.dry_run_ok" if options.issuance.dry_run else "renew.renewed"
            console.say(console.message(done, name=result.name, reason=result.reason))
            if result.replaced:
                console.say(
                    console.message("renew.replaces", name=result.name, ari_id=result.replaced)
                )
        elif result.outcome == Outcome.FAILED and result.error is not None:
            console.note(console.message("renew.failed", name=result.name))
            console.explain(result.error)
        elif result.outcome == Outcome.LOCKED:
            console.note(console.message("renew.locked", name=result.name))
        elif options.common.verbose and not options.json:
            console.say(console.message("renew.not_due", name=result.name, reason=result.reason))
        for note in result.notes:
            console.note(console.message("renew.note", name=result.name, note=note))
    if not options.json and not console.quiet:
        not_due = [r.name for r in results if r.outcome == Outcome.NOT_DUE]
        attempted = bool(counts[Outcome.RENEWED] or counts[Outcome.FAILED])
        skipped = skipped_lineages(stores, not_due)
        say_certbot_block(console, skipped, attempted=attempted, hooks_given=_hooks_given(options))
    summary = RenewSummary(
        checked=len(results),
        due=len(results) - counts[Outcome.NOT_DUE],
        renewed=counts[Outcome.RENEWED],
        not_due=counts[Outcome.NOT_DUE],
        failed=counts[Outcome.FAILED],
        locked=counts[Outcome.LOCKED],
        ari_asked=renewer.ari_asked,
        ari_deferred=renewer.ari_deferred,
    )
    say_summary(console, summary, started, options.json)
    for error in renewer.reload_errors:
        console.explain(error)
    hook_failed = bool(hooks.failures) or bool(renewer.reload_errors)
    errors = [str(e) for e in renewer.reload_errors] + [f"hook failed: {f}" for f in hooks.failures]
    record_results(
        stores,
        results,
        started,
        errors=errors,
        dry_run=options.issuance.dry_run,
        forced=options.issuance.force_renewal,
    )
    from certsmith.cli.notify_hook import alert_after_renew  # never fails the run

    dry_run = options.issuance.dry_run
    alert_after_renew(
        console, c.config_dir, stores.lineages, results, accounts=stores.accounts, dry_run=dry_run
    )
    if hook_failed:
        from certsmith.cli.cmd_certonly import say_hook_failures

        say_hook_failures(console, hooks.failures, "hooks.failed_in_renew")
        console.error(console.message("hooks.failed_short", count=len(hooks.failures)))
    return 1 if counts[Outcome.FAILED] or hook_failed else 0


def _hooks_given(options: RenewOptions) -> bool:
    h = options.hooks
    return bool(h.pre_hook or h.deploy_hook or h.post_hook)


def random_sleep_seconds(options: RenewOptions, rng: random.Random) -> float:
    """certbot sleeps up to 8 minutes before renewing when run without a terminal (cron)."""
    if not options.random_sleep or sys.stdin.isatty():
        return 0.0
    return rng.uniform(1.0, MAX_RANDOM_SLEEP)
