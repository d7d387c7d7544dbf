"""Waiting for the CA: polling authorizations and orders (RFC 8555 sections 7.5.1 and 7.4).

``AcmeClient.poll_authorization`` and ``AcmeClient.poll_order`` are the public entries; this
module holds their timing policy. Polls start early and back off: the first comes
``first_poll_delay`` after the call, later ones after the poll response's ``Retry-After``, else
twice the previous wait, never below ``MIN_POLL_WAIT`` nor above ``max_poll_wait``; at most
``MAX_POLLS`` polls, and ``PollTimeout`` when the caller's deadline passes.
"""

from __future__ import annotations

from collections.abc import Callable

from certsmith.acme.errors import AcmeError, PollTimeout, ProtocolViolation, ValidationFailed
from certsmith.acme.messages import Authorization, AuthorizationStatus, Order, OrderStatus
from certsmith.acme.transport import Clock, Fetch, Response, Sleep

MAX_POLLS = 1000
# The first poll after answering a challenge or finalizing. Pebble 2.10 without validation sleep
# has validated within 3-8 ms and issued within 3 ms of the response on loopback; 20 ms leaves
# room for a loaded machine, so one poll usually does, while a miss costs only one request.
FIRST_POLL_DELAY = 0.02
# Waits between polls never fall below this, whatever Retry-After says: a CA answering
# "Retry-After: 0" must not get up to MAX_POLLS requests back to back.
MIN_POLL_WAIT = 0.02


class Poller:
    """Polls through ``fetch`` (a POST-as-GET of one URL) on an injected clock and sleep.

    ``retry_after`` reads a response's Retry-After in seconds (``Sender.retry_after``).
    """

    def __init__(
        self,
        fetch: Fetch,
        retry_after: Callable[[Response], float | None],
        *,
        clock: Clock,
        sleep: Sleep,
        first_poll_delay: float,
        max_poll_wait: float,
    ) -> None:
        self._fetch = fetch
        self._retry_after = retry_after
        self._clock, self._sleep = clock, sleep
        self._first_poll_delay = first_poll_delay
        self._max_poll_wait = max_poll_wait

    async def _wait(self, delay: float, deadline: float, what: str) -> None:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise PollTimeout(f"gave up waiting for {what}: the deadline passed")
        await self._sleep(max(0.0, min(delay, remaining)))

    def _next_delay(self, response: Response, previous: float) -> float:
        """The wait before the next poll: the poll response's Retry-After when it has one, else
        twice the previous wait; never below MIN_POLL_WAIT nor above ``max_poll_wait``.

        Only poll responses are asked: the Retry-After that a challenge or finalize response
        carries is not waited for before the first poll. CAs send a fixed value there, not an
        estimate (Pebble 2.10 sends its configured seconds on every finalize, however soon the
        certificate is ready; certbot ignores it too), and a CA still busy at the first poll
        says so again in that poll's response, which is then honoured.
        """
        hinted = self._retry_after(response)
        wanted = hinted if hinted is not None else previous * 2
        return min(max(wanted, MIN_POLL_WAIT), self._max_poll_wait)

    async def authorization(self, url: str, deadline: float) -> Authorization:
        """Poll until the authorization leaves ``pending``; raises ValidationFailed unless valid."""
        delay = self._first_poll_delay
        for _ in range(MAX_POLLS):
            await self._wait(delay, deadline, f"authorization {url}")
            response = await self._fetch(url)
            authz = Authorization.from_json(response.json(), url)
            if authz.status == AuthorizationStatus.VALID:
                return authz
            if authz.status != AuthorizationStatus.PENDING:
                raise ValidationFailed(authz.identifier, authz.failure)
            delay = self._next_delay(response, delay)
        raise PollTimeout(f"authorization {url} still pending after {MAX_POLLS} polls")

    async def order(self, order: Order, deadline: float, until: OrderStatus) -> Order:
        """Poll the order until it is ``until`` (READY or VALID) or further along.

        Returns at once, without a request, when ``order`` already is (a finalize answered
        ``valid`` needs no poll). A READY order is returned when waiting for VALID too: only
        ``finalize`` moves it on. An invalid order raises ValidationFailed for the first failed
        authorization, else the order's error.
        """
        if until not in (OrderStatus.READY, OrderStatus.VALID):
            raise AcmeError("poll_order waits for READY or VALID")
        current, delay = order, self._first_poll_delay
        for _ in range(MAX_POLLS):
            if current.status == OrderStatus.INVALID:
                raise await self._order_failure(current)
            waiting = current.status == OrderStatus.PENDING or (
                until == OrderStatus.VALID and current.status == OrderStatus.PROCESSING
            )
            if not waiting:
                return current
            await self._wait(delay, deadline, f"order {order.url}")
            response = await self._fetch(order.url)
            current = Order.from_json(response.json(), order.url)
            delay = self._next_delay(response, delay)
        raise PollTimeout(f"order {order.url} not {until} after {MAX_POLLS} polls")

    async def _order_failure(self, order: Order) -> AcmeError:
        for url in order.authorizations:
            authz = Authorization.from_json((await self._fetch(url)).json(), url)
            if authz.status == AuthorizationStatus.INVALID:
                return ValidationFailed(authz.identifier, authz.failure)
        if order.error is not None:
            return order.error
        return ProtocolViolation(f"order {order.url} is invalid and says nothing about why")
