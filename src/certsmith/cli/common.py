"""Pieces every engine-backed command shares: the run environment (stores built once), the
events the engine reports through (prompts, warnings), and the settings given as flags."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from certsmith import __version__
from certsmith.acme.identifier import Identifier
from certsmith.cli.console import Console
from certsmith.cli.manual_text import ask_after_self_check, manual_text
from certsmith.cli.options import (
    AccountOptions,
    ChallengeOptions,
    CommonOptions,
    HookOptions,
    InstallerOptions,
    IssuanceOptions,
    KeyOptions,
)
from certsmith.cli.prompt import Prompter
from certsmith.cli.usage import usage_error
from certsmith.renewal.account import Registration
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.events import EngineEvents, QuietEvents
from certsmith.renewal.install import Installer, InstallerFactory
from certsmith.renewal.settings import SettingOverrides
from certsmith.storage.filesystem import file_stores
from certsmith.storage.interface import Stores

if TYPE_CHECKING:  # annotations only: pre-flight (dnspython) loads when a check runs
    from certsmith.challenges.base import ChallengeTask
    from certsmith.challenges.manual import ManualInstructions, SelfCheckChoice
    from certsmith.challenges.selfcheck import SelfCheckFailure
    from certsmith.preflight.checks import CheckResult


USER_AGENT = f"certsmith/{__version__}"


class CliEvents:
    """The engine's events on a terminal: prompts through the prompter (which refuses when
    there is no terminal), warnings on stderr. ``ask_email`` False: a new account without
    --email gets no contact (renew, as before: nobody is there to ask)."""

    def __init__(
        self,
        console: Console,
        prompter: Prompter,
        account: AccountOptions,
        *,
        ask_email: bool = True,
    ) -> None:
        self._console, self._prompter, self._account = console, prompter, account
        self._ask_email = ask_email

    async def agree_to_terms(self, url: str | None) -> bool:
        if self._account.agree_tos:
            return True
        no_link = self._console.message("prompt.terms.no_link")
        self._prompter.ask_tos(url or no_link)  # UsageError when refused
        return True

    def registration_email(self) -> str | None:
        if self._account.email or self._account.register_unsafely_without_email:
            return self._account.email
        if not self._ask_email:
            return None
        return self._prompter.ask_email()

    def can_ask(self) -> bool:
        return self._prompter.interactive

    async def show_manual_instructions(
        self, task: ChallengeTask, instructions: ManualInstructions
    ) -> None:
        # In the loop's thread, not a worker: Ctrl-C must end the wait at once (a worker thread
        # blocked on stdin kept the process alive until Enter). Nothing else runs meanwhile.
        self._prompter.wait_for_enter(manual_text(self._console, instructions))

    async def self_check_failed(
        self, failure: SelfCheckFailure, published_by_hook: bool
    ) -> SelfCheckChoice:
        from certsmith.challenges.manual import SelfCheckChoice

        return SelfCheckChoice(
            ask_after_self_check(self._console, self._prompter, failure, published_by_hook)
        )

    def preflight_warnings(self, results: Sequence[CheckResult]) -> None:
        for result in results:
            self._console.note(self._console.message("warning", message=result.message))

    def probe_warnings(self, results: Sequence[CheckResult]) -> None:
        for result in results:
            hint = f" {result.next_step}" if result.next_step else ""
            self._console.note(self._console.message("warning", message=result.message + hint))
            self._console.note(self._console.message("probe.behind_nat"))


def environment(
    common: CommonOptions,
    events: EngineEvents | None = None,
    *,
    stores: Stores | None = None,
    installers: InstallerFactory | None = None,
) -> RunEnvironment:
    """The run's environment: the file stores of --config-dir, built once here; how the CA is
    reached (--no-verify-ssl, --user-agent); the web-server installers when the run uses one."""
    return RunEnvironment(
        common.config_dir,
        user_agent=user_agent(common),
        stores=stores or file_stores(common.config_dir),
        events=events or QuietEvents(),
        installers=installers,
        verify_tls=common.verify_tls,
        issuance_timeout=common.issuance_timeout,
    )


def user_agent(common: CommonOptions) -> str:
    """certbot's --user-agent (replaces ours whole, the comment too, as certbot does) and
    --user-agent-comment (added in parentheses to ours)."""
    if common.user_agent:
        return common.user_agent
    comment = common.user_agent_comment
    return f"{USER_AGENT} ({comment})" if comment else USER_AGENT


def installer_factory(common: CommonOptions) -> InstallerFactory:
    """The web-server installers (certsmith.installers), imported only by runs that use one;
    their checkpoints live under this run's --config-dir and apache's http-01 responses under
    its --work-dir (as certbot-apache's do), whatever an old renewal conf says."""
    try:
        from certsmith import installers
    except ImportError as exc:  # a broken or partial installation
        raise usage_error("usage.installers_unloadable", error=exc) from None
    in_config_dir = installers.installer_factory(common.config_dir)
    work_dir = str(common.work_dir)

    def make(name: str, options: Mapping[str, str]) -> Installer:
        return in_config_dir(name, {**options, "work_dir": work_dir})

    return make


def lazy_installer_factory(common: CommonOptions) -> InstallerFactory:
    """:func:`installer_factory`, imported on the first installer a lineage asks for."""
    made: list[InstallerFactory] = []

    def make(name: str, options: Mapping[str, str]) -> Installer:
        if not made:
            made.append(installer_factory(common))
        return made[0](name, options)

    return make


def installer_overrides(installer: InstallerOptions) -> SettingOverrides:
    """-i/--nginx/--apache and the web servers' options as lineage settings (certbot's conf
    keys, ``nginx_server_root = ...``)."""
    return SettingOverrides(
        installer=installer.name, extra=dict(installer.options) if installer.options else None
    )


def dns_resolver_text(common: CommonOptions) -> str | None:
    if common.dns_resolver is None:
        return None
    host, port = common.dns_resolver
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def registration(account: AccountOptions) -> Registration:
    """What a new account needs beyond the prompts: the CA's binding (its flags are checked
    once, in ``build.account_options``)."""
    if not (account.eab_kid and account.eab_hmac_key):
        return Registration()
    from certsmith.acme import ExternalAccountBinding

    key = base64.urlsafe_b64decode(account.eab_hmac_key + "=" * (-len(account.eab_hmac_key) % 4))
    return Registration(ExternalAccountBinding(account.eab_kid, key, account.eab_hmac_alg))


def setting_overrides(
    common: CommonOptions,
    key: KeyOptions,
    challenge: ChallengeOptions,
    hooks: HookOptions,
    issuance: IssuanceOptions,
    account: AccountOptions,
    identifiers: Sequence[Identifier] = (),
) -> SettingOverrides:
    """The lineage settings given on the command line (None = not given)."""
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
    return SettingOverrides(
        server=common.server if server_given else None,
        account=account.account,  # --account ID (None: the stored one)
        authenticator=str(challenge.authenticator) if challenge.authenticator else None,
        key_type=key.key_type,
        rsa_key_size=key.rsa_key_size,
        elliptic_curve=key.elliptic_curve,
        # certbot: --new-key is for this run; the stored reuse_key stays (renewal.py renew_cert).
        reuse_key=key.reuse_key,
        new_key=True if key.new_key else None,
        # Not giving the flag keeps what the lineage stored; certbot has no --no- form either.
        allow_subset_of_names=True if issuance.allow_subset_of_names else None,
        preferred_chain=issuance.preferred_chain,
        preferred_profile=issuance.preferred_profile,
        required_profile=issuance.required_profile,
        preferred_challenges=tuple(challenge.preferred_challenges) or None,
        webroot_map=webroot_map,
        webroot_default=webroot_default,
        webroot_path=tuple(str(p) for p in challenge.webroot_paths) or None,
        http01_port=challenge.http01_port,
        http01_address=challenge.http01_address,
        tls_alpn01_port=challenge.tls_alpn01_port,
        manual_auth_hook=challenge.manual_auth_hook,
        manual_cleanup_hook=challenge.manual_cleanup_hook,
        pre_hook=hooks.pre_hook,
        post_hook=hooks.post_hook,
        deploy_hook=hooks.deploy_hook,
        autorenew=issuance.autorenew,
        dns_credentials=str(challenge.dns_credentials) if challenge.dns_credentials else None,
        extra=dict(challenge.dns_plugin_options) or None,  # dns_*_propagation_seconds, ...
        ca_bundle=str(common.ca_bundle) if common.ca_bundle else None,
        dns_resolver=dns_resolver_text(common),
        user_agent=common.user_agent,  # stored as certbot does; not the comment
    )
