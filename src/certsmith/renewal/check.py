"""Is a lineage due? Answered from the cache alone, so `renew` over thousands of lineages that
are not due imports neither `cryptography` nor `httpx`.

Two levels. The index (``RenewalStateCache.quick``): when the renewal conf's revision and the
deployed certificate's revision are what the entry was saved with, its two moments decide (not
due before ``due_at``; the CA may be asked from ``fetch_at``): two ``stat`` calls, nothing parsed.
Otherwise the conf is parsed and the cached certificate facts decide (a read and a stat). An
entry written before the index held what `renew` prints of a lineage (its fullchain path and
notAfter) is treated as changed once: the conf path completes it, so the next run prints the
closing block from the index too (cli/renew_report.py).

Why an unchanged lineage needs no busy-marker stat: a save of a new version first creates the
marker, then changes the conf's revision (``LineageStorage.conf_revision``), and swaps the cert
link first of the four, so any save that began since the entry was written shows as a changed
revision; the full look then finds the marker and heals. An entry is never written for a lineage
whose update was interrupted and not healed.

When the cache is missing or stale the answer is "ask the engine" (``due is None``): the runner
then parses the certificate. A verdict with ``ask_ca`` set stands on what is known, but the CA's
renewal information may be asked (its Retry-After has passed); the runner asks the most urgent.
"""

from __future__ import annotations

import datetime
import math
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
from certsmith.storage.renewal_state import QuickEntry, RenewalState
from certsmith.wording import Said

UNCHANGED = Said("not yet due (unchanged since the last check)", "renewal.reason.unchanged")
DAY = 86400.0
# An answer older than this is asked for again before closer lineages' (RFC 9773 section 4.3.2
# lets the CA move a window at any time; a week bounds how late a moved window is noticed).
MAX_ANSWER_AGE = 7 * DAY


@dataclass(frozen=True)
class Verdict:
    name: str
    due: bool | None  # None: the engine must look (no cache, ARI fetch due, unreadable)
    reason: str
    conf: RenewalConf | None = field(default=None, compare=False, repr=False)  # when read
    heal: bool = False  # a run stopped half way through switching live/: finish it first
    # Set when the CA's renewal information may be asked now: (due_at, fetch_at) of the index,
    # the inputs of ``ari_urgency``.
    ask_ca: tuple[float, float] | None = None


def ari_urgency(ask_ca: tuple[float, float], now: float) -> tuple[float, float]:
    """Sort key of a lineage waiting for an ARI fetch, most urgent first: whole days until it
    is due (0 for answers older than MAX_ANSWER_AGE), then the answer whose Retry-After
    passed longest ago (never asked: 0)."""
    due_at, fetch_at = ask_ca
    days = max(0.0, math.floor((due_at - now) / DAY))
    return (0.0 if now - fetch_at > MAX_ANSWER_AGE else days, fetch_at)


def quick_entry(
    conf_revision: str,
    locator: str,
    state: RenewalState,
    record: AriCacheRecord | None,
    decision: Decision,
    now: datetime.datetime,
    fullchain: str | None,
) -> QuickEntry:
    """The index columns for a lineage just decided: when its verdict turns to due without new
    information, when the CA may be asked again, and what `renew` prints of it (``fullchain``:
    the conf's path)."""
    if decision.due:
        due_at = now.timestamp()
    else:
        moment = decision.renew_at or state.not_after
        due_at = min(moment, state.not_after).timestamp()
    if not state.cert_id:
        fetch_at = math.inf
    elif record is None or record.cert_id != state.cert_id:
        fetch_at = 0.0
    else:
        fetch_at = record.next_fetch.timestamp()
    return QuickEntry(
        conf_revision, locator, state.revision, due_at, fetch_at, fullchain or "",
        state.not_after.timestamp(),
    )  # fmt: skip


def indexed_verdict(stores: Stores, name: str, now: float) -> Verdict | None:
    """From the index alone (two stats), or None when the lineage changed or is not indexed."""
    entry = stores.states.quick(name)
    if entry is None or now >= entry.due_at or entry.not_after is None:
        return None
    lineages = stores.lineages
    if lineages.conf_revision(name) != entry.conf_revision:
        return None
    if lineages.revision(name, locator=entry.locator) != entry.revision:
        return None
    ask = (entry.due_at, entry.fetch_at) if now >= entry.fetch_at else None
    return Verdict(name, False, UNCHANGED, ask_ca=ask)


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
        revoked = Said("the certificate was revoked", "renewal.reason.revoked")
        return replace(decision, reason=revoked)
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
    """Decide from the cache alone, or say the engine must look (``due=None``). Costs two stats
    for an unchanged lineage, else a read of the renewal conf and a stat; no certificate is
    parsed. An index entry of an older version is completed (saved: the caller flushes)."""
    indexed = indexed_verdict(stores, name, now.timestamp())
    if indexed is not None:
        return indexed
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
    try:
        decision = decide_for(conf, state, record, now)
    except CertsmithError as exc:
        return Verdict(name, None, str(exc))
    if state.quick is None or state.quick.conf_revision != stores.lineages.conf_revision(name):
        # Index this lineage (its conf is at hand): the engine looks once, then two stats do.
        return Verdict(name, None, "not in the quick index yet", conf)
    if state.quick.not_after is None:  # an older index: add what `renew` prints of it
        quick = replace(
            state.quick,
            fullchain=conf.get("fullchain") or "",
            not_after=state.not_after.timestamp(),
        )
        stores.states.save(name, replace(state, quick=quick))
    ask = None  # also when due: an answer may move the window (the engine asks under lock)
    if state.cert_id and should_fetch_ari(
        record, now, cert_id=state.cert_id, not_after=state.not_after
    ):
        ask = (state.quick.due_at, state.quick.fetch_at)
    return Verdict(name, bool(decision.due), decision.reason, ask_ca=ask)
