"""Account commands: register, show_account, update_account (incl. key rollover), unregister."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from certsmith import crypto
from certsmith.acme import AcmeClient
from certsmith.acme.jws import AccountKey
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
from certsmith.errors import CertsmithError, UsageError
from certsmith.renewal.account import as_account_key, find_stored_account, register_account
from certsmith.renewal.settings import LineageSettings
from certsmith.storage import AccountStore, LineageStore, StoredAccount
from certsmith.storage.locks import excluding_certbot

log = logging.getLogger(__name__)


def _settings(options: CommonOptions) -> LineageSettings:
    ca_bundle = str(options.ca_bundle) if options.ca_bundle else None
    return LineageSettings(server=options.server, ca_bundle=ca_bundle)


def _stored(options: CommonOptions) -> StoredAccount:
    stored = find_stored_account(options.config_dir, options.server)
    if stored is None:
        raise UsageError(
            f"No account for {options.server} is stored here; run `certsmith register`."
        )
    return stored


def _client(options: CommonOptions, stored: StoredAccount) -> AcmeClient:
    env = common.environment(options)
    return env.client(_settings(options), as_account_key(stored.key), stored.uri)


def register(options: RegisterOptions, console: Console) -> int:
    c = options.common
    if find_stored_account(c.config_dir, c.server) is not None:
        raise UsageError(
            f"An account for {c.server} already exists here; see `certsmith show_account`."
        )
    prompter = make_prompter(c.non_interactive)
    registration = common.registration(options.account, prompter, needs_email=True)
    env = common.environment(c)
    settings = _settings(c)

    def factory(key: AccountKey, url: str | None) -> AcmeClient:
        return env.client(settings, key, url)

    with excluding_certbot(c.config_dir):
        account = asyncio.run(register_account(factory, c.config_dir, c.server, registration))
    console.say(f"Account registered: {account.url}")
    return 0


def show_account(options: ShowAccountOptions, console: Console) -> int:
    stored = _stored(options.common)

    async def fetch() -> tuple[str, tuple[str, ...], str]:
        async with _client(options.common, stored) as client:
            account = await client.find_account()
        return account.url, account.contact, str(account.status)

    url, contacts, status = asyncio.run(fetch())
    emails = ", ".join(c.removeprefix("mailto:") for c in contacts) or "none"
    console.say(
        f"Account details for server {options.common.server}:\n  Account URL: {url}\n"
        f"  Account status: {status}\n  Email contact: {emails}"
    )
    return 0


def update_account(options: UpdateAccountOptions, console: Console) -> int:
    c = options.common
    stored = _stored(c)
    store = AccountStore(c.config_dir)
    if options.rollover_key:
        new_key = as_account_key(crypto.generate_private_key("ecdsa"))

        async def roll() -> None:
            async with _client(c, stored) as client:
                await client.rollover_key(new_key)

        with excluding_certbot(c.config_dir):
            asyncio.run(roll())
            # The account id comes from the key (as certbot's does), so the account moves.
            new_id = store.save(c.server, new_key, stored.uri, stored.body, stored.meta)
            moved = _move_lineages(c.config_dir, stored.id, new_id)
            store.delete(c.server, stored.id)
        console.say(f"Rolled the account key over; the account URL stays {stored.uri}.")
        if moved:
            console.say(f"Renewal configurations now naming the new key: {', '.join(moved)}.")
        return 0
    if not options.account.email:
        raise UsageError("Say what to change: --email ADDRESS, or --rollover-key.")
    contact = [f"mailto:{e.strip()}" for e in options.account.email.split(",") if e.strip()]

    async def update() -> None:
        async with _client(c, stored) as client:
            await client.update_account(contact)

    asyncio.run(update())
    store.update_regr(c.server, stored.id, stored.uri, {**stored.body, "contact": contact})
    console.say(f"Updated the account's contact to {options.account.email}.")
    return 0


def _move_lineages(config_dir: Path, old_id: str, new_id: str) -> list[str]:
    """Point renewal confs whose ``account`` is ``old_id`` at the rolled key's id.

    The account id is the key's digest, so a rollover moves the account; confs left naming the
    old id would still renew (the server's remaining account is used) but warn every time.
    A lineage that cannot be updated now (locked by a renewal, unreadable) is logged and left.
    """
    lineages = LineageStore(config_dir)
    moved = []
    for name in lineages.names():
        try:
            with lineages.lock(name, timeout=10.0):
                conf = lineages.read_conf(name)
                params = conf.renewalparams
                if params.get_str("account") != old_id:
                    continue
                params.set("account", new_id)
                lineages.write_conf(name, conf)
                moved.append(name)
        except CertsmithError as exc:
            log.warning("could not point %s at the new account key: %s", name, exc)
    return moved


def unregister(options: UnregisterOptions, console: Console) -> int:
    c = options.common
    stored = _stored(c)
    if not make_prompter(c.non_interactive).confirm(
        "Deactivate the account? It cannot be used again, at this CA, ever.", True
    ):
        console.say("Nothing changed.")
        return 0

    async def deactivate() -> None:
        async with _client(c, stored) as client:
            await client.deactivate_account()

    with excluding_certbot(c.config_dir):
        asyncio.run(deactivate())
        AccountStore(c.config_dir).delete(c.server, stored.id)
    console.say("Account deactivated.")
    return 0
