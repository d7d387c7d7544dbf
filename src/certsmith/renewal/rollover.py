"""Account key rollover (RFC 8555 section 7.3.5) that a crash cannot turn into a lost account.

The CA switches the account to the new key the moment it answers ``keyChange``; from then on the
old key is refused. So the new key is on disk before the CA is asked, in three steps::

    1. save the new key as the account's pending rollover key (rollover_key.json, 0400, fsynced)
    2. POST keyChange                                   -- the CA now knows the new key only
    3. promote: save the account under the new key's id, point the renewal confs at it, delete
       the old account folder (its pending key goes with it)

Caller's duty: whoever loads a stored account *to use it* first calls ``settle_rollovers``. For
every account with a pending key it asks the CA (newAccount with onlyReturnExisting, signed with
the pending key) whose account that key is: the same account URL means step 2 happened, and the
promotion is finished; no account (or another one) means it did not, and the pending key is
discarded. A CA that cannot be asked leaves the pending key for the next run. A crash between
any two steps therefore leaves one key that the CA accepts, and the next command finds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from certsmith.acme import AccountDoesNotExist, AcmeClient
from certsmith.acme.jws import AccountKey
from certsmith.errors import CertsmithError
from certsmith.renewal.account import as_account_key
from certsmith.storage.accounts import StoredAccount
from certsmith.storage.interface import LineageStorage, Stores

log = logging.getLogger(__name__)

ClientFor = Callable[[AccountKey], AcmeClient]


async def roll_over(
    client: AcmeClient,
    stores: Stores,
    server: str,
    stored: StoredAccount,
    new_key: AccountKey,
    *,
    lock_timeout: float = 10.0,
) -> tuple[str, list[str]]:
    """Move ``stored`` (``client``'s account) to ``new_key``: pending, keyChange, promote.
    Returns the new account id and the lineages now naming it. Hold the certbot lock."""
    stores.accounts.save_pending_key(server, stored.id, new_key)
    await client.rollover_key(new_key)
    return promote(stores, server, stored, new_key, lock_timeout=lock_timeout)


def promote(
    stores: Stores,
    server: str,
    stored: StoredAccount,
    new_key: AccountKey,
    *,
    lock_timeout: float | None = 10.0,
) -> tuple[str, list[str]]:
    """Step 3: the account under ``new_key``'s id, confs moved to it, the old folder removed.
    Each part may be repeated after a crash. ``lock_timeout`` None: locked lineages are left
    (they keep the old id and find the account as the server's remaining one)."""
    # The account id comes from the key (as certbot's does), so the account moves.
    new_id = stores.accounts.save(server, new_key, stored.uri, stored.body, stored.meta)
    moved = move_lineages(stores.lineages, stored.id, new_id, lock_timeout)
    stores.accounts.delete(server, stored.id)
    return new_id, moved


def move_lineages(
    lineages: LineageStorage, old_id: str, new_id: str, lock_timeout: float | None = 10.0
) -> list[str]:
    """Point renewal confs whose ``account`` is ``old_id`` at the rolled key's id.

    The account id is the key's digest, so a rollover moves the account; confs left naming the
    old id would still renew (the server's remaining account is used) but warn every time.
    A lineage that cannot be updated now (locked by a renewal, unreadable) is logged and left.
    """
    moved = []
    for name in lineages.names():
        try:
            if lock_timeout is None:
                lease = lineages.lock(name, blocking=False)
            else:
                lease = lineages.lock(name, timeout=lock_timeout)
            with lease:
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


async def settle_rollovers(
    stores: Stores, server: str, client_for: ClientFor, *, lock_timeout: float | None = 10.0
) -> None:
    """Finish or undo every rollover of ``server``'s accounts that a crash interrupted (see the
    module docstring). Hold the certbot lock."""
    accounts = stores.accounts
    for ident in accounts.ids(server):
        pending = accounts.pending_key(server, ident)
        if pending is None:
            continue
        try:
            stored = accounts.load(server, ident)
            async with client_for(as_account_key(pending)) as client:
                found = await client.find_account()
        except AccountDoesNotExist:
            log.info("account %s: the CA never took the new key; it is discarded", ident)
            accounts.discard_pending_key(server, ident)
            continue
        except CertsmithError as exc:
            log.warning("account %s: an interrupted key rollover cannot be settled: %s", ident, exc)
            continue
        if found.url != stored.uri:
            log.warning(
                "account %s: the pending key belongs to %s, not %s; it is discarded",
                ident, found.url, stored.uri,
            )  # fmt: skip
            accounts.discard_pending_key(server, ident)
            continue
        new_id, _ = promote(
            stores, server, stored, as_account_key(pending), lock_timeout=lock_timeout
        )
        log.info("account %s: finished an interrupted key rollover; it is now %s", ident, new_id)
