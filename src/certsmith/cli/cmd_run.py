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
from certsmith.cli.usage import usage_error
from certsmith.errors import CertsmithError
from certsmith.renewal.settings import LineageSettings

WEB_SERVERS = ("nginx", "apache")


def run(options: RunOptions, console: Console) -> int:
    """certbot's `run`: obtain, then install into the web server (``-i null``: nowhere)."""
    auth, installer = options.challenge.authenticator, options.installer.name
    if installer is None and auth is not None and auth not in WEB_SERVERS:
        # certbot: "With the standalone plugin, you probably want to use the certonly command"
        raise usage_error("run.use_certonly", auth=auth, command=f"'certsmith certonly --{auth}'")
    if installer is None and auth is None:
        raise usage_error("run.where")
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
        raise usage_error("run.which_certificate", verb=options.verb)
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
    if not errors and options.installer.name == "null":
        console.say(console.message("install.null", name=name))
    elif not errors:
        console.say(console.message("run.installed", name=name))
    return 1 if errors else 0


def _enhance(options: WebServerOptions, console: Console) -> int:
    """certbot's `enhance`: add --redirect/--hsts/--uir for a lineage's names, then reload."""
    from certsmith.renewal.due import settings_from_conf

    name = _cert_name(options)
    wanted = options.installer.enhancements
    if not wanted:
        raise usage_error("enhance.which")
    env = common.environment(options.common)
    lineage = env.stores.lineages.load(name)
    settings = common.installer_overrides(options.installer).apply(settings_from_conf(lineage.conf))
    if settings.installer not in WEB_SERVERS:
        raise usage_error("enhance.which_server", name=name)
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
    added = ", ".join(wanted)
    console.say(console.message("enhance.added", what=added, name=name, server=settings.installer))
    return 0


def _server_name(options: WebServerOptions) -> str:
    name = options.installer.name
    if name not in WEB_SERVERS:
        raise usage_error("run.which_server", verb=options.verb)
    return str(name)


def _rollback(options: WebServerOptions, console: Console) -> int:
    from certsmith import installers

    undone = installers.rollback(
        _server_name(options), _server_options(options), options.checkpoints
    )
    if not undone:
        console.say(console.message("rollback.nothing"))
    for line in undone:
        console.say(console.message("rollback.line", line=line))
    return 0


def _config_changes(options: WebServerOptions, console: Console) -> int:
    from certsmith import installers

    changes = installers.config_changes(_server_options(options))
    console.say("\n".join(changes) if changes else console.message("config_changes.none"))
    return 0


def _plugins(options: WebServerOptions, console: Console) -> int:
    console.say(console.message("plugins.list"))
    return 0


def _update_symlinks(options: WebServerOptions, console: Console) -> int:
    """Point each lineage's live/ links at one complete version again (the storage heal)."""
    stores = common.environment(options.common).stores
    lineages = stores.lineages
    names = [options.cert_name] if options.cert_name else lineages.names()
    if options.cert_name and not lineages.exists(options.cert_name):
        raise usage_error("update_symlinks.no_such_certificate", name=repr(options.cert_name))
    with stores.guard():
        for name in names:
            with lineages.lock(name, blocking=True, timeout=60.0):
                version = lineages.heal(name)
            console.say(console.message("update_symlinks.done", name=name, version=version))
    return 0


def reconfigure(options: ReconfigureOptions, console: Console) -> int:
    """certbot 5.8's `reconfigure --cert-name NAME [settings]`: a dry run with the new settings,
    then the renewal conf rewritten with them (no new certificate)."""
    from certsmith.cli.prompt import make_prompter
    from certsmith.renewal.engine import Engine
    from certsmith.renewal.hooks import HookRunner
    from certsmith.renewal.reconfigure import reconfigure as change

    if not options.cert_name:
        raise usage_error("reconfigure.which")
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
        console.say(console.message("reconfigure.unchanged", name=name))
        return 0
    console.say(console.message("reconfigure.changed", name=name))
    unset = console.message("reconfigure.unset")
    for key in changed:
        console.say(f"  {key}: {old.get(key, unset)} -> {new.get(key, unset)}")
    return 0
