"""The renewal decision: every rule, its boundaries, and the renew_before_expiry parser."""

from __future__ import annotations

import logging
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from certsmith.errors import UsageError
from certsmith.renewal.policy import (
    Rule,
    ari_moment,
    certificate_rng,
    decide,
    default_renewal_time,
    parse_renew_before_expiry,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
NB90, NA90 = T0, T0 + 90 * DAY  # a 90-day certificate
NB6, NA6 = T0, T0 + 6 * DAY  # a 6-day (short-lived) certificate


def rng() -> random.Random:
    return certificate_rng(0x0123456789ABCDEF)


# -- lifetime fraction ---------------------------------------------------------------------------


def test_90_day_cert_due_exactly_when_a_third_remains() -> None:
    at = NA90 - 30 * DAY  # two thirds of 90 days have passed
    before = decide(NB90, NA90, at - SECOND, rng=rng())
    exact = decide(NB90, NA90, at, rng=rng())
    assert not before.due and before.rule is Rule.LIFETIME
    assert before.renew_at == at and before.next_check == at
    assert exact.due and exact.renew_at == at and exact.next_check is None


def test_six_day_cert_due_at_half_not_at_a_third() -> None:
    half = NB6 + 3 * DAY
    assert default_renewal_time(NB6, NA6) == half
    assert not decide(NB6, NA6, half - SECOND, rng=rng()).due
    assert decide(NB6, NA6, half, rng=rng()).due
    assert "half" in decide(NB6, NA6, half, rng=rng()).reason


def test_ten_day_boundary_uses_a_third() -> None:
    na = T0 + 10 * DAY  # exactly 10 days is not "under 10 days"
    assert default_renewal_time(T0, na) == T0 + 10 * DAY * 2 / 3
    na_short = na - SECOND
    assert default_renewal_time(T0, na_short) == T0 + (na_short - T0) / 2


def test_expired_is_due_whatever_else_says() -> None:
    d = decide(
        NB90,
        NA90,
        NA90,
        ari_window=(NA90 + DAY, NA90 + 2 * DAY),
        renew_before_expiry=timedelta(0),
        rng=rng(),
    )
    assert d.due and d.rule is Rule.EXPIRED
    assert decide(NB90, NA90, NA90 + 400 * DAY, rng=rng()).rule is Rule.EXPIRED


def test_forced_is_due_even_when_fresh() -> None:
    d = decide(NB90, NA90, NB90 + SECOND, force=True, rng=rng())
    assert d.due and d.rule is Rule.FORCED
    assert not decide(NB90, NA90, NB90 + SECOND, rng=rng()).due


# -- explicit renew_before_expiry ----------------------------------------------------------------


def test_renew_before_expiry_boundary() -> None:
    rbe = timedelta(days=30)
    at = NA90 - rbe
    assert not decide(NB90, NA90, at - SECOND, renew_before_expiry=rbe, rng=rng()).due
    d = decide(NB90, NA90, at, renew_before_expiry=rbe, rng=rng())
    assert d.due and d.rule is Rule.RENEW_BEFORE_EXPIRY and d.renew_at == at


def test_ari_renew_now_wins_over_a_later_renew_before_expiry() -> None:
    now = NB90 + 50 * DAY
    past_window = (NB90 + 40 * DAY, NB90 + 45 * DAY)  # the CA says "renew now"
    d = decide(
        NB90, NA90, now, ari_window=past_window, renew_before_expiry=timedelta(days=10), rng=rng()
    )
    assert d.due and d.rule is Rule.ARI_WINDOW_PASSED


def test_ari_window_earlier_than_renew_before_expiry_is_obeyed() -> None:
    window = (NB90 + 50 * DAY, NB90 + 50 * DAY + 2 * SECOND)  # ends before the threshold
    rbe = timedelta(days=10)  # threshold: day 80
    before = decide(
        NB90, NA90, NB90 + 49 * DAY, ari_window=window, renew_before_expiry=rbe, rng=rng()
    )
    assert not before.due and before.rule is Rule.ARI_WINDOW
    assert before.next_check is not None and before.next_check <= window[1]
    after = decide(
        NB90, NA90, NB90 + 51 * DAY, ari_window=window, renew_before_expiry=rbe, rng=rng()
    )
    assert after.due


def test_renew_before_expiry_can_only_make_renewal_earlier_than_ari() -> None:
    now = NB90 + 50 * DAY
    future_window = (NB90 + 80 * DAY, NB90 + 85 * DAY)  # ARI alone: not due
    d = decide(
        NB90, NA90, now, ari_window=future_window, renew_before_expiry=timedelta(days=45), rng=rng()
    )
    assert d.due and d.rule is Rule.RENEW_BEFORE_EXPIRY
    d = decide(
        NB90, NA90, now, ari_window=future_window, renew_before_expiry=timedelta(days=30), rng=rng()
    )
    assert not d.due and d.rule is Rule.RENEW_BEFORE_EXPIRY and d.next_check == NA90 - 30 * DAY


def test_renew_before_expiry_wins_over_lifetime_default() -> None:
    now = NA90 - 20 * DAY  # default (a third = 30 days) would be due
    assert decide(NB90, NA90, now, rng=rng()).due
    assert not decide(NB90, NA90, now, renew_before_expiry=timedelta(days=7), rng=rng()).due


def test_renew_before_expiry_longer_than_lifetime_is_always_due_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        d = decide(NB6, NA6, NB6 + SECOND, renew_before_expiry=timedelta(days=30), rng=rng())
    assert d.due
    assert "not shorter than the certificate lifetime" in caplog.text


def test_negative_renew_before_expiry_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        decide(NB90, NA90, T0, renew_before_expiry=timedelta(days=-1), rng=rng())


# -- ARI -----------------------------------------------------------------------------------------


def test_ari_window_in_the_past_is_due_now() -> None:
    window = (NB90 + 10 * DAY, NB90 + 11 * DAY)
    d = decide(NB90, NA90, NB90 + 12 * DAY, ari_window=window, rng=rng())
    assert d.due and d.rule is Rule.ARI_WINDOW_PASSED
    # ...even though the lifetime default would say "not yet"
    assert not decide(NB90, NA90, NB90 + 12 * DAY, rng=rng()).due


def test_ari_window_in_the_future_is_not_due_and_says_when() -> None:
    window = (NB90 + 60 * DAY, NB90 + 62 * DAY)
    now = NB90 + 30 * DAY
    d = decide(NB90, NA90, now, ari_window=window, rng=rng())
    assert not d.due and d.rule is Rule.ARI_WINDOW
    assert d.renew_at is not None and window[0] <= d.renew_at <= window[1]
    assert d.next_check == d.renew_at


def test_ari_wins_over_the_lifetime_default() -> None:
    # Two thirds have passed, but the CA asks for later.
    window = (NA90 - 5 * DAY, NA90 - 4 * DAY)
    d = decide(NB90, NA90, NA90 - 20 * DAY, ari_window=window, rng=rng())
    assert not d.due and d.rule is Rule.ARI_WINDOW


def test_ari_retry_after_brings_next_check_forward() -> None:
    window = (NB90 + 60 * DAY, NB90 + 62 * DAY)
    now = NB90 + 30 * DAY
    retry = now + timedelta(hours=6)
    d = decide(NB90, NA90, now, ari_window=window, ari_retry_after=retry, rng=rng())
    assert d.next_check == retry
    # a retry_after already past does not become next_check
    d = decide(NB90, NA90, now, ari_window=window, ari_retry_after=now - DAY, rng=rng())
    assert d.next_check == d.renew_at


def test_ari_due_exactly_at_the_drawn_moment() -> None:
    window = (NB90 + 60 * DAY, NB90 + 62 * DAY)
    moment = ari_moment(*window, rng())
    assert window[0] < moment < window[1]
    assert not decide(NB90, NA90, moment - SECOND, ari_window=window, rng=rng()).due
    assert decide(NB90, NA90, moment, ari_window=window, rng=rng()).due


def test_ari_moment_before_next_wake_is_due_now() -> None:
    window = (NB90 + 60 * DAY, NB90 + 62 * DAY)
    moment = ari_moment(*window, rng())
    now = moment - timedelta(hours=1)
    assert not decide(NB90, NA90, now, ari_window=window, rng=rng()).due
    d = decide(NB90, NA90, now, ari_window=window, rng=rng(), next_wake=now + timedelta(hours=12))
    assert d.due and d.rule is Rule.ARI_WINDOW


def test_malformed_ari_window_falls_back_to_lifetime(caplog: pytest.LogCaptureFixture) -> None:
    bad = (NB90 + 62 * DAY, NB90 + 60 * DAY)
    now = NA90 - 20 * DAY
    with caplog.at_level(logging.WARNING):
        d = decide(NB90, NA90, now, ari_window=bad, rng=rng())
    assert d.due and d.rule is Rule.LIFETIME
    assert "malformed ARI window" in caplog.text


def test_random_moment_is_stable_across_calls_and_processes() -> None:
    window = (NB90 + 60 * DAY, NB90 + 62 * DAY)
    now = NB90 + 30 * DAY
    serial = 0xFA11BAC4
    first = decide(NB90, NA90, now, ari_window=window, rng=certificate_rng(serial)).renew_at
    again = [
        decide(NB90, NA90, now + k * DAY, ari_window=window, rng=certificate_rng(serial)).renew_at
        for k in range(5)
    ]
    assert again == [first] * 5
    assert certificate_rng("0xfa11bac4").random() == certificate_rng(serial).random()
    assert certificate_rng(bytes.fromhex("00fa11bac4")).random() == certificate_rng(serial).random()
    # another interpreter (different PYTHONHASHSEED) draws the same fraction
    code = (
        "from certsmith.renewal.policy import certificate_rng; "
        "print(repr(certificate_rng(0xFA11BAC4).random()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert float(out.stdout) == certificate_rng(serial).random()


def test_moments_spread_over_the_window_for_different_serials() -> None:
    start, end = T0, T0 + 1000 * SECOND
    offsets = [
        (ari_moment(start, end, certificate_rng(serial)) - start).total_seconds()
        for serial in range(1, 2001)
    ]
    assert min(offsets) >= 0 and max(offsets) <= 1000
    quarters = [sum(1 for o in offsets if q * 250 <= o < (q + 1) * 250) for q in range(4)]
    assert all(400 < n < 600 for n in quarters), quarters  # roughly uniform


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(NB90, NA90, datetime(2026, 2, 1), rng=rng())


def test_other_time_zones_compare_correctly() -> None:
    plus2 = timezone(timedelta(hours=2))
    at = (NA90 - 30 * DAY).astimezone(plus2)
    assert decide(NB90, NA90, at, rng=rng()).due
    assert not decide(NB90, NA90, at - SECOND, rng=rng()).due


@given(
    lifetime_h=st.integers(min_value=1, max_value=24 * 400),
    elapsed=st.floats(min_value=0, max_value=1.2),
)
def test_lifetime_rule_is_monotonic(lifetime_h: int, elapsed: float) -> None:
    na = T0 + timedelta(hours=lifetime_h)
    now = T0 + timedelta(hours=lifetime_h) * elapsed
    d = decide(T0, na, now, rng=random.Random(0))
    renew_at = default_renewal_time(T0, na)
    assert d.due == (now >= renew_at)
    assert T0 < renew_at < na


# -- parser --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30 days", timedelta(days=30)),
        ("2 weeks", timedelta(weeks=2)),
        ("12 hours", timedelta(hours=12)),
        ("1 day", timedelta(days=1)),
        ("  1 DAY ", timedelta(days=1)),
        ("30", timedelta(days=30)),
        ("30days", timedelta(days=30)),
        ("3 days 12 hours", timedelta(days=3, hours=12)),
        ("1 week, 2 days and 12 hours", timedelta(days=9, hours=12)),
        ("90 minutes", timedelta(minutes=90)),
        ("1 month", timedelta(days=30)),
        ("0 days", timedelta(0)),
    ],
)
def test_parse_renew_before_expiry(text: str, expected: timedelta) -> None:
    assert parse_renew_before_expiry(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "days",
        "thirty days",
        "30 dayz",
        "-5 days",
        "5 m",
        "1.5 days",
        "30 days ago",
        "7d!",
    ],
)
def test_parse_renew_before_expiry_rejects_garbage(text: str) -> None:
    with pytest.raises(UsageError, match="is not a duration"):
        parse_renew_before_expiry(text)
