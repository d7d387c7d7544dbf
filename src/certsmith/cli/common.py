"""Pieces every engine-backed command shares: the run environment, account registration,
lineage settings from flags, the pre-flight hook and the manual-challenge display."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from certsmith import __version__
from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.manual import ManualInstructions
from certsmith.cli.console import Console
from certsmith.cli.options import (
    AccountOptions,
    ChallengeOptions,
    CommonOptions,
    HookOptions,
    IssuanceOptions,
    KeyOptions,
)
from certsmith.cli.prompt import Prompter
from certsmith.errors import PreflightFailed, UsageError
from certsmith.preflight.checks import CheckResult
from certsmith.renewal.account import Registration
from certsmith.renewal.lifecycle import Preflight, ProbeReport, RunEnvironment
from certsmith.renewal.servers import ServerPool
from certsmith.renewal.solvers import SolverContext

USER_AGENT = f"certsmith/{__version__}"


def environment(common: CommonOptions) -> RunEnvironment:
    return RunEnvironment(config_dir=common.config_dir, user_agent=USER_AGENT)


def dns_resolver_text(common: CommonOptions) -> str | None:
    if common.dns_resolver is None:
        return None
    host, port = common.dns_resolver
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def registration(account: AccountOptions, prompter: Prompter, needs_email: bool) -> Registration:
    """What a new account needs; the e-mail is asked only when an account must be made."""
    email = account.email
    if needs_email and not email and not account.register_unsafely_without_email:
        email = prompter.ask_email()

    async def agree(url: str | None) -> bool:
        if account.agree_tos:
            return True
        prompter.ask_tos(url or "(no link given by the CA)")
        return True

    eab = None
    if account.eab_kid or account.eab_hmac_key:
        if not (account.eab_kid and account.eab_hmac_key):
            raise UsageError("External Account Binding needs both --eab-kid and --eab-hmac-key.")
        from certsmith.acme import ExternalAccountBinding

        try:
            key = base64.urlsafe_b64decode(
                account.eab_hmac_key + "=" * (-len(account.eab_hmac_key) % 4)
            )
        except ValueError:
            raise UsageError(
                "--eab-hmac-key is not base64url; copy it exactly as the CA gave it."
            ) from None
        eab = ExternalAccountBinding(account.eab_kid, key, account.eab_hmac_alg)
    return Registration(email=email, agree_tos=agree, eab=eab)


def setting_overrides(
    common: CommonOptions,
    key: KeyOptions,
    challenge: ChallengeOptions,
    hooks: HookOptions,
    issuance: IssuanceOptions,
    identifiers: Sequence[Identifier] = (),
) -> dict[str, Any]:
    """LineageSettings fields given on the command line (None = not given)."""
    webroot_map: dict[str, str] | None = None
    if challenge.webroot_paths or challenge.webroot_map:  # -w and/or --webroot-map
        webroot_map = {}
        for ident in identifiers:
            path = challenge.webroot_for(ident.value)
            if path is not None:
                webroot_map[ident.value] = str(path)
        for name, path in challenge.webroot_map:
            webroot_map.setdefault(name, str(path))
    webroot_default = None
    if not identifiers and challenge.webroot_paths and not webroot_map:
        # `renew -w PATH`: certbot applies a bare -w to every name of each lineage.
        webroot_default, webroot_map = str(challenge.webroot_paths[-1]), None
    server_given = "server" in common.set_on_command_line or common.staging
    return {
        "server": common.server if server_given else None,
        "authenticator": str(challenge.authenticator) if challenge.authenticator else None,
        "key_type": key.key_type,
        "rsa_key_size": key.rsa_key_size,
        "elliptic_curve": key.elliptic_curve,
        "reuse_key": False if key.new_key else key.reuse_key,
        # Not giving the flag keeps what the lineage stored; certbot has no --no- form either.
        "allow_subset_of_names": True if issuance.allow_subset_of_names else None,
        "preferred_chain": issuance.preferred_chain,
        "preferred_profile": issuance.preferred_profile,
        "required_profile": issuance.required_profile,
        "pref_challs": tuple(challenge.preferred_challenges) or None,
        "webroot_map": webroot_map,
        "webroot_default": webroot_default,
        "http01_port": challenge.http01_port,
        "http01_address": challenge.http01_address,
        "tls_alpn_port": challenge.tls_alpn01_port,
        "manual_auth_hook": challenge.manual_auth_hook,
        "manual_cleanup_hook": challenge.manual_cleanup_hook,
        "pre_hook": hooks.pre_hook,
        "post_hook": hooks.post_hook,
        "renew_hook": hooks.deploy_hook,
        "autorenew": issuance.autorenew,
        "dns_credentials": str(challenge.dns_credentials) if challenge.dns_credentials else None,
        "ca_bundle": str(common.ca_bundle) if common.ca_bundle else None,
        "dns_resolver": dns_resolver_text(common),
    }


def solver_context(prompter: Prompter, console: Console) -> SolverContext:
    async def show(task: ChallengeTask, instructions: ManualInstructions) -> None:
        console.say(instructions.render())
        await asyncio.to_thread(prompter.wait_for_enter, "Press Enter to continue")

    return SolverContext(show_instructions=show, servers=ServerPool())


def preflight(common: CommonOptions, console: Console, standalone: bool) -> Preflight:
    """Checks run before the order: a failure stops before any rate-limit budget is spent."""

    async def check(
        identifiers: Sequence[Identifier],
        methods: Sequence[str],
        caa_identities: Sequence[str],
        dns_resolver: str | None = None,
    ) -> None:
        from certsmith.dnsutil import make_resolver
        from certsmith.preflight import run_preflight

        results = await run_preflight(
            identifiers,
            methods[0] if methods else "http-01",
            list(caa_identities),
            # The lineage's saved --dns-resolver (renew) unless one was given now.
            resolver=make_resolver(dns_resolver_text(common) or dns_resolver),
            standalone=standalone,
        )
        blocking = [r for r in results if r.blocking]
        for result in results:
            if not result.ok and not result.blocking:
                console.note(f"Warning: {result.message}")
        if blocking:
            lines = [r.message + (f" {r.next_step}" if r.next_step else "") for r in blocking]
            raise PreflightFailed("\n".join(lines))

    return check


def probe_reporter(console: Console) -> ProbeReport:
    """Prints what the http-01 probe saw when it is not what the CA must see (a warning)."""

    def report(results: list[CheckResult]) -> None:
        for result in results:
            if not result.ok:
                hint = f" {result.next_step}" if result.next_step else ""
                console.note(f"Warning: {result.message}{hint}")
                console.note(
                    "  (Checked from this machine; behind NAT the CA may still get through.)"
                )

    return report


def live_paths(config_dir: Path, name: str) -> dict[str, Path]:
    live = config_dir / "live" / name
    return {kind: live / f"{kind}.pem" for kind in ("cert", "privkey", "chain", "fullchain")}
