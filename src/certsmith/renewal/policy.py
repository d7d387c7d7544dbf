"""When to renew a certificate: pure functions, clock and randomness injected.

Order of the rules in :func:`decide` (the first that applies wins):

1. ``force`` (``--force-renewal``) -> due.
2. The certificate has expired -> due.
3. An explicit ``renew_before_expiry`` from the renewal conf -> due once
   ``now >= not_after - renew_before_expiry``. It can only make renewal *earlier* than the CA
   asks: with an ARI window too, the certificate is due when either says so (certbot 5.x does the
   same), so a CA's "renew now" (a window already passed, e.g. before a mass revocation) or a
   window earlier than the user's threshold is always obeyed.
4. An ARI ``suggestedWindow`` (RFC 9773 section 4.2) -> a uniformly random moment inside the window
   is drawn with the injected ``rng``; due once ``now`` reaches it. A window whose end has passed
   is due now. A malformed window (end not after start, RFC 9773 section 4.3.3) is ignored.
5. Otherwise the lifetime fraction of certbot 4.x+ / Let's Encrypt: due when a third of the
   lifetime remains, or half of it for certificates that live less than 10 days.

Stability of the ARI moment: re-drawing on every run would let a twice-daily cron job renew early
(the chance to fall before ``now`` grows with every draw). Callers pass
``rng=certificate_rng(serial)``, a generator seeded from a hash of the certificate's serial number,
so a certificate gets the same fraction of its window on every run and in every process, while
different certificates still spread uniformly over the window. Nothing has to be stored.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from certsmith.errors import UsageError
from certsmith.wording import Said, SaidTail, said

__all__ = [
    "SHORT_LIVED",
    "Decision",
    "Rule",
    "ari_moment",
    "certificate_rng",
    "decide",
    "default_renewal_time",
    "parse_renew_before_expiry",
]

logger = logging.getLogger(__name__)

#: Certificates that live less than this renew at half their lifetime instead of two thirds.
SHORT_LIVED = timedelta(days=10)
#: The reason of a renewal that --force-renewal (or a revocation) asked for.
FORCED = Said("renewal forced", "renewal.reason.forced")
# The other reasons: `renew` keeps one per lineage (100,000 in a fleet), so a reason without a
# value is one shared object, and one with a value a SaidTail (wording.py: a str, no dict).
_EXPIRED = Said("certificate has expired", "renewal.reason.expired")
_LIFETIME: Mapping[tuple[bool, bool], Said] = MappingProxyType({  # (short-lived, due) -> reason
    (False, True): Said("a third of the lifetime remains", "renewal.reason.lifetime.third"),
    (True, True): Said("half of the lifetime remains", "renewal.reason.lifetime.half"),
    (False, False): Said(
        "not yet due: renews when a third of the lifetime remains",
        "renewal.reason.lifetime.third.wait",
    ),
    (True, False): Said(
        "not yet due: renews when half of the lifetime remains",
        "renewal.reason.lifetime.half.wait",
    ),
})  # fmt: skip
_ARI_PASSED = Said("ARI window has passed", "renewal.reason.ari.passed")
_ARI_INSIDE = Said("inside the ARI window", "renewal.reason.ari.inside")
_ARI_BEFORE_NEXT_RUN = Said(
    "ARI renewal moment falls before the next run", "renewal.reason.ari.before_next_run"
)


class _AriWait(SaidTail):
    key = "renewal.reason.ari.wait"
    head, name = "not yet due: ARI suggests renewing at ", "at"


class _BeforeExpiryWait(SaidTail):
    key = "renewal.reason.before_expiry.wait"
    head, name = "not yet due: renew_before_expiry is ", "value"


class Rule(StrEnum):
    """Which rule of :func:`decide` produced a decision (stable, for ``--json`` output)."""

    FORCED = "forced"
    EXPIRED = "expired"
    RENEW_BEFORE_EXPIRY = "renew_before_expiry"
    ARI_WINDOW = "ari_window"
    ARI_WINDOW_PASSED = "ari_window_passed"
    LIFETIME = "lifetime"


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`.

    ``renew_at`` is the moment the applicable rule makes the certificate due (``now`` if forced).
    ``next_check`` is the earliest future moment at which the decision may change (the renewal
    moment, or the ARI Retry-After if that comes first); None when already due.
    """

    due: bool
    reason: str
    renew_at: datetime | None
    next_check: datetime | None
    rule: Rule = Rule.LIFETIME


