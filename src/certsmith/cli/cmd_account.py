"""Account commands: register, show_account, update_account (incl. key rollover), unregister."""

from __future__ import annotations

import asyncio

from certsmith.acme import AcmeClient
from certsmith.cli import common
from certsmith.cli.console import Console
from certsmith.cli.options import (
    CommonOptions,
    RegisterOptions,
    ShowAccountOptions,
    UnregisterOptions,
    UpdateAccountOptions,
)
from certsmith.cli.prompt import make_prompter
from certsmith.cli.usage import usage_error
from certsmith.renewal.account import new_account_key, register_account
from certsmith.renewal.ca import client_for
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.rollover import roll_over, settle_rollovers
from certsmith.renewal.settings import LineageSettings
from certsmith.storage import StoredAccount
from certsmith.storage.interface import Stores, find_account


def _settings(options: CommonOptions) -> LineageSettings:
    ca_bundle = str(options.ca_bundle) if options.ca_bundle else None
    return LineageSettings(server=options.server, ca_bundle=ca_bundle)


def _stored(options: CommonOptions, stores: Stores) -> StoredAccount:
    stored = find_account(stores.accounts, options.server)
    if stored is None:
        raise usage_error("account.none_stored", server=options.server)
    return stored


def _client(env: RunEnvironment, options: CommonOptions, stored: StoredAccount) -> AcmeClient:
    return client_for(env, _settings(options), stored.key, stored.uri)


def _usable(env: RunEnvironment, options: CommonOptions) -> StoredAccount:
    """The stored account, after an interrupted key rollover has been settled."""

    def client(key: object) -> AcmeClient:
        return client_for(env, _settings(options), key)

    with env.stores.guard():
        asyncio.run(settle_rollovers(env.stores, options.server, client))
    return _stored(options, env.stores)


def register(options: RegisterOptions, console: Console) -> int:
    c = options.common
    events = common.CliEvents(console, make_prompter(c.non_interactive), options.account)
    env = common.environment(c, events)
    if find_account(env.stores.accounts, c.server) is not None:
        raise usage_error("account.exists", server=c.server)
    registration = common.registration(options.account)

    async def run() -> str:
        async with client_for(env, _settings(c), new_account_key()) as client:
            account = await register_account(
                client, env.stores.accounts, c.server, events, registration
            )
        return account.url

    with env.stores.guard():
        url = asyncio.run(run())
    console.say(console.message("account.registered", url=url))
    return 0


def show_account(options: ShowAccountOptions, console: Console) -> int:
    env = common.environment(options.common)
    stored = _usable(env, options.common)

    async def fetch() -> tuple[str, tuple[str, ...], str]:
        async with _client(env, options.common, stored) as client:
            account = await client.find_account()
        return account.url, account.contact, str(account.status)

    url, contacts, status = asyncio.run(fetch())
    emails = ", ".join(c.removeprefix("mailto:") for c in contacts)
    console.say(
        console.message(
            "account.details",
            server=options.common.server,
            url=url,
            status=status,
            emails=emails or console.message("account.no_email"),
        )
    )
    return 0


def update_account(options: UpdateAccountOptions, console: Console) -> int:
    c = options.common
    env = common.environment(c)
    stores = env.stores
    stored = _usable(env, c)
    store = stores.accounts
    if options.rollover_key:
        new_key = new_account_key()

        async def roll() -> tuple[str, list[str]]:
            async with _client(env, c, stored) as client:
                return await roll_over(client, stores, c.server, stored, new_key)

        with stores.guard():
            _, moved = asyncio.run(roll())
        console.say(console.message("account.rolled_over", url=stored.uri))
        if moved:
            console.say(console.message("account.rollover_confs", names=", ".join(moved)))
        return 0
    if not options.account.email:
        raise usage_error("account.update_what")
    contact = [f"mailto:{e.strip()}" for e in options.account.email.split(",") if e.strip()]

    async def update() -> None:
        async with _client(env, c, stored) as client:
            await client.update_account(contact)

    with stores.guard():  # every write holds the certbot lock
        asyncio.run(update())
        store.update_regr(c.server, stored.id, stored.uri, {**stored.body, "contact": contact})
    console.say(console.message("account.contact_updated", email=options.account.email))
    return 0


def unregister(options: UnregisterOptions, console: Console) -> int:
    c = options.common
    env = common.environment(c)
    stores = env.stores
    wanted = options.account.account
    # Deactivation cannot be undone: an unknown --account must not fall back to another one.
    if wanted and wanted not in stores.accounts.ids(c.server):
        raise usage_error("account.unknown_id", account=wanted, server=c.server)
    stored = stores.accounts.load(c.server, wanted) if wanted else _stored(c, stores)
    if not make_prompter(c.non_interactive).confirm(
        console.message("account.deactivate_confirm"), True
    ):
        console.say(console.message("account.nothing_changed"))
        return 0

    async def deactivate() -> None:
        async with _client(env, c, stored) as client:
            await client.deactivate_account()

    with stores.guard():
        asyncio.run(deactivate())
        stores.accounts.delete(c.server, stored.id)
    console.say(console.message("account.deactivated"))
    return 0
