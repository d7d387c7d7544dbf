"""An error answer to renewalInfo honours the CA's Retry-After (clamped), not a fixed 6 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from certsmith.acme import AcmeClient, TransportError
from certsmith.acme.errors import problem_from_json
from certsmith.errors import CertsmithError
from certsmith.renewal.ari_cache import AriCacheRecord
from certsmith.renewal.due import fetch_ari
from certsmith.storage.renewal_state import RenewalState

NOW = datetime(2026, 3, 1, tzinfo=UTC)
STATE = RenewalState("rev", NOW - timedelta(days=10), NOW + timedelta(days=80), 7, "aki.07")


class FailingClient:
    def __init__(self, error: CertsmithError) -> None:
        self.error = error

    async def renewal_info(self, cert: Any) -> None:
        raise self.error


def unavailable(retry_after: float | None) -> CertsmithError:
    data = {"type": "urn:ietf:params:acme:error:serverInternal", "detail": "busy"}
    return problem_from_json(data, status=503, retry_after=retry_after)


async def failed_record(error: CertsmithError, state: RenewalState = STATE) -> AriCacheRecord:
    client = cast(AcmeClient, FailingClient(error))
    record = await fetch_ari(client, cast(Any, None), state, "example", NOW)
    assert record is not None and record.failures >= 1
    return record


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        (7200.0, timedelta(hours=2)),
        (5.0, timedelta(minutes=1)),  # clamped up (RFC 9773 section 4.3.2)
        (9 * 86400.0, timedelta(days=1)),  # clamped down
        (None, timedelta(hours=6)),  # no header: the default
    ],
)
async def test_error_answer_waits_the_retry_after_it_carries(
    retry_after: float | None, wait: timedelta
) -> None:
    record = await failed_record(unavailable(retry_after))
    assert record.next_fetch == NOW + wait


async def test_error_retry_after_applies_to_a_known_certificate_too() -> None:
    window = (NOW + timedelta(days=50), NOW + timedelta(days=52))
    previous = AriCacheRecord.from_response("aki.07", NOW - timedelta(days=1), window)
    state = STATE.with_ari(previous.to_json())
    record = await failed_record(unavailable(1800.0), state)
    assert record.window == window and record.failures == 1
    assert record.next_fetch == NOW + timedelta(minutes=30)


async def test_a_transport_failure_waits_the_default() -> None:
    record = await failed_record(TransportError("connection refused"))
    assert record.next_fetch == NOW + timedelta(hours=6)
