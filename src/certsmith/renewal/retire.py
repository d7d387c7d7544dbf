"""Retiring lineages: revoke a certificate at its CA, remember that it was revoked (so `renew`
replaces it and `certificates` shows it), delete a lineage. Used by the engine and by `revoke`
for certificates that are not a lineage here."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import replace

from certsmith.acme import AlreadyRevoked
from certsmith.acme.jws import AccountKey
from certsmith.errors import UsageError
from certsmith.renewal.ca import CaSessions, client_for
from certsmith.renewal.due import certificate_facts
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.settings import LineageSettings
from certsmith.storage.interface import Stores
from certsmith.wording import said


async def revoke_with_account(
    ca: CaSessions, settings: LineageSettings, der: bytes, reason: int
) -> None:
    """Revoke signed by the account stored for ``settings.server`` (RFC 8555 section 7.6)."""
    session = await ca.session(settings)
    if session.account is None:
        raise UsageError(said("engine.revoke_no_account", server=settings.server))
    await session.client.revoke(der, reason)


async def revoke_with_certificate_key(
    env: RunEnvironment, settings: LineageSettings, key: AccountKey, der: bytes, reason: int
) -> None:
    """Revoke signed with the certificate's own key, as a JWK; no account involved."""
    async with client_for(env, settings, key) as client:
        await client.revoke(der, reason, cert_key=key)


async def remembered(stores: Stores, name: str | None, revoking: Awaitable[None]) -> None:
    """Await ``revoking`` (the request to the CA) with lineage ``name``'s certificate marked
    revoked beforehand: a run killed after the CA revoked it must not leave a revoked
    certificate that `renew` and `certificates` take for valid. A refused request takes the
    mark back; a kill before the CA acted leaves it (the next renew replaces a certificate
    that may still be valid: the safe side)."""
    if name is None:
        await revoking
        return
    mark_revoked(stores, name)
    try:
        await revoking
    except AlreadyRevoked:
        raise
    except BaseException:
        mark_revoked(stores, name, revoked=False)
        raise


def mark_revoked(stores: Stores, name: str, *, revoked: bool = True) -> None:
    """Remember in the renewal state that lineage ``name``'s certificate was revoked (or,
    ``revoked`` False, that it was not after all)."""
    lineage = stores.lineages.load(name)
    revision = stores.lineages.revision(name)
    state = stores.states.load(name, revision)
    if state is None and revision is not None:
        state = certificate_facts(lineage.certificate(), revision)
    if state is not None:
        # Out of the quick index too: its verdict (due at once) differs from the indexed one.
        stores.states.save(name, replace(state, revoked=revoked, quick=None))
        stores.states.flush()


def delete_lineage(stores: Stores, name: str) -> None:
    """Remove lineage ``name`` and its cached state, under its lock."""
    with stores.lineages.lock(name):
        stores.lineages.delete(name)
    stores.states.delete(name)
