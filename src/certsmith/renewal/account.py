"""The ACME account a run uses: the stored one for the server, or a new registration.

The terms of service are never agreed on the user's behalf: ``agree_tos`` comes from the CLI,
which asks a person or requires ``--agree-tos``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from certsmith import crypto
from certsmith.acme import AcmeClient, ExternalAccountBinding
from certsmith.acme.jws import AccountKey
from certsmith.errors import UsageError
from certsmith.storage import AccountStore, StoredAccount

log = logging.getLogger(__name__)

# Asked with the CA's terms URL (or None); returns True when the user agrees.
AgreeToTerms = Callable[[str | None], Awaitable[bool]]


@dataclass(frozen=True)
class Registration:
    """What a new account needs from the user."""

    email: str | None = None
    agree_tos: AgreeToTerms | None = None
    eab: ExternalAccountBinding | None = None


@dataclass(frozen=True)
class ActiveAccount:
    id: str
    key: AccountKey
    url: str


def as_account_key(key: object) -> AccountKey:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        return key
    raise UsageError("The stored account key is neither RSA nor ECDSA; certsmith cannot use it.")


def find_stored_account(
    config_dir: Path, server: str, account_id: str | None = None
) -> StoredAccount | None:
    """The account stored for ``server`` (``account_id`` if given, else the oldest)."""
    store = AccountStore(config_dir)
    if account_id:
        if account_id in store.ids(server):
            return store.load(server, account_id)
        log.warning(
            "account %s named in the renewal conf is not stored; looking further", account_id
        )
    accounts = store.list(server)
    if not accounts:
        return None
    return min(accounts, key=lambda a: str(a.meta.get("creation_dt", "")))


async def ensure_account(
    client_factory: Callable[[AccountKey, str | None], AcmeClient],
    config_dir: Path,
    server: str,
    registration: Registration,
    account_id: str | None = None,
) -> ActiveAccount:
    """Use the stored account for ``server``, or register a new one and store it."""
    stored = find_stored_account(config_dir, server, account_id)
    if stored is not None:
        return ActiveAccount(stored.id, as_account_key(stored.key), stored.uri)
    return await register_account(client_factory, config_dir, server, registration)


async def register_account(
    client_factory: Callable[[AccountKey, str | None], AcmeClient],
    config_dir: Path,
    server: str,
    registration: Registration,
) -> ActiveAccount:
    """Register a new P-256 account key with the CA and store it in certbot's layout."""
    key = as_account_key(crypto.generate_private_key("ecdsa"))
    async with client_factory(key, None) as client:
        directory = await client.directory()
        terms = directory.meta.terms_of_service
        agreed = False
        if terms is not None:
            if registration.agree_tos is None or not await registration.agree_tos(terms):
                raise UsageError(
                    f"You must agree to the CA's terms of service ({terms}); pass --agree-tos."
                )
            agreed = True
        if directory.meta.external_account_required and registration.eab is None:
            raise UsageError(
                "This CA requires External Account Binding; pass --eab-kid and --eab-hmac-key."
            )
        emails = (registration.email or "").split(",")  # certbot: -m a@x,b@y
        contact = [f"mailto:{e.strip()}" for e in emails if e.strip()]
        account = await client.new_account(contact, terms_agreed=agreed, eab=registration.eab)
    body: dict[str, object] = {"contact": list(account.contact), "status": str(account.status)}
    if agreed:
        body["termsOfServiceAgreed"] = True
    ident = AccountStore(config_dir).save(server, key, account.url, body)
    log.info("registered account %s at %s", account.url, server)
    return ActiveAccount(ident, key, account.url)