def _require_aware(**values: datetime | None) -> None:
    for name, value in values.items():
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime")


def certificate_rng(serial: int | str | bytes) -> random.Random:
    """Return a generator seeded only from a certificate serial number.

    The same serial gives the same sequence in every process (no dependence on PYTHONHASHSEED),
    which makes the ARI moment stable across runs. Integers, hex strings and raw bytes are
    accepted; ``0x1f``, ``1F`` and ``31`` name the same serial.
    """
    if isinstance(serial, int):
        canonical = format(serial, "x")
    elif isinstance(serial, bytes):
        canonical = serial.hex().lstrip("0") or "0"
    else:
        text = serial.strip().lower().removeprefix("0x").replace(":", "")
        canonical = text.lstrip("0") or "0"
    digest = hashlib.sha256(b"certsmith-ari-moment\x00" + canonical.encode("ascii")).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def ari_moment(start: datetime, end: datetime, rng: random.Random) -> datetime:
    """A uniformly random moment in ``[start, end]`` (RFC 9773 section 4.2, step 1).

    Consumes exactly one ``rng.random()`` so a freshly seeded generator always yields the same
    fraction of the window.
    """
    return start + (end - start) * rng.random()


def default_renewal_time(not_before: datetime, not_after: datetime) -> datetime:
    """When a certificate without ARI or an explicit setting becomes due.

    Two thirds into the lifetime (a third remains); half way for lifetimes under 10 days.
    """
    lifetime = not_after - not_before
    if lifetime < SHORT_LIVED:
        return not_before + lifetime / 2
    return not_before + lifetime * 2 / 3


def _earliest_future(now: datetime, *moments: datetime | None) -> datetime | None:
    future = [m for m in moments if m is not None and m > now]
    return min(future) if future else None


def decide(
    cert_not_before: datetime,
    cert_not_after: datetime,
    now: datetime,
    *,
    ari_window: tuple[datetime, datetime] | None = None,
    ari_retry_after: datetime | None = None,
    renew_before_expiry: timedelta | None = None,
    force: bool = False,
    rng: random.Random,
    next_wake: datetime | None = None,
) -> Decision:
    """Decide whether a certificate is due for renewal now (see the module docstring for rules).

    All datetimes must be timezone-aware (ValueError otherwise). ``rng`` is used only when an ARI
    window applies; pass :func:`certificate_rng` of the serial so the moment is stable.
    ``next_wake`` (optional) is when this client would run next: per RFC 9773 section 4.2 step 4,
    an ARI moment that falls before it is treated as due now, so a cron job does not miss it.
    ``renew_before_expiry`` must not be negative (UsageError).
    """
    _require_aware(
        cert_not_before=cert_not_before,
        cert_not_after=cert_not_after,
        now=now,
        ari_retry_after=ari_retry_after,
        next_wake=next_wake,
        ari_window_start=ari_window[0] if ari_window else None,
        ari_window_end=ari_window[1] if ari_window else None,
    )
    if force:
        return Decision(True, FORCED, now, None, Rule.FORCED)
    if now >= cert_not_after:
        return Decision(True, _EXPIRED, cert_not_after, None, Rule.EXPIRED)
    explicit = None
    if renew_before_expiry is not None:
        explicit = _decide_explicit(cert_not_before, cert_not_after, now, renew_before_expiry)
    if ari_window is not None:
        start, end = ari_window
        if end > start:
            ari = _decide_ari(start, end, now, ari_retry_after, rng, next_wake)
            return ari if explicit is None else _earlier(explicit, ari, now)
        logger.warning("ignoring malformed ARI window (end %s is not after start %s)", end, start)
    if explicit is not None:
        return explicit
    renew_at = default_renewal_time(cert_not_before, cert_not_after)
    short = cert_not_after - cert_not_before < SHORT_LIVED
    due = now >= renew_at
    reason = _LIFETIME[short, due]
    next_check = None if due else _earliest_future(now, renew_at, ari_retry_after)
    return Decision(due, reason, renew_at, next_check, Rule.LIFETIME)


