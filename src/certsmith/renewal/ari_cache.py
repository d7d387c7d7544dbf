"""What we last learned from the CA's renewalInfo resource, per certificate (RFC 9773).

The record answers one question cheaply: may we ask the CA again yet? ``renew`` over a thousand
lineages, none due, must not send a thousand requests on every cron run; it asks again only once
the Retry-After of the last answer has passed (RFC 9773 section 4.3.2). Storage is the caller's:
the record turns into a JSON-safe dict with :meth:`AriCacheRecord.to_json` and back with
:meth:`AriCacheRecord.from_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from certsmith.errors import StorageError
from certsmith.wording import said

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "MAX_RETRY_AFTER",
    "MIN_RETRY_AFTER",
    "AriCacheRecord",
    "clamp_retry_after",
    "parse_certbot_retry_after",
    "should_fetch_ari",
]

#: RFC 9773 section 4.3.2 suggests treating Retry-After under a minute as a minute and over a
#: day as a day.
MIN_RETRY_AFTER = timedelta(minutes=1)
MAX_RETRY_AFTER = timedelta(days=1)
#: When the CA sent no usable Retry-After, or the request failed (certbot uses the same 6 hours).
DEFAULT_RETRY_AFTER = timedelta(hours=6)


def clamp_retry_after(value: timedelta | None) -> timedelta:
    """Bound a Retry-After to [1 minute, 1 day]; None means the 6-hour default."""
    if value is None:
        return DEFAULT_RETRY_AFTER
    return min(max(value, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


def _dump_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _load_time(data: dict[str, Any], key: str) -> datetime:
    raw = data.get(key)
    if not isinstance(raw, str):
        raise StorageError(said("ari.cache.field_missing", field=key))
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise StorageError(said("ari.cache.not_timestamp", field=key, value=repr(raw))) from None
    if value.utcoffset() is None:
        raise StorageError(said("ari.cache.no_time_zone", field=key, value=repr(raw)))
    return value


@dataclass(frozen=True)
class AriCacheRecord:
    """The last ARI answer for one certificate.

    ``cert_id`` is the ARI certificate identifier (``base64url(AKI).base64url(serial)``) the answer
    was for; a renewed certificate has a new one, so the record stops applying. ``window`` and
    ``explanation_url`` survive a failed fetch (the old answer is still our best knowledge).
    ``next_fetch`` is the earliest moment another request is allowed. ``failures`` counts fetches
    that failed in a row.
    """

    cert_id: str
    next_fetch: datetime
    fetched_at: datetime | None = None
    window: tuple[datetime, datetime] | None = None
    explanation_url: str | None = None
    failures: int = 0

    @classmethod
    def from_response(
        cls,
        cert_id: str,
        now: datetime,
        window: tuple[datetime, datetime],
        *,
        explanation_url: str | None = None,
        retry_after: timedelta | None = None,
    ) -> AriCacheRecord:
        """Record a successful fetch at ``now``; the next one is allowed after the clamped
        Retry-After (6 hours when the CA sent none)."""
        return cls(
            cert_id=cert_id,
            next_fetch=now + clamp_retry_after(retry_after),
            fetched_at=now,
            window=window,
            explanation_url=explanation_url,
            failures=0,
        )

    def with_failure(self, now: datetime, retry_after: timedelta | None = None) -> AriCacheRecord:
        """The same record after a failed fetch at ``now``: keep the last window, wait the
        clamped Retry-After (6 hours by default) before asking again."""
        return replace(
            self, next_fetch=now + clamp_retry_after(retry_after), failures=self.failures + 1
        )

    @classmethod
    def failed(
        cls, cert_id: str, now: datetime, retry_after: timedelta | None = None
    ) -> AriCacheRecord:
        """A record for a certificate whose very first fetch failed at ``now``."""
        return cls(cert_id=cert_id, next_fetch=now + clamp_retry_after(retry_after), failures=1)

    def may_fetch(self, now: datetime) -> bool:
        """True when the Retry-After of the last answer has passed."""
        return now >= self.next_fetch

    def to_json(self) -> dict[str, Any]:
        """A dict of str/int/None/list values, timestamps as RFC 3339 UTC strings."""
        return {
            "cert_id": self.cert_id,
            "next_fetch": _dump_time(self.next_fetch),
            "fetched_at": _dump_time(self.fetched_at) if self.fetched_at else None,
            "window": [_dump_time(t) for t in self.window] if self.window else None,
            "explanation_url": self.explanation_url,
            "failures": self.failures,
        }

    @classmethod
    def from_json(cls, data: object) -> AriCacheRecord:
        """Rebuild a record from :meth:`to_json` output; StorageError when it is malformed (the
        caller may then drop the record and fetch again)."""
        if not isinstance(data, dict):
            raise StorageError(said("ari.cache.not_object"))
        cert_id = data.get("cert_id")
        if not isinstance(cert_id, str) or not cert_id:
            raise StorageError(said("ari.cache.no_cert_id"))
        window: tuple[datetime, datetime] | None = None
        raw_window = data.get("window")
        if raw_window is not None:
            if not isinstance(raw_window, list) or len(raw_window) != 2:
                raise StorageError(said("ari.cache.bad_window"))
            pair = {"start": raw_window[0], "end": raw_window[1]}
            window = (_load_time(pair, "start"), _load_time(pair, "end"))
        url = data.get("explanation_url")
        if url is not None and not isinstance(url, str):
            raise StorageError(said("ari.cache.bad_explanation_url"))
        failures = data.get("failures", 0)
        if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0:
            raise StorageError(said("ari.cache.bad_failures"))
        return cls(
            cert_id=cert_id,
            next_fetch=_load_time(data, "next_fetch"),
            fetched_at=_load_time(data, "fetched_at") if data.get("fetched_at") else None,
            window=window,
            explanation_url=url,
            failures=failures,
        )


def should_fetch_ari(
    record: AriCacheRecord | None, now: datetime, *, cert_id: str, not_after: datetime
) -> bool:
    """Whether to request renewalInfo for the certificate ``cert_id`` now.

    Never for an expired certificate (RFC 9773 section 4.3: clients MUST NOT check it); always
    when there is no record or the record is for another certificate; otherwise only once the
    record's Retry-After has passed.
    """
    if now >= not_after:
        return False
    if record is None or record.cert_id != cert_id:
        return True
    return record.may_fetch(now)


def parse_certbot_retry_after(value: str) -> datetime:
    """Read certbot's ``[acme_renewal_info] ari_retry_after`` value.

    certbot writes a naive ISO timestamp in the machine's local time; it is returned as an aware
    datetime (naive values are taken as local time). StorageError when unparsable.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise StorageError(said("ari.retry_after_not_timestamp", value=repr(value))) from None
    return parsed.astimezone() if parsed.utcoffset() is None else parsed
