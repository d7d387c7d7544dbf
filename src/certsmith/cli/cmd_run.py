"""certbot's web-server subcommands: `run` (and no subcommand), `install`, `enhance`,
`rollback`, `config_changes`; and `plugins`, `update_symlinks`.

`run` is certonly plus an installer: ``-i null`` obtains and installs nowhere, ``--nginx`` /
``--apache`` / ``-i NAME`` deploy into that server (certsmith.installers) and reload it once at
the end. As in certbot, `run` with an authenticator that is not a web server and no ``-i`` is
refused: the user most likely meant `certonly`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from certsmith.cli import common
from certsmith.cli.cmd_certonly import certonly, show_preview
from certsmith.cli.console import Console
from certsmith.cli.options import ReconfigureOptions, RunOptions, Verb, WebServerOptions
from certsmith.errors import CertsmithError, UsageError
from certsmith.renewal.settings import LineageSettings

WEB_SERVERS = ("nginx", "apache")


def run(options: RunOptions, console: Console) -> int:
    """certbot's `run`: obtain, then install into the web server (``-i null``: nowhere)."""
    auth, installer = options.challenge.authenticator, options.installer.name
    if installer is None and auth is not None and auth not in WEB_SERVERS:
        # certbot: "With the standalone plugin, you probably want to use the certonly command"
        raise UsageError(
            f"With the {auth} authenticator, you probably want 'certsmith certonly --{auth}' "
            "(or add -i null to obtain and install nowhere, or -i nginx / -i apache)."
        )
    if installer is None and auth is None:
        raise UsageError(
            "Say where to install the certificate: --nginx, --apache, or an authenticator "
            "with -i null (e.g. --standalone -i null); or use 'certsmith certonly'."
        )
    return certonly(options, console)


def web_server_command(options: WebServerOptions, console: Console) -> int:
    handlers = {
        Verb.INSTALL: _install,
        Verb.ENHANCE: _enhance,
        Verb.ROLLBACK: _rollback,
        Verb.CONFIG_CHANGES: _config_changes,
        Verb.PLUGINS: _plugins,
        Verb.UPDATE_SYMLINKS: _update_symlinks,
    }
    return handlers[options.verb](options, console)


def _cert_name(options: WebServerOptions) -> str:
    if not options.cert_name:
        raise UsageError(f"Say which certificate to {options.verb}: --cert-name NAME.")
    return options.cert_name


def _server_options(options: WebServerOptions) -> dict[str, str]:
    return {"config_dir": str(options.common.config_dir), **dict(options.installer.options)}


def _install(options: WebServerOptions, console: Console) -> int:
    """Deploy an existing lineage into its web server (-i/--nginx/--apache or its conf's)."""
    from certsmith.renewal import installing
    from certsmith.renewal.engine import Engine

    name = _cert_name(options)
    env = common.environment(options.common, installers=common.installer_factory(options.common))
    overrides = common.installer_overrides(options.installer)

    async def go() -> list[CertsmithError]:
        async with Engine(env) as engine:
            await engine.install_lineage(name, overrides, options.installer.enhancements)
            return await engine.reload_servers()

    async def preview() -> str | None:
        async with Engine(env) as engine:
            return await installing.install_lineage(
                env, engine.installers, name, overrides, options.installer.enhancements, True
            )

    if options.dry_run:
        with env.stores.guard():
            show_preview(console, name, asyncio.run(preview()))
        return 0
    with env.stores.guard():
        errors = asyncio.run(go())
    for error in errors:
        console.explain(error)
    if not errors:
        console.say(f"Installed the certificate {name}.")
    return 1 if errors else 0


def _enhance(options: WebServerOptions, console: Console) -> int:
    """certbot's `enhance`: add --redirect/--hsts/--uir for a lineage's names, then reload."""
    from certsmith.renewal.due import settings_from_conf

    name = _cert_name(options)
    wanted = options.installer.enhancements
    if not wanted:
        raise UsageError("Say which enhancement to add: --redirect, --hsts or --uir.")
    env = common.environment(options.common)
    lineage = env.stores.lineages.load(name)
    settings = common.installer_overrides(options.installer).apply(settings_from_conf(lineage.conf))
    if settings.installer not in WEB_SERVERS:
        raise UsageError(f"Say which web server serves {name}: --nginx or --apache.")
    extra = {k: str(v) for k, v in settings.extra.items()}
    if settings.http01_port:  # the port whose server blocks --redirect edits
        extra.setdefault("http01_port", str(settings.http01_port))
    installer = common.installer_factory(options.common)(settings.installer, extra)
    if options.dry_run:
        domains = [i.value for i in lineage.identifiers]
        diff = installer.preview(name, domains, None, wanted)
        show_preview(console, name, diff)
        return 0
    installer.enhance([i.value for i in lineage.identifiers], wanted)
    installer.reload()
    console.say(f"Added {', '.join(wanted)} for {name} in {settings.installer}.")
    return 0


