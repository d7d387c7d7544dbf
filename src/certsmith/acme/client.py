"""AcmeClient: RFC 8555 section 7 over one CA, one account key and one connection pool.

The happy path of one issuance with a known account is eight requests, plus one ``HEAD
newNonce`` when the directory response carries no Replay-Nonce (Pebble 2.10 sends none there)::

    GET directory -> POST newOrder -> POST-as-GET authz -> POST challenge -> POST-as-GET order
    (poll until ready) -> POST finalize -> POST-as-GET order (poll until valid) -> POST-as-GET cert

Later nonces come from the responses themselves, so ``HEAD newNonce`` is only sent when the pool
runs dry. Polls start early and back off (see ``poll_order``): against a CA that validates and
issues within a few milliseconds each of the two polls is sent once. Caller's duties: use
``async with`` (or ``aclose()``), call ``new_account`` or ``find_account`` first unless
``account_url`` is known, and pass one overall ``deadline`` (on the client's clock, see
``deadline_in``) to every poll.
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
from certsmith.acme.chains import choose_chain, parse_chain
from certsmith.acme.errors import (
    AcmeError,
    NotAnAcmeDirectory,
    PollTimeout,
    ProblemError,
    ProtocolViolation,
    ValidationFailed,
)
from certsmith.acme.identifier import Identifier
from certsmith.acme.jws import AccountKey, ExternalAccountBinding
from certsmith.acme.messages import (
    Account,
    Authorization,
    AuthorizationStatus,
    CertificateChain,
    Challenge,
    Directory,
    Order,
    OrderStatus,
    RenewalInfo,
)
from certsmith.acme.transport import JSON, PEM_CHAIN, Clock, Now, Response, Sender, Sleep

logger = logging.getLogger(__name__)

_MAX_POLLS = 1000
_MAX_ALTERNATES = 10
# The first poll after answering a challenge or finalizing. Pebble 2.10 without validation sleep
# has validated within 3-8 ms and issued within 3 ms of the response on loopback; 20 ms leaves
# room for a loaded machine, so one poll usually does, while a miss costs only one request.
FIRST_POLL_DELAY = 0.02
# Waits between polls never fall below this, whatever Retry-After says: a CA answering
# "Retry-After: 0" must not get up to _MAX_POLLS requests back to back.
_MIN_POLL_WAIT = 0.02


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
        self._sleep = sleep
        self._first_poll_delay = first_poll_delay
        self._max_poll_wait = max_poll_wait
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
    ) -> Response:
        signer = key if key is not None else self._key
        kid = None if use_jwk else self._require_account()
        await self.directory()  # the newNonce URL, should the nonce pool run dry

        def sign(nonce: str) -> dict[str, str]:
            return jws.sign(signer, url, payload, nonce=nonce, kid=kid)

        # POST-as-GET changes nothing on the server, so it may be repeated after a 5xx.
        return await self._sender.post(url, sign, accept=accept, idempotent=payload is None)

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
        response = await self._post(directory.new_account, payload, use_jwk=True)
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
        response = await self._post(url, {"contact": list(contact)})
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
        response = await self._post(directory.new_order, payload)
        return Order.from_json(response.json(), self._location(response))

    async def get_order(self, url: str) -> Order:
        response = await self._post(url, None)
        return Order.from_json(response.json(), url)

    async def get_authorization(self, url: str) -> Authorization:
        response = await self._post(url, None)
        return Authorization.from_json(response.json(), url)

    async def respond_challenge(self, challenge: Challenge) -> Challenge:
        """Tell the CA the response is in place (section 7.5.1)."""
        response = await self._post(challenge.url, {})
        return Challenge.from_json(response.json())

    async def finalize(self, order: Order, csr_der: bytes) -> Order:
        """Send the CSR (section 7.4); the order usually comes back ``processing``."""
        response = await self._post(order.finalize, {"csr": jws.b64url(csr_der)})
        location = self._location(response) if response.location else order.url
        return Order.from_json(response.json(), location)

    # --- polling -------------------------------------------------------------------------

    async def _wait(self, delay: float, deadline: float, what: str) -> None:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise PollTimeout(f"gave up waiting for {what}: the deadline passed")
        await self._sleep(max(0.0, min(delay, remaining)))

    def _next_delay(self, response: Response, previous: float) -> float:
        """The wait before the next poll: the poll response's Retry-After when it has one, else
        twice the previous wait; never below _MIN_POLL_WAIT nor above ``max_poll_wait``.

        Only poll responses are asked: the Retry-After that a challenge or finalize response
        carries is not waited for before the first poll. CAs send a fixed value there, not an
        estimate (Pebble 2.10 sends its configured seconds on every finalize, however soon the
        certificate is ready; certbot ignores it too), and a CA still busy at the first poll
        says so again in that poll's response, which is then honoured.
        """
        hinted = self._sender.retry_after(response)
        wanted = hinted if hinted is not None else previous * 2
        return min(max(wanted, _MIN_POLL_WAIT), self._max_poll_wait)

    async def poll_authorization(self, url: str, deadline: float) -> Authorization:
        """Poll until the authorization leaves ``pending``; raises ValidationFailed unless valid."""
        delay = self._first_poll_delay
        for _ in range(_MAX_POLLS):
            await self._wait(delay, deadline, f"authorization {url}")
            response = await self._post(url, None)
            authz = Authorization.from_json(response.json(), url)
            if authz.status == AuthorizationStatus.VALID:
                return authz
            if authz.status != AuthorizationStatus.PENDING:
                raise ValidationFailed(authz.identifier, authz.failure)
            delay = self._next_delay(response, delay)
        raise PollTimeout(f"authorization {url} still pending after {_MAX_POLLS} polls")

    async def poll_order(
        self, order: Order, deadline: float, until: OrderStatus = OrderStatus.READY
    ) -> Order:
        """Poll the order until it is ``until`` (READY or VALID) or further along.

        Returns at once, without a request, when ``order`` already is (a finalize answered
        ``valid`` needs no poll). A READY order is returned when waiting for VALID too: only
        ``finalize`` moves it on. The first poll comes ``first_poll_delay`` after the call, later
        ones after the poll response's Retry-After, else twice the previous wait, capped at
        ``max_poll_wait``; at most _MAX_POLLS polls, PollTimeout when ``deadline`` passes. An
        invalid order raises ValidationFailed for the first failed authorization, else the
        order's error.
        """
        if until not in (OrderStatus.READY, OrderStatus.VALID):
            raise AcmeError("poll_order waits for READY or VALID")
        current, delay = order, self._first_poll_delay
        for _ in range(_MAX_POLLS):
            if current.status == OrderStatus.INVALID:
                raise await self._order_failure(current)
            waiting = current.status == OrderStatus.PENDING or (
                until == OrderStatus.VALID and current.status == OrderStatus.PROCESSING
            )
            if not waiting:
                return current
            await self._wait(delay, deadline, f"order {order.url}")
            response = await self._post(order.url, None)
            current = Order.from_json(response.json(), order.url)
            delay = self._next_delay(response, delay)
        raise PollTimeout(f"order {order.url} not {until} after {_MAX_POLLS} polls")

    async def _order_failure(self, order: Order) -> AcmeError:
        for url in order.authorizations:
            authz = await self.get_authorization(url)
            if authz.status == AuthorizationStatus.INVALID:
                return ValidationFailed(authz.identifier, authz.failure)
        if order.error is not None:
            return order.error
        return ProtocolViolation(f"order {order.url} is invalid and says nothing about why")

    # --- certificates (sections 7.4.2, 7.6) ---------------------------------------------

    async def _fetch_chain(self, url: str) -> tuple[str, Response]:
        response = await self._post(url, None, accept=PEM_CHAIN)
        try:
            pem = response.body.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolViolation(f"{url} sent a certificate chain that is not ASCII") from None
        parse_chain(pem)
        return pem, response

    async def download_certificate(
        self, url: str, preferred_chain: str | None = None
    ) -> CertificateChain:
        """Download the chain; with ``preferred_chain`` (an issuer CN) also the alternates.

        Alternates (``Link: rel="alternate"``) are fetched only when a preference is given.
        """
        default, response = await self._fetch_chain(url)
        if preferred_chain is None:
            return CertificateChain(default)
        chains = [default]
        for link in response.links("alternate")[:_MAX_ALTERNATES]:
            try:
                self._sender.check_url(link)
            except ProtocolViolation as exc:
                logger.warning("Skipping an alternate chain: %s", exc)
                continue
            chains.append((await self._fetch_chain(link))[0])
        chosen = choose_chain(chains, preferred_chain)
        return CertificateChain(chosen, tuple(c for c in chains if c is not chosen))

    async def revoke(
        self, cert_der: bytes, reason: int = 0, cert_key: AccountKey | None = None
    ) -> None:
        """Revoke (section 7.6): signed by the account, or with ``cert_key`` by the cert's key."""
        if not 0 <= reason <= 10 or reason == 7:
            raise AcmeError(f"{reason} is not an RFC 5280 revocation reason code")
        directory = await self.directory()
        payload = {"certificate": jws.b64url(cert_der), "reason": reason}
        await self._post(
            directory.revoke_cert,
            payload,
            key=cert_key,
            use_jwk=cert_key is not None,
            accept=None,
        )

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
