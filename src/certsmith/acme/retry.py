"""When the sender repeats a request: what a repeat may do at the CA, and how long to wait first.

RFC 8555 leaves retries to the client. certsmith's policy, per request (``Repeat``)::

    request                        repeat     lost answer*   500/502/504   503   connect failed
    GET directory, renewalInfo     SAFE       yes            yes           yes   yes
    HEAD newNonce, POST-as-GET     SAFE       yes            yes           yes   yes
    newAccount (7.3.1)             HARMLESS   yes            no            yes   yes
    newOrder (7.4)                 HARMLESS   yes            no            yes   yes
    challenge response (7.5.1)     HARMLESS   yes            no            yes   yes
    finalize (7.4)                 HARMLESS   yes            no            yes   yes
    contact update (7.3.2)         HARMLESS   yes            no            yes   yes
    revoke (7.6)                   HARMLESS   yes            no            yes   yes
    keyChange, deactivate          ONCE       no             no            yes   yes

    * the connection broke or timed out after the request was sent: the CA may have acted on it.

Why a HARMLESS repeat is harmless: a second newAccount for the same key returns the existing
account (section 7.3.1); a second newOrder at worst leaves a spare pending order that expires
unused; a repeated contact update sets the same contacts. The CA refuses to start a challenge
twice (``malformed``), to finalize twice (``orderNotReady``) and to revoke twice
(``alreadyRevoked``): the client then reads the object's state, and a challenge that is no longer
pending, an order that is processing or valid, or an already revoked certificate means the first
try went through (``AcmeClient`` does this when ``error.attempts > 1``). A keyChange or a
deactivation repeated after it took effect is refused in a way that cannot be told apart from a
real refusal, so those are sent again only when they cannot have reached the CA.

A 503 says the request was not processed (RFC 9110 section 15.6.4) and is retried for every
request. Another 5xx is the CA's answer to this very request: it may have acted on it, and
unlike a dropped connection it is often the same on every try, so only SAFE requests repeat it.

Bounds: at most ``max_retries`` repeats (so ``max_retries + 1`` tries) per request, waits of the
answer's ``Retry-After`` (capped at ``max_wait``) or 1, 2, 4... seconds, and no repeat that would
start more than ``budget`` seconds after the first try. ``badNonce`` is not counted here: the CA
refused the request before acting on it, and the sender retries it at once (section 6.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

import httpx

from certsmith.acme.errors import AcmeError, ProblemError, TransportError


class Repeat(Enum):
    """What sending a request a second time may do at the CA (see the module's table)."""

    SAFE = "safe"  # changes nothing at the CA: GET, HEAD, POST-as-GET
    HARMLESS = "harmless"  # a repeat returns the same result, a spare order, or a "done" refusal
    ONCE = "once"  # sent again only when it cannot have reached the CA (or the CA said 503)


_MAX_RETRY_AFTER_DIGITS = 10


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # More digits than a century of seconds is nonsense, not a wait (and would overflow).
        return float(int(value)) if len(value) <= _MAX_RETRY_AFTER_DIGITS else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# (httpx failure, its code, words for it, whether the request may have reached the CA). The
# first match wins, so the timeouts come before the network errors they resemble. The code names
# the CLI's catalogue entry ``transport.<code>``, whose English must be these words.
_FAILURES: tuple[tuple[type[httpx.HTTPError], str, str, bool], ...] = (
    (httpx.ConnectTimeout, "connect_timeout", "connecting to the CA timed out", False),
    (httpx.PoolTimeout, "pool_timeout", "no connection to the CA became free in time", False),
    (httpx.ConnectError, "connect_failed", "could not connect to the CA", False),
    (httpx.ReadTimeout, "read_timeout", "the CA did not answer in time", True),
    (httpx.WriteTimeout, "write_timeout", "sending the request to the CA timed out", True),
    (httpx.RemoteProtocolError, "closed", "the CA closed the connection without a complete answer",
     True),
    (httpx.NetworkError, "broke", "the connection to the CA broke", True),
)  # fmt: skip


def transport_error(method: str, url: str, exc: httpx.HTTPError) -> TransportError:
    """The TransportError for one failed try, with ``sent`` and ``retryable`` set.

    Failures of our own making (an unsupported scheme, a request httpx refuses to send, a
    content encoding it cannot undo) are not retryable: sending again fails the same way.
    """
    for kind, code, words, sent in _FAILURES:
        if isinstance(exc, kind):
            raw = f"{type(exc).__name__}: {exc}"
            error = TransportError(f"{method} {url}: {words} ({raw})")
            error.what, error.sent = words, sent
            error.code, error.request, error.raw = code, f"{method} {url}", raw
            return error
    error = TransportError(f"{method} {url}: {type(exc).__name__}: {exc}")
    error.retryable = False
    return error


@dataclass(frozen=True)
class RetryPolicy:
    """The bounds of one request's repeats (see the module docstring)."""

    max_retries: int = 3
    max_wait: float = 30.0
    budget: float = 90.0

    def wait(self, error: AcmeError, repeat: Repeat, tries: int, elapsed: float) -> float | None:
        """Seconds to wait before try ``tries + 1`` after ``error``, or None to give up.

        ``elapsed`` is the time since the first try began.
        """
        if tries > self.max_retries or not self._may_repeat(error, repeat):
            return None
        hinted = error.retry_after if isinstance(error, ProblemError) else None
        wait = min(hinted if hinted is not None else float(2 ** (tries - 1)), self.max_wait)
        return wait if elapsed + wait <= self.budget else None

    @staticmethod
    def _may_repeat(error: AcmeError, repeat: Repeat) -> bool:
        if isinstance(error, TransportError):
            return error.retryable and (repeat is not Repeat.ONCE or not error.sent)
        if isinstance(error, ProblemError):
            status = error.status or 0
            return status == 503 or (status >= 500 and repeat is Repeat.SAFE)
        return False