def _server_name(options: WebServerOptions) -> str:
    name = options.installer.name
    if name not in WEB_SERVERS:
        raise UsageError(f"Say which web server to {options.verb}: --nginx or --apache.")
    return str(name)


def _rollback(options: WebServerOptions, console: Console) -> int:
    from certsmith import installers

    undone = installers.rollback(
        _server_name(options), _server_options(options), options.checkpoints
    )
    if not undone:
        console.say("Nothing to roll back.")
    for line in undone:
        console.say(f"Rolled back: {line}")
    return 0


def _config_changes(options: WebServerOptions, console: Console) -> int:
    from certsmith import installers

    changes = installers.config_changes(_server_options(options))
    console.say("\n".join(changes) if changes else "No changes made by certsmith's installers.")
    return 0


PLUGINS_TEXT = """\
Authenticators:
  standalone     answer http-01 (or tls-alpn-01) with a built-in server
  webroot        put the http-01 file in a web server's folder (-w PATH)
  manual         answer by hand or with --manual-auth-hook scripts
  dns-rfc2136    dns-01 through RFC 2136 dynamic updates
  dns-acme-dns   dns-01 through an acme-dns server
  dns-duckdns    dns-01 through DuckDNS
  dns-NAME       dns-01 through a DNS provider (-a dns-NAME)
  nginx, apache  http-01 through the running web server
Installers:
  nginx, apache  deploy into the web server and reload it
  null           install nowhere (-i null)
certsmith has no plug-in discovery beyond DNS providers (entry point certsmith.dns_providers)."""


def _plugins(options: WebServerOptions, console: Console) -> int:
    console.say(PLUGINS_TEXT)
    return 0


def _update_symlinks(options: WebServerOptions, console: Console) -> int:
    """Point each lineage's live/ links at one complete version again (the storage heal)."""
    stores = common.environment(options.common).stores
    lineages = stores.lineages
    names = [options.cert_name] if options.cert_name else lineages.names()
    if options.cert_name and not lineages.exists(options.cert_name):
        raise UsageError(f"No certificate named {options.cert_name!r}.")
    with stores.guard():
        for name in names:
            with lineages.lock(name, blocking=True, timeout=60.0):
                version = lineages.heal(name)
            console.say(f"{name}: live/ points at version {version}.")
    return 0


def reconfigure(options: ReconfigureOptions, console: Console) -> int:
    """certbot 5.8's `reconfigure --cert-name NAME [settings]`: a dry run with the new settings,
    then the renewal conf rewritten with them (no new certificate)."""
    from certsmith.cli.prompt import make_prompter
    from certsmith.renewal.engine import Engine
    from certsmith.renewal.hooks import HookRunner
    from certsmith.renewal.reconfigure import reconfigure as change

    if not options.cert_name:
        raise UsageError("Say which certificate to reconfigure: --cert-name NAME.")
    name = options.cert_name
    c = options.common
    overrides = common.setting_overrides(
        c, options.key, options.challenge, options.hooks, options.issuance, options.account
    ).merged(common.installer_overrides(options.installer))
    if "server" not in c.set_on_command_line:
        overrides = replace(overrides, server=None)  # --dry-run's staging is not a change
    events = common.CliEvents(console, make_prompter(True), options.account, ask_email=False)
    factory = None
    if options.installer.name in WEB_SERVERS or options.challenge.authenticator in WEB_SERVERS:
        factory = common.installer_factory(c)
    env = common.environment(c, events, installers=factory)
    hooks = HookRunner(config_dir=c.config_dir, dry_run=True)

    async def go() -> tuple[LineageSettings, LineageSettings]:
        async with Engine(env, hooks) as engine:
            try:
                before, after, _result = await change(engine, name, overrides)
            finally:
                await hooks.finish_async()
            return before, after

    with env.stores.guard():
        before, after = asyncio.run(go())
    old, new = before.to_renewalparams(), after.to_renewalparams()
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if not changed:
        console.say(f"The dry run was successful; no setting of {name} changed.")
        return 0
    console.say(f"The dry run was successful. Settings of {name} changed:")
    for key in changed:
        console.say(f"  {key}: {old.get(key, '(unset)')} -> {new.get(key, '(unset)')}")
    return 0
