"""AcmeClient: RFC 8555 section 7 over one CA, one account key and one connection pool.

The happy path of one issuance with a known account is eight requests, plus one ``HEAD
newNonce`` when the directory response carries no Replay-Nonce (Pebble 2.10 sends none there)::

    GET directory -> POST newOrder -> POST-as-GET authz -> POST challenge -> POST-as-GET order
    (poll until ready) -> POST finalize -> POST-as-GET order (poll until valid) -> POST-as-GET cert

Later nonces come from the responses themselves, so ``HEAD newNonce`` is only sent when the pool
runs dry. Polls start early and back off (``acme/polling.py``): against a CA that validates and
issues within a few milliseconds each of the two polls is sent once. Dropped connections,
timeouts and 5xx answers are retried within bounds where a repeat is safe (``acme/retry.py``);
a repeated challenge response, finalize or revocation that the CA refuses because the lost
first try went through is read as done. Caller's duties: use ``async with`` (or ``aclose()``),
call ``new_account`` or ``find_account`` first unless ``account_url`` is known, and pass one
overall ``deadline`` (on the client's clock, see ``deadline_in``) to every poll.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography import x509

from certsmith.acme import jws
from certsmith.acme.ari import cert_id, fetch_renewal_info
from certsmith.acme.chains import download_chain
from certsmith.acme.errors import (
    AcmeError,
    AlreadyRevoked,
    NotAnAcmeDirectory,
    ProblemError,
    ProtocolViolation,
)
from certsmith.acme.identifier import Identifier
from certsmith.acme.jws import AccountKey, ExternalAccountBinding
from certsmith.acme.messages import (
    Account,
    Authorization,
    CertificateChain,
    Challenge,
    ChallengeStatus,
    Directory,
    Order,
    OrderStatus,
    RenewalInfo,
)
from certsmith.acme.polling import FIRST_POLL_DELAY, Poller
from certsmith.acme.retry import Repeat
from certsmith.acme.transport import JSON, PEM_CHAIN, Clock, Now, Response, Sender, Sleep

logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AcmeClient:
    """One ACME account at one CA. Not safe for concurrent use by unrelated tasks on one order."""

    def __init__(
        self,
        directory_url: str,
        account_key: AccountKey,
        *,
        account_url: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
        verify_tls: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        now: Now = _utc_now,
        user_agent: str | None = None,
        timeout: httpx.Timeout | None = None,
        max_bad_nonce_retries: int = 50,
        first_poll_delay: float = FIRST_POLL_DELAY,
        max_poll_wait: float = 10.0,
    ) -> None:
        jws.algorithm(account_key)  # refuse unsupported keys now, not at the first request
        self._directory_url = directory_url
        self._key = account_key
        self._account_url = account_url
        self._clock = clock
        self._directory: Directory | None = None
        self._sender = Sender(
            ca_bundle=ca_bundle,
            verify=verify_tls,
            transport=transport,
            clock=clock,
            sleep=sleep,
            now=now,
            user_agent=user_agent,
            timeout=timeout,
            max_bad_nonce_retries=max_bad_nonce_retries,
        )
        self._sender.allow_http = directory_url.lower().startswith("http://")
        self._poller = Poller(
            lambda url: self._post(url, None),
            self._sender.retry_after,
            clock=clock,
            sleep=sleep,
            first_poll_delay=first_poll_delay,
            max_poll_wait=max_poll_wait,
        )

    async def __aenter__(self) -> AcmeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._sender.aclose()

    # --- small accessors ---------------------------------------------------------------

    @property
    def account_url(self) -> str | None:
        return self._account_url

    @property
    def account_key(self) -> AccountKey:
        return self._key

    @property
    def request_count(self) -> int:
        """Every HTTP request sent so far (retries and newNonce included)."""
        return self._sender.request_count

    @property
    def nonce_fetches(self) -> int:
        """How many ``HEAD newNonce`` requests were needed."""
        return self._sender.nonce_fetches

    @property
    def bad_nonce_retries(self) -> int:
        """How many requests were repeated because the CA rejected their nonce."""
        return self._sender.bad_nonce_retries

    @property
    def retries(self) -> int:
        """How many requests were repeated after a lost answer or a 5xx (``acme/retry.py``)."""
        return self._sender.retries

    def deadline_in(self, seconds: float) -> float:
        """An absolute deadline ``seconds`` from now on this client's clock."""
        return self._clock() + seconds

    def key_authorization(self, token: str) -> str:
        """RFC 8555 section 8.1; raises AcmeError for a token outside base64url."""
        return jws.key_authorization(token, self._key)

    def dns01_txt_value(self, token: str) -> str:
        """The TXT record value for ``_acme-challenge.<name>`` (section 8.4)."""
        return jws.dns01_txt_value(self.key_authorization(token))

    # --- plumbing ----------------------------------------------------------------------

    def _require_account(self) -> str:
        if self._account_url is None:
            raise AcmeError("no account URL: call new_account() or find_account() first")
        return self._account_url

    async def _post(
        self,
        url: str,
        payload: Any | None,
        *,
        key: AccountKey | None = None,
        use_jwk: bool = False,
        accept: str | None = JSON,
        repeat: Repeat = Repeat.ONCE,
    ) -> Response:
        """POST ``payload`` (None: POST-as-GET, always safe to repeat) signed by the account."""
        signer = key if key is not None else self._key
        kid = None if use_jwk else self._require_account()
        await self.directory()  # the newNonce URL, should the nonce pool run dry

        def sign(nonce: str) -> dict[str, str]:
            return jws.sign(signer, url, payload, nonce=nonce, kid=kid)

        safe = Repeat.SAFE if payload is None else repeat
        return await self._sender.post(url, sign, accept=accept, repeat=safe)

    async def directory(self) -> Directory:
        """The CA's directory, fetched once and cached (section 7.1.1)."""
        if self._directory is None:
            url = self._directory_url
            try:
                response = await self._sender.get(url)
                self._directory = Directory.from_json(response.json())
            except ProblemError as exc:
                # A 404 or a web page is a wrong URL; a 5xx or a real problem stays as it is.
                if exc.type != "about:blank" or (exc.status or 500) >= 500:
                    raise
                raise NotAnAcmeDirectory(f"{url}: {exc.detail[:200]}", url=url) from exc
            except ProtocolViolation as exc:
                raise NotAnAcmeDirectory(f"{url}: {exc}", url=url) from exc
            self._sender.new_nonce_url = self._directory.new_nonce
        return self._directory

    def _location(self, response: Response) -> str:
        """The response's Location, refused unless https (see ``Sender.check_url``)."""
        url = response.require_location()
        self._sender.check_url(url)
        return url

    # --- accounts (section 7.3) --------------------------------------------------------

    async def _account_request(self, payload: dict[str, Any]) -> Account:
        directory = await self.directory()
        response = await self._post(
            directory.new_account, payload, use_jwk=True, repeat=Repeat.HARMLESS
        )
        url = self._location(response)
        self._account_url = url
        return Account.from_json(response.json(), url)

    async def new_account(
        self,
        contact: Sequence[str] = (),
        *,
        terms_agreed: bool = False,
        eab: ExternalAccountBinding | None = None,
    ) -> Account:
        """Register the key (or return the existing account of this key, section 7.3.1).

        ``terms_agreed`` must come from the user; this layer never agrees on its own.
        """
        directory = await self.directory()
        payload: dict[str, Any] = {"contact": list(contact)}
        if terms_agreed:
            payload["termsOfServiceAgreed"] = True
        if eab is not None:
            payload["externalAccountBinding"] = eab.sign(self._key, directory.new_account)
        return await self._account_request(payload)

    async def find_account(self) -> Account:
        """This key's existing account (``onlyReturnExisting``); AccountDoesNotExist if none."""
        return await self._account_request({"onlyReturnExisting": True})

    async def update_account(self, contact: Sequence[str]) -> Account:
        """Replace the account's contact URLs (section 7.3.2)."""
        url = self._require_account()
        response = await self._post(url, {"contact": list(contact)}, repeat=Repeat.HARMLESS)
        return Account.from_json(response.json(), url)

    async def deactivate_account(self) -> Account:
        """Deactivate the account for good (section 7.3.6)."""
        url = self._require_account()
        response = await self._post(url, {"status": "deactivated"})
        return Account.from_json(response.json(), url)

    async def rollover_key(self, new_key: AccountKey) -> None:
        """Move the account to ``new_key`` (section 7.3.5); later requests are signed with it."""
        jws.algorithm(new_key)
        directory = await self.directory()
        account = self._require_account()
        inner = jws.sign(
            new_key,
            directory.key_change,
            {"account": account, "oldKey": jws.jwk(self._key)},
            nonce=None,
        )
        await self._post(directory.key_change, inner, accept=None)
        self._key = new_key

    # --- orders and authorizations (sections 7.4, 7.5) --------------------------------

    async def new_order(
        self,
        identifiers: Iterable[Identifier],
        *,
        profile: str | None = None,
        replaces: str | None = None,
    ) -> Order:
        """Create an order; ``replaces`` is the RFC 9773 certID of the certificate it renews."""
        directory = await self.directory()
        payload: dict[str, Any] = {"identifiers": [i.to_json() for i in identifiers]}
        if not payload["identifiers"]:
            raise AcmeError("an order needs at least one identifier")
        if profile is not None:
            payload["profile"] = profile
        if replaces is not None:
            payload["replaces"] = replaces
        # A repeat after a lost answer may leave a spare pending order, which expires unused.
        response = await self._post(directory.new_order, payload, repeat=Repeat.HARMLESS)
        return Order.from_json(response.json(), self._location(response))

    async def get_order(self, url: str) -> Order:
        response = await self._post(url, None)
        return Order.from_json(response.json(), url)

    async def get_authorization(self, url: str) -> Authorization:
        response = await self._post(url, None)
        return Authorization.from_json(response.json(), url)

    async def respond_challenge(self, challenge: Challenge) -> Challenge:
        """Tell the CA the response is in place (section 7.5.1)."""
        try:
            response = await self._post(challenge.url, {}, repeat=Repeat.HARMLESS)
        except ProblemError as exc:
            if exc.attempts < 2:
                raise
            # Pebble and Boulder refuse a second start ("malformed"); did the lost first try land?
            current = Challenge.from_json((await self._post(challenge.url, None)).json())
            if current.status == ChallengeStatus.PENDING:
                raise
            logger.info("%s: the CA had the first try of the challenge response", challenge.url)
            return current
        return Challenge.from_json(response.json())

    async def finalize(self, order: Order, csr_der: bytes) -> Order:
        """Send the CSR (section 7.4); the order usually comes back ``processing``."""
        try:
            payload = {"csr": jws.b64url(csr_der)}
            response = await self._post(order.finalize, payload, repeat=Repeat.HARMLESS)
        except ProblemError as exc:
            if exc.attempts < 2:
                raise
            # A second finalize is refused (orderNotReady); did the lost first try land?
            current = await self.get_order(order.url)
            if current.status not in (OrderStatus.PROCESSING, OrderStatus.VALID):
                raise
            logger.info("%s: the CA had the first try of the finalize", order.url)
            return current
        location = self._location(response) if response.location else order.url
        return Order.from_json(response.json(), location)

    # --- polling (acme/polling.py) -----------------------------------------------------

    async def poll_authorization(self, url: str, deadline: float) -> Authorization:
        """Poll until the authorization leaves ``pending``; raises ValidationFailed unless valid."""
        return await self._poller.authorization(url, deadline)

    async def poll_order(
        self, order: Order, deadline: float, until: OrderStatus = OrderStatus.READY
    ) -> Order:
        """Poll the order until it is ``until`` (READY or VALID) or further along; PollTimeout
        when ``deadline`` passes, ValidationFailed or the order's error when it is invalid.
        Without a request when it already is (details: ``Poller.order``)."""
        return await self._poller.order(order, deadline, until)

    # --- certificates (sections 7.4.2, 7.6) ---------------------------------------------

    async def download_certificate(
        self, url: str, preferred_chain: str | None = None
    ) -> CertificateChain:
        """Download the chain; with ``preferred_chain`` (an issuer CN) also the alternates.

        Alternates (``Link: rel="alternate"``) are fetched only when a preference is given.
        """

        async def fetch(link: str) -> Response:
            return await self._post(link, None, accept=PEM_CHAIN)

        return await download_chain(fetch, self._sender.check_url, url, preferred_chain)

    async def revoke(
        self, cert_der: bytes, reason: int = 0, cert_key: AccountKey | None = None
    ) -> None:
        """Revoke (section 7.6): signed by the account, or with ``cert_key`` by the cert's key."""
        if not 0 <= reason <= 10 or reason == 7:
            raise AcmeError(f"{reason} is not an RFC 5280 revocation reason code")
        directory = await self.directory()
        payload = {"certificate": jws.b64url(cert_der), "reason": reason}
        try:
            await self._post(
                directory.revoke_cert,
                payload,
                key=cert_key,
                use_jwk=cert_key is not None,
                accept=None,
                repeat=Repeat.HARMLESS,
            )
        except AlreadyRevoked as exc:
            if exc.attempts < 2:
                raise
            logger.info("the CA had the first try of the revocation (its answer was lost)")

    async def renewal_info(self, cert: x509.Certificate) -> RenewalInfo | None:
        """RFC 9773 renewal information, or None when the CA does not offer ARI."""
        directory = await self.directory()
        if directory.renewal_info is None:
            return None
        return await fetch_renewal_info(self._sender, directory.renewal_info, cert)

    @staticmethod
    def cert_id(cert: x509.Certificate) -> str:
        """The RFC 9773 certificate identifier, for ``new_order(replaces=...)``."""
        return cert_id(cert)
