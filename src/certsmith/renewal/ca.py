"""One ACME client per CA and account for a whole run, so a run fetches each CA's directory
once and looks its stored account up once, however many lineages it handles. A missing account
is registered only when an order is about to be made (after the pre-flight passed)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from certsmith.acme import AcmeClient, Directory
from certsmith.renewal.account import (
    ActiveAccount,
    Registration,
    as_account_key,
    new_account_key,
    register_account,
)
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.rollover import settle_rollovers
from certsmith.renewal.settings import LineageSettings
from certsmith.storage.accounts import StoredAccount
from certsmith.storage.interface import find_account


def client_for(
    env: RunEnvironment, settings: LineageSettings, key: object, url: str | None = None
) -> AcmeClient:
    """A client of the lineage's CA (``settings.server``, its CA bundle) for account ``key``."""
    return AcmeClient(
        settings.server,
        as_account_key(key),
        account_url=url,
        ca_bundle=settings.ca_bundle,
        verify_tls=env.verify_tls,
        transport=env.transport,
        user_agent=settings.user_agent or env.user_agent,  # a stored --user-agent (certbot)
    )


async def read_directory(env: RunEnvironment, settings: LineageSettings) -> Directory:
    """The CA's directory, read without an account (a throwaway key that never signs)."""
    async with client_for(env, settings, new_account_key()) as client:
        return await client.directory()


@dataclass
class Session:
    client: AcmeClient
    account: ActiveAccount | None  # None until registered
    registering: asyncio.Lock = field(default_factory=asyncio.Lock)


class CaSessions:
    """One ACME client per (CA, account) for the run; the stored account is looked up once."""

    def __init__(self, env: RunEnvironment, registration: Registration) -> None:
        self._env, self._registration = env, registration
        self._sessions: dict[tuple[str, str | None, str | None, str | None], Session] = {}
        self._found: dict[tuple[str, str | None], StoredAccount | None] = {}
        self._settled: set[str] = set()  # servers whose interrupted rollovers were settled
        self._lock = asyncio.Lock()

    def _stored(self, settings: LineageSettings) -> StoredAccount | None:
        """The stored account for the lineage's CA, looked up once per (server, account id)."""
        wanted = (settings.server, settings.account)
        if wanted not in self._found:
            accounts = self._env.stores.accounts
            self._found[wanted] = find_account(accounts, settings.server, settings.account)
        return self._found[wanted]

    def _client(self, settings: LineageSettings, key: object, url: str | None) -> AcmeClient:
        return client_for(self._env, settings, key, url)

    async def _settle(self, settings: LineageSettings) -> None:
        """Finish or undo a key rollover a crash interrupted (renewal/rollover.py), once per
        server, before its stored account is looked up. Lineages this run holds locked keep
        the old id in their conf; the account is still found as the server's remaining one."""
        if settings.server in self._settled:
            return
        self._settled.add(settings.server)

        def client(key: object) -> AcmeClient:
            return self._client(settings, key, None)

        await settle_rollovers(self._env.stores, settings.server, client, lock_timeout=None)
        for found in [f for f in self._found if f[0] == settings.server]:
            del self._found[found]  # looked up again: the account may have moved

    async def session(self, settings: LineageSettings, *, settle: bool = True) -> Session:
        """The session of the lineage's CA and account. ``settle``: finish an interrupted key
        rollover first (it writes; the ARI GETs of the check, even in the read-only helper
        process, do without)."""
        async with self._lock:
            if settle:
                await self._settle(settings)
            stored = self._stored(settings)
            # Lineages naming the account by id and those that do not share one session.
            key = (
                settings.server,
                stored.id if stored else None,
                settings.ca_bundle,
                settings.user_agent,
            )
            if key not in self._sessions:
                if stored is None:  # registered only after the pre-flight passes
                    session = Session(self._client(settings, new_account_key(), None), None)
                else:
                    client = self._client(settings, stored.key, stored.uri)
                    account = ActiveAccount(stored.id, client.account_key, stored.uri)
                    session = Session(client, account)
                self._sessions[key] = session
            return self._sessions[key]

    async def ari_client(self, settings: LineageSettings) -> AcmeClient | None:
        """The client for renewalInfo GETs: the session's, with the stored account's key or,
        when none is stored, a throwaway one (the GET is unauthenticated, RFC 9773 section
        4.1; an account registered later in the run takes over the same session)."""
        return (await self.session(settings, settle=False)).client

    async def registered(self, session: Session, settings: LineageSettings) -> ActiveAccount:
        async with session.registering:
            if session.account is None:
                session.account = await register_account(
                    session.client,
                    self._env.stores.accounts,
                    settings.server,
                    self._env.events,
                    self._registration,
                )
            return session.account

    async def aclose(self) -> None:
        for session in self._sessions.values():
            await session.client.aclose()
