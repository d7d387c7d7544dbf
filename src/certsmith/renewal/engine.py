"""The one path to a certificate: every command that gets or renews a lineage calls
:meth:`Engine.obtain_lineage`.

    lock -> heal and load -> names -> due? (due.py, the same rule for every command)
    -> settings -> pre hook -> pre-flight -> account -> order (issue.py) -> save -> deploy hook

One engine serves one run: it keeps one ACME client per CA and account (so one directory GET
and one account lookup however many lineages), and reports to the caller only through the
run's events (events.py). Post hooks run when the caller ends the run (``HookRunner.finish``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.hazmat.primitives.serialization import Encoding

from certsmith.acme.identifier import Identifier
from certsmith.errors import CertsmithError, UsageError
from certsmith.renewal import csr_order, installing, issue, keep_issued, manual_policy, retire
from certsmith.renewal.account import Registration
from certsmith.renewal.ca import CaSessions
from certsmith.renewal.due import DueChecker, settings_from_conf
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.hooks import HookRunner
from certsmith.renewal.install import RunInstallers
from certsmith.renewal.servers import ServerPool
from certsmith.renewal.settings import (
    LETSENCRYPT,
    LETSENCRYPT_STAGING,
    LineageSettings,
    SettingOverrides,
)
from certsmith.renewal.staging_guard import check_staging_switch
from certsmith.storage.interface import find_account
from certsmith.storage.lineage_model import Lineage
from certsmith.wording import Said, said

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    RENEWED = "renewed"
    NOT_DUE = "not due"
    FAILED = "failed"
    LOCKED = "skipped (locked)"


class NamesChange(StrEnum):
    """What a request may do to an existing lineage's names (certbot's certonly rules)."""

    KEEP = "keep"  # renew: the lineage's own names
    EXPAND = "expand"  # --expand: only add names
    REPLACE = "replace"  # --cert-name: any names
    REFUSE = "refuse"  # other names than the lineage's are a UsageError


@dataclass(frozen=True)
class HookCommands:
    """The hooks of a run given on the command line (certonly uses these, not the conf's)."""

    pre: str | None = None
    post: str | None = None
    deploy: str | None = None


@dataclass(frozen=True)
class LineageRequest:
    """Get or renew lineage ``name``."""

    name: str
    identifiers: tuple[Identifier, ...] | None = None  # None: the lineage's own names
    overrides: SettingOverrides = field(default_factory=SettingOverrides)
    new_lineage: SettingOverrides = field(default_factory=SettingOverrides)  # when created
    names_change: NamesChange = NamesChange.KEEP
    force: bool = False
    dry_run: bool = False
    preflight: bool = False  # the CLI turns it on unless --no-preflight
    check_points_here: bool = False  # warn when a standalone name resolves elsewhere
    lock_timeout: float | None = None  # None: a busy lineage raises LockHeld at once
    hooks: HookCommands | None = None  # None: the lineage's hooks (renew)
    respect_autorenew: bool = False  # `autorenew = False` makes it not due unless forced
    enhancements: tuple[str, ...] = ()  # certbot's --redirect, --hsts, --uir (installers)
    install: bool = True  # False: certonly records the installer but deploys nothing (certbot)
    count_replaced_as_renewed: bool = True  # certbot's certonly counts only new lineages
    reason: str = ""  # why the caller expects it due (shown when renewed)
    break_my_certs: bool = False  # let a staging certificate replace a production one (certbot)


@dataclass
class LineageResult:
    name: str
    outcome: Outcome
    reason: str = ""
    error: CertsmithError | None = None
    notes: list[str] = field(default_factory=list)
    replaced: str | None = None  # ARI id of the certificate the CA accepted as replaced
    lineage: Lineage | None = None  # what is deployed now (None after a dry run)
    previous: Lineage | None = None


class Engine:
    """Gets and renews lineages for one run. (certbot's random wait of an unattended `renew`
    is the Renewer's: it must come before any lineage is locked.)"""

    def __init__(
        self,
        env: RunEnvironment,
        hooks: HookRunner | None = None,
        registration: Registration | None = None,
        *,
        settings_overrides: SettingOverrides | None = None,
    ) -> None:
        self.env = env
        self.hooks = hooks or HookRunner(config_dir=env.config_dir)
        self.ca = CaSessions(env, registration or Registration())
        overrides = settings_overrides or SettingOverrides()
        self.due = DueChecker(
            env.stores,
            env.now,
            self.ca.ari_client,
            lambda conf: overrides.apply(settings_from_conf(conf)),
        )
        self.servers = ServerPool(lock_dir=env.config_dir)
        self.installers = RunInstallers(env.installers, env.config_dir)
        self._reload_owed: list[str] = []  # deployed into a web server, kept copy not dropped
        self._services = issue.Services(env, self.ca, self.due, self.servers, self.installers)

    async def reload_servers(self) -> list[CertsmithError]:
        """Reload, once, every web server this run installed into (call at the run's end);
        only then is the deploy of those lineages done (their kept copies are dropped), so a
        run killed before the reload owes it to the next run (keep_issued.awaits_deploy)."""
        errors = await self.installers.reload_all()
        for name in self._reload_owed:
            keep_issued.deployed(self.env.stores, name)
        self._reload_owed.clear()
        return errors

    async def preview_install(self, request: LineageRequest) -> str | None:
        """`run --dry-run`: the diff deploying ``request`` into its web server would write, at
        the lineage's would-be live paths (a dry run saves no lineage); None without one."""
        lineages = self.env.stores.lineages
        previous = lineages.load(request.name) if lineages.exists(request.name) else None
        settings = self._settings(request, previous)
        domains = [i.value for i in _names(request, previous)]
        live = lineages.live_paths(request.name)
        return await self.installers.preview(
            settings, request.name, domains, live, request.enhancements
        )

    async def aclose(self) -> None:
        self.env.stores.states.flush()
        await self.ca.aclose()

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def obtain_lineage(self, request: LineageRequest) -> LineageResult:
        """Get or renew one lineage under its lock. Raises LockHeld when busy, UsageError for
        bad requests, and the typed error of whatever failed (the lineage stays as it was)."""
        lineages = self.env.stores.lineages
        wait = request.lock_timeout
        with lineages.lock(request.name, blocking=wait is not None, timeout=wait or 0.0):
            previous = None
            if lineages.exists(request.name):
                lineages.heal(request.name)  # also clears temp files of a killed run
                previous = lineages.load(request.name)
            identifiers = _names(request, previous)
            settings = self._settings(request, previous)
            if previous is not None and not request.dry_run:
                if keep_issued.awaits_deploy(self.env.stores, previous):
                    reason = keep_issued.DEPLOY_OWED_REASON
                    owed = await self._installed_kept(request, settings, previous, reason)
                    if not request.force:
                        return owed  # else the deploy is made, and then the asked-for order
                kept = keep_issued.install_kept(
                    self.env.stores, previous, identifiers, self.env.now()
                )
                if kept is not None:  # an earlier run's certificate, saved now: no order
                    reason = keep_issued.KEPT_REASON
                    return await self._installed_kept(request, settings, kept, reason, previous)
            elif not request.dry_run:
                first = self._kept_first(request.name, identifiers, settings)
                if first is not None:  # a killed first issuance's certificate: no order
                    reason = keep_issued.KEPT_REASON
                    return await self._installed_kept(request, settings, first, reason, first=True)
            skip = await self._not_due(request, previous, identifiers, settings)
            if skip is not None:
                return skip
            if previous is not None:
                check_staging_switch(
                    settings_from_conf(previous.conf).server,
                    settings.server,
                    identifiers,
                    break_my_certs=request.break_my_certs,
                    dry_run=request.dry_run,
                )
            manual_policy.refuse_unanswerable(request.name, identifiers, settings, self.env.events)
            return await self._obtain(request, previous, identifiers, settings)

    async def _installed_kept(
        self,
        request: LineageRequest,
        settings: LineageSettings,
        kept: Lineage,
        reason: Said,
        previous: Lineage | None = None,
        *,
        first: bool = False,
    ) -> LineageResult:
        """Deploy ``kept``, saved by this or an earlier run, without a new order (``first``:
        as a new lineage)."""
        hooks = request.hooks or HookCommands(
            settings.pre_hook, settings.post_hook, settings.deploy_hook
        )
        before = None if first else previous or kept
        self.due.remember(request.name)
        await self._deploy(request, settings, hooks, kept, before, kept.identifiers)
        return LineageResult(request.name, Outcome.RENEWED, reason, lineage=kept, previous=before)

    def _kept_first(
        self, name: str, identifiers: tuple[Identifier, ...], settings: LineageSettings
    ) -> Lineage | None:
        """A certificate a first issuance of ``name`` kept before it was killed, saved now as
        the new lineage with the conf the order would have written, when the account this run
        would use (renewal/ca.py finds it the same way) is the one that ordered it."""
        stores = self.env.stores
        account = find_account(stores.accounts, settings.server, settings.account)
        if account is None:
            return None
        order = issue.Order(name, identifiers, settings)
        conf = issue.renewal_conf(stores.lineages, order, account.id)
        ordered_by = (settings.server, account.id, settings.key_type.lower())
        return keep_issued.install_kept_first(
            stores, name, identifiers, ordered_by, conf, self.env.now()
        )

    async def _not_due(
        self,
        request: LineageRequest,
        previous: Lineage | None,
        identifiers: tuple[Identifier, ...],
        settings: LineageSettings,
    ) -> LineageResult | None:
        """Re-checked under the lock: another process may have renewed it meanwhile."""
        if previous is None or request.force or request.dry_run:
            return None
        if set(previous.identifiers) != set(identifiers):
            return None  # new names: a new certificate whatever the old one's age
        verdict = await self.due.verdict(request.name)
        if verdict.due is None:
            raise CertsmithError(verdict.reason)
        if not verdict.due:
            return LineageResult(request.name, Outcome.NOT_DUE, verdict.reason, previous=previous)
        if request.respect_autorenew and not settings.autorenew:
            # certbot's --no-autorenew (`autorenew = False` in the renewal conf).
            reason = Said("autorenew is off for it", "renewal.reason.autorenew_off")
            return LineageResult(request.name, Outcome.NOT_DUE, reason, previous=previous)
        return None

    def _settings(self, request: LineageRequest, previous: Lineage | None) -> LineageSettings:
        if previous is not None:
            settings = request.overrides.apply(settings_from_conf(previous.conf))
        else:
            settings = request.new_lineage.apply(request.overrides.apply(LineageSettings()))
        if request.dry_run and settings.server == LETSENCRYPT:
            # As certbot: a dry run asks Let's Encrypt's staging CA, never production.
            settings = settings.replace(server=LETSENCRYPT_STAGING)
        if settings.webroot_default and previous is not None:
            # `renew -w PATH`: that folder for every name of the lineage, saved.
            webroot = {i.value: settings.webroot_default for i in previous.identifiers}
            settings = settings.replace(webroot_map=webroot, webroot_default=None)
        return settings

    async def _obtain(
        self,
        request: LineageRequest,
        previous: Lineage | None,
        identifiers: tuple[Identifier, ...],
        settings: LineageSettings,
    ) -> LineageResult:
        hooks = request.hooks or HookCommands(
            settings.pre_hook, settings.post_hook, settings.deploy_hook
        )
        await self.hooks.before_renewal_async(pre_hook=hooks.pre, post_hook=hooks.post)
        log.info("%s: obtaining a certificate (%s)", request.name, request.reason or "requested")
        order = issue.Order(request.name, identifiers, settings, request.dry_run, previous)
        issued = await issue.issue(
            self._services, order, request.preflight, request.check_points_here
        )
        result = LineageResult(
            request.name,
            Outcome.RENEWED,
            request.reason,
            notes=issued.notes,
            replaced=issued.replaced,
            lineage=issued.lineage,
            previous=previous,
        )
        await self._deploy(request, settings, hooks, issued.lineage, previous, identifiers)
        return result

    async def _deploy(
        self,
        request: LineageRequest,
        settings: LineageSettings,
        hooks: HookCommands,
        saved: Lineage | None,
        previous: Lineage | None,
        identifiers: tuple[Identifier, ...],
    ) -> None:
        """Into the web server (if the lineage names an installer), then the deploy hooks; a
        dry run saves nothing and runs the deploy hooks on the old version (certbot's rule)."""
        installed = False
        if saved is not None and request.install:
            live = self.env.stores.lineages.live_paths(request.name)
            domains = [i.value for i in saved.identifiers]
            installed = await self.installers.deploy(
                settings, request.name, domains, live, request.enhancements
            )
        deployed = saved or previous
        if deployed is None:
            return
        names = saved.identifiers if saved else identifiers
        await self.hooks.deploy_async(
            lineage_dir=deployed.live_dir,
            domains=[i.value for i in names],
            deploy_hook=hooks.deploy,
            count_as_renewed=previous is None or request.count_replaced_as_renewed,
        )
        if saved is not None and installed:
            self._reload_owed.append(request.name)  # done once the server reloaded
        elif saved is not None:
            keep_issued.deployed(self.env.stores, request.name)

    async def revoke_lineage(
        self, name: str, reason: int, overrides: SettingOverrides | None = None
    ) -> None:
        """Revoke the deployed certificate of ``name`` with the account stored for its CA, and
        remember it: the next renew replaces it."""
        lineage = self.env.stores.lineages.load(name)
        settings = (overrides or SettingOverrides()).apply(settings_from_conf(lineage.conf))
        der = lineage.certificate().public_bytes(Encoding.DER)
        revoking = retire.revoke_with_account(self.ca, settings, der, reason)
        await retire.remembered(self.env.stores, name, revoking)

    async def install_lineage(
        self, name: str, overrides: SettingOverrides, enhancements: Sequence[str] = ()
    ) -> None:
        """Deploy lineage ``name`` as it is into its (or the overridden) installer (``install``,
        and ``run`` when the certificate is not due); see installing.py."""
        await installing.install_lineage(self.env, self.installers, name, overrides, enhancements)

    async def obtain_for_csr(
        self, settings: LineageSettings, csr: bytes, names: Sequence[Identifier], *, dry_run: bool
    ) -> csr_order.CsrCertificate:
        """A certificate for a CSR made elsewhere, stored nowhere (``certonly --csr``)."""
        return await csr_order.obtain_for_csr(self._services, settings, csr, names, dry_run)

    def delete_lineage(self, name: str) -> None:
        """Remove lineage ``name`` (every version) and its cached state."""
        retire.delete_lineage(self.env.stores, name)


def _names(request: LineageRequest, previous: Lineage | None) -> tuple[Identifier, ...]:
    """The names to order, refusing changes the request does not allow."""
    if request.identifiers is None:
        if previous is None:
            raise UsageError(said("engine.no_such_certificate", name=repr(request.name)))
        return previous.identifiers
    wanted = request.identifiers
    if previous is None or set(previous.identifiers) == set(wanted):
        return wanted
    change = request.names_change
    if change is NamesChange.REPLACE or (
        change is NamesChange.EXPAND and set(previous.identifiers) <= set(wanted)
    ):
        return wanted
    old = ", ".join(i.value for i in previous.identifiers)
    quoted = repr(previous.name)
    raise UsageError(said("engine.other_names", quoted=quoted, old=old, name=previous.name))
