"""The ARI cache record: Retry-After honoured, JSON round trip, no fetch before it is allowed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from certsmith.errors import StorageError
from certsmith.renewal.ari_cache import (
    DEFAULT_RETRY_AFTER,
    AriCacheRecord,
    clamp_retry_after,
    parse_certbot_retry_after,
    should_fetch_ari,
)
from certsmith.renewal.policy import certificate_rng, decide

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
NOT_BEFORE, NOT_AFTER = T0 - timedelta(days=10), T0 + timedelta(days=80)
WINDOW = (T0 + timedelta(days=50), T0 + timedelta(days=52))


def test_clamp_retry_after() -> None:
    assert clamp_retry_after(None) == DEFAULT_RETRY_AFTER == 6 * HOUR
    assert clamp_retry_after(timedelta(seconds=5)) == timedelta(minutes=1)
    assert clamp_retry_after(timedelta(days=9)) == timedelta(days=1)
    assert clamp_retry_after(3 * HOUR) == 3 * HOUR


def test_retry_after_is_honoured() -> None:
    rec = AriCacheRecord.from_response(
        "aki.serial", T0, WINDOW, explanation_url="https://ca/why", retry_after=3 * HOUR
    )
    assert rec.next_fetch == T0 + 3 * HOUR

    def fetch(now: datetime) -> bool:
        return should_fetch_ari(rec, now, cert_id="aki.serial", not_after=NOT_AFTER)

    assert not fetch(T0)
    assert not fetch(T0 + 3 * HOUR - timedelta(seconds=1))
    assert fetch(T0 + 3 * HOUR)


def test_new_certificate_or_no_record_fetches_expired_never() -> None:
    rec = AriCacheRecord.from_response("old.cert", T0, WINDOW, retry_after=20 * HOUR)
    assert should_fetch_ari(None, T0, cert_id="x.y", not_after=NOT_AFTER)
    assert should_fetch_ari(rec, T0 + HOUR, cert_id="new.cert", not_after=NOT_AFTER)
    assert not should_fetch_ari(None, NOT_AFTER, cert_id="x.y", not_after=NOT_AFTER)


def test_failure_keeps_window_and_backs_off() -> None:
    rec = AriCacheRecord.from_response("c.i", T0, WINDOW, explanation_url="https://ca/why")
    later = T0 + 7 * HOUR
    failed = rec.with_failure(later)
    assert failed.window == WINDOW and failed.explanation_url == "https://ca/why"
    assert failed.failures == 1 and failed.next_fetch == later + 6 * HOUR
    assert failed.with_failure(later, retry_after=HOUR).failures == 2
    first = AriCacheRecord.failed("c.i", T0, retry_after=timedelta(seconds=1))
    assert first.window is None and first.next_fetch == T0 + timedelta(minutes=1)
    ok_again = AriCacheRecord.from_response("c.i", later, WINDOW)
    assert ok_again.failures == 0


def test_json_round_trip_through_text() -> None:
    plus5 = timezone(timedelta(hours=5))
    rec = AriCacheRecord.from_response(
        "aki.serial",
        T0.astimezone(plus5) + timedelta(microseconds=250),
        WINDOW,
        explanation_url="https://ca/why",
        retry_after=2 * HOUR,
    )
    data = json.loads(json.dumps(rec.to_json()))
    assert data["next_fetch"].endswith("Z")
    back = AriCacheRecord.from_json(data)
    assert back == rec
    empty = AriCacheRecord.failed("a.b", T0)
    assert AriCacheRecord.from_json(json.loads(json.dumps(empty.to_json()))) == empty


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {},
        {"cert_id": "a.b"},
        {"cert_id": "a.b", "next_fetch": "tomorrow"},
        {"cert_id": "a.b", "next_fetch": "2026-01-01T00:00:00"},  # no zone
        {"cert_id": "a.b", "next_fetch": "2026-01-01T00:00:00Z", "window": ["2026-01-01T00:00Z"]},
        {"cert_id": "a.b", "next_fetch": "2026-01-01T00:00:00Z", "failures": -1},
        {"cert_id": "a.b", "next_fetch": "2026-01-01T00:00:00Z", "explanation_url": 5},
    ],
)
def test_malformed_records_raise_storage_error(data: object) -> None:
    with pytest.raises(StorageError):
        AriCacheRecord.from_json(data)


def test_certbot_retry_after_is_local_time_when_naive() -> None:
    naive = parse_certbot_retry_after("2026-03-01T12:00:00")
    assert naive.utcoffset() is not None
    assert naive.replace(tzinfo=None) == datetime(2026, 3, 1, 12, 0)
    assert parse_certbot_retry_after("2026-03-01T12:00:00+00:00") == T0
    with pytest.raises(StorageError):
        parse_certbot_retry_after("soon")


class FakeCA:
    """Counts renewalInfo requests; always answers WINDOW with a 6-hour Retry-After."""

    def __init__(self) -> None:
        self.requests = 0

    def renewal_info(self, cert_id: str) -> tuple[tuple[datetime, datetime], timedelta]:
        self.requests += 1
        return WINDOW, 6 * HOUR


def renew_run(ca: FakeCA, state: dict[str, str], now: datetime, lineages: int) -> tuple[int, int]:
    """One `renew` over many lineages, the cache stored as JSON text between runs."""
    due = 0
    for n in range(lineages):
        cert_id = f"aki.{n:04x}"
        raw = state.get(cert_id)
        rec = AriCacheRecord.from_json(json.loads(raw)) if raw else None
        if should_fetch_ari(rec, now, cert_id=cert_id, not_after=NOT_AFTER):
            window, retry_after = ca.renewal_info(cert_id)
            rec = AriCacheRecord.from_response(cert_id, now, window, retry_after=retry_after)
            state[cert_id] = json.dumps(rec.to_json())
        assert rec is not None
        d = decide(
            NOT_BEFORE,
            NOT_AFTER,
            now,
            ari_window=rec.window,
            ari_retry_after=rec.next_fetch,
            rng=certificate_rng(n + 1),
        )
        due += d.due
    return due, ca.requests


def test_thousand_lineages_none_due_no_refetch_before_retry_after() -> None:
    ca = FakeCA()
    state: dict[str, str] = {}
    assert renew_run(ca, state, T0, 1000) == (0, 1000)
    assert renew_run(ca, state, T0 + HOUR, 1000) == (0, 1000)  # no request at all
    assert renew_run(ca, state, T0 + 6 * HOUR - timedelta(seconds=1), 1000) == (0, 1000)
    assert renew_run(ca, state, T0 + 6 * HOUR, 1000) == (0, 2000)  # Retry-After passed
