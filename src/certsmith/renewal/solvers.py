"""Build the challenge solvers a lineage's settings ask for (certbot's authenticator names)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import Solver
from certsmith.challenges.manual import ManualSolver, OnSelfCheckFailure, ShowInstructions
from certsmith.challenges.selfcheck import Resolve
from certsmith.challenges.webroot import WebrootSolver
from certsmith.errors import UsageError
from certsmith.hostport import is_ip_literal
from certsmith.renewal.servers import ServerPool
from certsmith.renewal.settings import LineageSettings
from certsmith.wording import said

if TYPE_CHECKING:  # dnspython is imported only by runs that use DNS (keeps `renew` lean)
    from certsmith.challenges.dns01 import DnsSolver, PropagationChecker

DNS_PLUGINS = {
    "dns-rfc2136": "rfc2136", "dns-acme-dns": "acme-dns", "dns-duckdns": "duckdns",
    "dns-cloudflare": "cloudflare", "dns-route53": "route53", "dns-digitalocean": "digitalocean",
    "dns-google": "google", "dns-ovh": "ovh", "dns-linode": "linode",
}  # fmt: skip


@dataclass(frozen=True)
class SolverContext:
    """What solvers need from the run beyond the lineage settings."""

    show_instructions: ShowInstructions | None = None
    dns_timeout: float = 120.0
    dns_interval: float = 2.0
    # Shared --standalone listeners when several lineages are renewed at once.
    servers: ServerPool | None = None
    # The http-01 solver of a running web server (--nginx, --apache as authenticator).
    web_server: Callable[[LineageSettings], Solver] | None = None
    # The manual authenticator's self-check (off: --no-self-check, --no-preflight), and who
    # decides when it fails (None: a failure stops the run).
    manual_self_check: bool = True
    on_self_check_failure: OnSelfCheckFailure | None = None


def http01_resolver(nameserver: str | None, http01_port: int | None = None) -> Resolve | None:
    """How this machine reaches a name the way the CA will (the manual self-check, the
    pre-flight probe): through ``--dns-resolver`` when given, else the system's own lookup
    (/etc/hosts included), and on ``--http-01-port`` instead of 80 (a test CA such as Pebble
    validates on another port). None when neither changes anything."""
    if nameserver is None and not http01_port:
        return None
    resolver = None
    if nameserver is not None:
        from certsmith.dnsutil import make_resolver

        resolver = make_resolver(nameserver)

    async def resolve(host: str, port: int) -> tuple[str, int]:
        if http01_port and port == 80:
            port = http01_port
        if resolver is None or is_ip_literal(host):
            return host, port
        answer = await resolver.resolve(host, "A")
        return str(answer[0]), port

    return resolve


def _checker(settings: LineageSettings, context: SolverContext) -> PropagationChecker:
    from certsmith.challenges.dns01 import PropagationChecker

    return PropagationChecker(
        dns_resolver=settings.dns_resolver,
        timeout=context.dns_timeout,
        interval=context.dns_interval,
    )


def _dns_solver(settings: LineageSettings, context: SolverContext) -> DnsSolver:
    from certsmith.challenges.dns01 import DnsSolver, load_provider, read_credentials
    from certsmith.challenges.dns01.provider import (
        CREDENTIALS_AS_PATH,
        NO_CREDENTIALS_FILE,
        NOT_BUILT_IN,
        discover_providers,
    )

    name = _provider_name(settings.authenticator)
    if name in NOT_BUILT_IN and name not in discover_providers():
        load_provider(name, {})  # says how to add it, before asking for its credentials
    options: dict[str, str] = {}
    if name in CREDENTIALS_AS_PATH and settings.dns_credentials:
        options[CREDENTIALS_AS_PATH[name]] = settings.dns_credentials
        project = settings.extra.get("dns_google_project")
        if project:
            options["dns_google_project"] = str(project)
    elif settings.dns_credentials:
        options = read_credentials(settings.dns_credentials)
    elif name not in NO_CREDENTIALS_FILE:
        builtin = settings.authenticator in DNS_PLUGINS or name in NOT_BUILT_IN
        flag = f"--{settings.authenticator}-credentials" if builtin else "--dns-credentials FILE"
        raise UsageError(said("engine.dns_credentials", plugin=settings.authenticator, flag=flag))
    provider = load_provider(name, options)
    return DnsSolver(
        provider, _checker(settings, context), propagation_seconds=propagation_seconds(settings)
    )


def propagation_seconds(settings: LineageSettings) -> int:
    """certbot's ``dns_<plugin>_propagation_seconds`` from the conf: a fixed wait, 0 if unset."""
    key = settings.plugin_name.replace("-", "_") + "_propagation_seconds"
    value = settings.extra.get(key)
    if value is None or str(value).strip() in ("", "None"):
        return 0
    try:
        seconds = int(str(value).strip())
    except ValueError:
        why = said("engine.setting_not_number", setting=key, value=repr(value))
        raise UsageError(why) from None
    if not 0 <= seconds <= 86400:
        raise UsageError(said("engine.setting_out_of_range", setting=key, value=seconds))
    return seconds


