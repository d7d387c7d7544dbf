"""Is a lineage due? Answered from the renewal conf and the cached certificate facts alone, so
`renew` over thousands of lineages that are not due reads two small files each and imports
neither `cryptography` nor `httpx`.

When the cache is missing or stale, or the CA's Retry-After for ARI has passed, the answer is
"ask the engine" (``due is None``): the runner then parses the certificate and asks the CA.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace

from certsmith.errors import CertsmithError
from certsmith.renewal.ari_cache import AriCacheRecord, should_fetch_ari
from certsmith.renewal.policy import (
    Decision,
    certificate_rng,
    decide,
    parse_renew_before_expiry,
)
from certsmith.storage.interface import Stores
from certsmith.storage.renewal_conf import RenewalConf
from certsmith.storage.renewal_state import RenewalState


@dataclass(frozen=True)
class Verdict:
    name: str
    due: bool | None  # None: the engine must look (no cache, ARI fetch due, unreadable)
    reason: str
    conf: RenewalConf | None = field(default=None, compare=False, repr=False)  # when read
    heal: bool = False  # a run stopped half way through switching live/: finish it first


def decide_for(
    conf: RenewalConf,
    state: RenewalState,
    record: AriCacheRecord | None,
    now: datetime.datetime,
) -> Decision:
    """The renewal decision for a lineage whose certificate facts and ARI answer are known."""
    if state.revoked:
        rng = certificate_rng(state.serial)
        decision = decide(state.not_before, state.not_after, now, force=True, rng=rng)
        return replace(decision, reason="the certificate was revoked")
    before = conf.get("renew_before_expiry")
    return decide(
        state.not_before,
        state.not_after,
        now,
        ari_window=record.window if record else None,
        ari_retry_after=record.next_fetch if record else None,
        renew_before_expiry=parse_renew_before_expiry(before) if before else None,
        rng=certificate_rng(state.serial),
    )


def ari_record(state: RenewalState) -> AriCacheRecord | None:
    if not state.ari:
        return None
    try:
        return AriCacheRecord.from_json(state.ari)
    except CertsmithError:
        return None


def quick_verdict(stores: Stores, name: str, now: datetime.datetime) -> Verdict:
    """Decide from the cache alone, or say the engine must look (``due=None``). Costs a read of
    the renewal conf and a revision (a stat for the file backend); no certificate is parsed."""
    try:
        conf = stores.lineages.read_conf(name)
        state = stores.states.load(name, stores.lineages.revision(name, conf))
    except CertsmithError as exc:
        return Verdict(name, None, str(exc))
    if stores.lineages.update_interrupted(name, conf):
        return Verdict(name, None, "an interrupted update is to be finished", conf, heal=True)
    if state is None:
        return Verdict(name, None, "no cached facts for the deployed certificate", conf)
    record = ari_record(state)
    if state.cert_id and should_fetch_ari(
        record, now, cert_id=state.cert_id, not_after=state.not_after
    ):
        return Verdict(name, None, "time to ask the CA's renewal information", conf)
    try:
        decision = decide_for(conf, state, record, now)
    except CertsmithError as exc:
        return Verdict(name, None, str(exc))
    return Verdict(name, bool(decision.due), decision.reason)