def _decide_explicit(
    not_before: datetime, not_after: datetime, now: datetime, value: timedelta
) -> Decision:
    if value < timedelta(0):
        raise UsageError(said("engine.before_expiry_negative", value=value))
    renew_at = not_after - value
    if renew_at <= not_before:
        # The user's setting is longer than the lifetime: every run renews. Respect it, say so.
        logger.warning(
            "renew_before_expiry (%s) is not shorter than the certificate lifetime (%s): "
            "the certificate is always due",
            value,
            not_after - not_before,
        )
    due = now >= renew_at
    reason = (
        Said(
            f"less than {value} before expiry (renew_before_expiry)",
            "renewal.reason.before_expiry",
            value=value,
        )
        if due
        else _BeforeExpiryWait(value)
    )
    return Decision(due, reason, renew_at, None if due else renew_at, Rule.RENEW_BEFORE_EXPIRY)


def _earlier(explicit: Decision, ari: Decision, now: datetime) -> Decision:
    """The user's threshold and the CA's window together: due when either is due (the CA's
    "now" wins; the threshold can only bring renewal forward), else checked again at the
    earlier of the two moments."""
    if ari.due:
        return ari
    if explicit.due:
        return explicit
    first = explicit if (explicit.renew_at or now) < (ari.renew_at or now) else ari
    return replace(first, next_check=_earliest_future(now, explicit.next_check, ari.next_check))


def _decide_ari(
    start: datetime,
    end: datetime,
    now: datetime,
    retry_after: datetime | None,
    rng: random.Random,
    next_wake: datetime | None,
) -> Decision:
    if end <= now:
        return Decision(True, _ARI_PASSED, end, None, Rule.ARI_WINDOW_PASSED)
    moment = ari_moment(start, end, rng)
    if now >= moment:
        return Decision(True, _ARI_INSIDE, moment, None, Rule.ARI_WINDOW)
    if next_wake is not None and moment < next_wake:
        return Decision(True, _ARI_BEFORE_NEXT_RUN, moment, None, Rule.ARI_WINDOW)
    next_check = _earliest_future(now, moment, retry_after)
    return Decision(False, _AriWait(moment.isoformat()), moment, next_check, Rule.ARI_WINDOW)


# certbot reads this value with parsedatetime; we accept the subset people actually write.
# A month is 30 days and a year 365 days (parsedatetime uses calendar months; the difference is at
# most a day or two and keeps the result a plain duration).
_UNIT_SECONDS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "wks": 604800, "week": 604800, "weeks": 604800,
    "mo": 2592000, "month": 2592000, "months": 2592000,
    "y": 31536000, "yr": 31536000, "year": 31536000, "years": 31536000,
}  # fmt: skip
_TERM = re.compile(r"(\d{1,6})\s*([a-z]+)")
_SEPARATOR = re.compile(r"(?:\s|,|\band\b)*")


def parse_renew_before_expiry(text: str) -> timedelta:
    """Parse certbot's ``renew_before_expiry`` syntax into a duration.

    Accepts ``"30 days"``, ``"2 weeks"``, ``"12 hours"``, ``"1 day"``, a bare integer (days, as
    certbot does), and sums such as ``"1 week, 2 days and 12 hours"``. Units: seconds, minutes,
    hours, days, weeks, months (30 days), years (365 days), singular, plural or abbreviated (a bare
    ``m`` is refused as ambiguous). Anything else raises UsageError with one sentence.
    """
    original = text
    text = text.strip().lower()
    if text.isdigit() and len(text) <= 6:
        return timedelta(days=int(text))
    total = 0
    pos = 0
    terms = 0
    while pos < len(text):
        sep = _SEPARATOR.match(text, pos)
        pos = sep.end() if sep else pos
        if pos >= len(text):
            break
        term = _TERM.match(text, pos)
        if term is None or term.group(2) not in _UNIT_SECONDS:
            break
        total += int(term.group(1)) * _UNIT_SECONDS[term.group(2)]
        terms += 1
        pos = term.end()
    if terms == 0 or pos < len(text):
        raise UsageError(said("engine.before_expiry_form", value=repr(original)))
    return timedelta(seconds=total)