def _provider_name(authenticator: str) -> str:
    """The DNS provider behind an authenticator: a built-in, else a plug-in's entry point."""
    return DNS_PLUGINS.get(authenticator) or authenticator.removeprefix("dns-")


WEB_SERVERS = ("nginx", "apache")
PERSIST = "dns-persist"
CHALLENGES_BY_AUTHENTICATOR = {
    "standalone": ("http-01", "tls-alpn-01"),
    "nginx": ("http-01",),
    "apache": ("http-01",),
    "webroot": ("http-01",),
    "manual": ("http-01", "dns-01", "dns-account-01"),
    **{plugin: ("dns-01", "dns-account-01") for plugin in DNS_PLUGINS},
    # dns-persist-01: the standing _validation-persist record answers; no DNS change, no
    # credentials (certsmith persist-record prints the record to publish once).
    PERSIST: ("dns-persist-01",),
}
DNS_CHALLENGES = ("dns-01", "dns-account-01", "dns-persist-01")


def _uses_dns_provider(authenticator: str) -> bool:
    return authenticator.startswith("dns-") and authenticator != PERSIST


def check_before_order(
    settings: LineageSettings, identifiers: Sequence[Identifier], methods: Sequence[str]
) -> None:
    """Raise ``UsageError`` for what would fail only once an order exists: a wildcard without
    dns-01, or DNS credentials that are missing, unreadable, incomplete or readable by others."""
    wildcards = [i.value for i in identifiers if i.is_wildcard]
    usable = CHALLENGES_BY_AUTHENTICATOR.get(settings.authenticator) or (
        ("dns-01", "dns-account-01") if settings.authenticator.startswith("dns-") else ()
    )
    if "dns-persist-01" in settings.preferred_challenges:
        usable = (*usable, "dns-persist-01")
    if wildcards and not set(usable) & set(methods) & set(DNS_CHALLENGES):
        names, authenticator = ", ".join(wildcards), settings.authenticator
        why = said("engine.wildcard_needs_dns", names=names, authenticator=authenticator)
        raise UsageError(why)
    if _uses_dns_provider(settings.authenticator):
        _dns_solver(settings, SolverContext())  # reads and checks the credentials; no network


@contextlib.asynccontextmanager
async def solvers_for(
    settings: LineageSettings, context: SolverContext
) -> AsyncIterator[dict[str, Solver]]:
    """The solvers by challenge type; servers they start are stopped on exit."""
    kind = settings.authenticator
    async with contextlib.AsyncExitStack() as stack:
        solvers: dict[str, Solver] = {}
        if kind == "standalone":
            address = settings.http01_address or ""
            # Only the servers for the challenges that may be chosen: with
            # --preferred-challenges tls-alpn-01 the http-01 port (80) may be taken or
            # privileged (certbot's standalone also binds only what it performs).
            pool = context.servers or ServerPool()
            if "http-01" in (settings.preferred_challenges or ("http-01",)):
                http = pool.use("http-01", address, settings.http01_port or 80)
                solvers["http-01"] = await stack.enter_async_context(http)
            if "tls-alpn-01" in settings.preferred_challenges:
                tls = pool.use("tls-alpn-01", address, settings.tls_alpn01_port or 443)
                solvers["tls-alpn-01"] = await stack.enter_async_context(tls)
        elif kind == "webroot":
            if not settings.webroot_map and not settings.webroot_path:
                raise UsageError(said("engine.webroot_missing"))
            default = settings.webroot_path[-1] if settings.webroot_path else None
            solvers["http-01"] = WebrootSolver(settings.webroot_map, default_webroot=default)
        elif kind == "manual":
            checker = _checker(settings, context)
            manual = ManualSolver(
                auth_hook=settings.manual_auth_hook,
                cleanup_hook=settings.manual_cleanup_hook,
                show_instructions=context.show_instructions,
                wait_for_txt=checker.wait,
                self_check_resolve=http01_resolver(settings.dns_resolver, settings.http01_port),
                self_check=context.manual_self_check,
                on_self_check_failure=context.on_self_check_failure,
            )
            solvers["http-01"] = manual
            solvers["dns-01"] = solvers["dns-account-01"] = manual
        elif kind == PERSIST:
            pass  # added below
        elif kind.startswith("dns-"):
            solvers["dns-01"] = solvers["dns-account-01"] = _dns_solver(settings, context)
        elif kind in WEB_SERVERS:
            if context.web_server is None:
                raise UsageError(said("engine.authenticator_unavailable", kind=kind))
            solvers["http-01"] = context.web_server(settings)
        else:
            raise UsageError(said("engine.authenticator_unknown", kind=repr(kind)))
        if kind == PERSIST or "dns-persist-01" in settings.preferred_challenges:
            from certsmith.challenges.dns01.persist import PersistSolver

            solvers["dns-persist-01"] = PersistSolver(_checker(settings, context))
        yield solvers
