"""The ACME account a run uses: the stored one for the server, or a new registration.

The terms of service are never agreed on the user's behalf: the run's events ask a person or
answer with what ``--agree-tos`` said.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from certsmith.acme import AcmeClient, ExternalAccountBinding
from certsmith.acme.jws import AccountKey
from certsmith.errors import DiskWriteFailed, UsageError
from certsmith.renewal.events import EngineEvents
from certsmith.storage.interface import AccountStorage
from certsmith.storage.pending import describe_os_error
from certsmith.wording import said

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """What a new account needs beyond what the events ask: the CA's binding, if it wants one."""

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
    raise UsageError(said("engine.account_key_unusable"))


def new_account_key() -> AccountKey:
    """A P-256 key for a new account (certbot's default for new accounts since 2.0)."""
    from certsmith import crypto

    return as_account_key(crypto.generate_private_key("ecdsa"))


async def register_account(
    client: AcmeClient,
    accounts: AccountStorage,
    server: str,
    events: EngineEvents,
    registration: Registration,
) -> ActiveAccount:
    """Register ``client``'s key with the CA (terms and contact through ``events``) and store
    the account. The client keeps the account URL for the requests that follow."""
    directory = await client.directory()
    emails = (events.registration_email() or "").split(",")  # certbot: -m a@x,b@y
    terms = directory.meta.terms_of_service
    agreed = False
    if terms is not None:
        if not await events.agree_to_terms(terms):
            raise UsageError(said("engine.terms_needed", terms=terms))
        agreed = True
    if directory.meta.external_account_required and registration.eab is None:
        raise UsageError(said("engine.eab_needed"))
    contact = [f"mailto:{e.strip()}" for e in emails if e.strip()]
    account = await client.new_account(contact, terms_agreed=agreed, eab=registration.eab)
    body: dict[str, object] = {"contact": list(account.contact), "status": str(account.status)}
    if agreed:
        body["termsOfServiceAgreed"] = True
    try:
        ident = accounts.save(server, client.account_key, account.url, body)
    except OSError as exc:  # a full disk: this order fails, never the whole run
        where = f" ({exc.filename})" if exc.filename else ""
        raise DiskWriteFailed(
            f"Could not save the account the CA registered ({account.url}): "
            f"{describe_os_error(exc)}{where}. No certificate was ordered; the next run "
            "registers a new account.",
            errno=exc.errno,
        ) from exc
    log.info("registered account %s at %s", account.url, server)
    return ActiveAccount(ident, client.account_key, account.url)
