"""Is a lineage due? One answer for every command (`renew`, `certonly`, later the installers
and the cluster runner): from the cache when it can tell (check.quick_verdict), else from the
certificate and the CA's renewal information (ARI), whose answer is cached for the next run.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from cryptography import x509

from certsmith import crypto
from certsmith.acme import AcmeClient, ProblemError
from certsmith.errors import CertsmithError, LineageCorrupt
from certsmith.renewal.ari_cache import AriCacheRecord, should_fetch_ari
from certsmith.renewal.check import Verdict, ari_record, decide_for, quick_entry, quick_verdict
from certsmith.renewal.settings import LineageSettings
from certsmith.storage.interface import Stores
from certsmith.storage.renewal_conf import RenewalConf
from certsmith.storage.renewal_state import RenewalState
from certsmith.wording import said

log = logging.getLogger(__name__)

# The client to ask a lineage's CA for renewal information; None: do not ask.
AriClientFor = Callable[[LineageSettings], Awaitable[AcmeClient | None]]
# renewalInfo GETs in flight at once per CA, for the whole run: when a helper process asks
# some of them, the two processes split it (runner.py, helper_process.py).
ARI_CONCURRENCY = 4


def certificate_facts(
    cert: x509.Certificate, revision: str, ari: dict[str, object] | None = None
) -> RenewalState:
    """What `renew` needs to know of a deployed certificate, for the cache."""
    return RenewalState(
        revision=revision,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=cert.serial_number,
        cert_id=_cert_id_or_none(cert),
        ari=dict(ari) if ari else None,
    )


def _cert_id_or_none(cert: x509.Certificate) -> str | None:
    try:
        return AcmeClient.cert_id(cert)
    except Exception:  # a certificate without an AKI has no ARI identifier
        return None


def settings_from_conf(conf: RenewalConf) -> LineageSettings:
    section = conf.renewalparams
    params: dict[str, object] = dict(section.values)
    if "webroot_map" in section.sections:
        params["webroot_map"] = dict(section.sections["webroot_map"].values)
    return LineageSettings.from_renewalparams(params)


async def fetch_ari(
    client: AcmeClient, cert: x509.Certificate, state: RenewalState, name: str,
    now: datetime.datetime,
) -> AriCacheRecord | None:  # fmt: skip
    """Ask the CA's renewalInfo; a failure keeps the last answer and waits before asking again."""
    assert state.cert_id is not None
    previous = ari_record(state)
    try:
        info = await client.renewal_info(cert)
    except CertsmithError as exc:
        log.info("%s: renewalInfo failed (%s); using the lifetime rule", name, exc)
        # The CA's Retry-After on an error answer is honoured too (clamped like any other).
        seconds = exc.retry_after if isinstance(exc, ProblemError) else None
        wait = datetime.timedelta(seconds=seconds) if seconds is not None else None
        if previous is not None and previous.cert_id == state.cert_id:
            return previous.with_failure(now, wait)
        return AriCacheRecord.failed(state.cert_id, now, wait)
    if info is None:
        return None
    retry = datetime.timedelta(seconds=info.retry_after) if info.retry_after else None
    return AriCacheRecord.from_response(
        state.cert_id,
        now,
        (info.window_start, info.window_end),
        explanation_url=info.explanation_url,
        retry_after=retry,
    )


class DueChecker:
    """Verdicts for lineages of one run; what it learns goes into ``stores.states`` (the caller
    flushes it). ``settings_for`` gives a lineage's settings with the run's overrides. ARI GETs
    go at most ``ari_concurrency`` at a time to each CA (by directory URL)."""

    def __init__(
        self,
        stores: Stores,
        now: Callable[[], datetime.datetime],
        ari_client: AriClientFor,
        settings_for: Callable[[RenewalConf], LineageSettings] = settings_from_conf,
        ari_concurrency: int = ARI_CONCURRENCY,
    ) -> None:
        self._stores, self._now = stores, now
        self._ari_client, self._settings_for = ari_client, settings_for
        self._ari_concurrency = max(1, ari_concurrency)
        self._ari_limits: dict[str, asyncio.Semaphore] = {}

    @property
    def ari_concurrency(self) -> int:
        return self._ari_concurrency

    def set_ari_concurrency(self, bound: int) -> None:
        """This process's share of the per-CA bound from now on. Call only when none of this
        checker's renewalInfo GETs is in flight (between phases): the limits start afresh."""
        self._ari_concurrency = max(1, bound)
        self._ari_limits = {}

    def quick(self, name: str) -> Verdict:
        """From the cache alone, or ``due=None`` when the certificate or the CA must be asked."""
        return quick_verdict(self._stores, name, self._now())

    async def verdict(self, name: str, quick: Verdict | None = None) -> Verdict:
        """Due or not, asking the CA when its Retry-After has passed. A lineage left
        half-updated is healed first when its lock is free."""
        verdict = quick or self.quick(name)
        if verdict.due is not None and verdict.ask_ca is None:
            return verdict
        try:
            if verdict.heal:
                self._heal(name)
            return await self.full(name, None if verdict.heal else verdict.conf)
        except CertsmithError as exc:
            return Verdict(name, None, str(exc))

    def look(self, name: str, quick: Verdict | None = None) -> Verdict:
        """Like ``verdict`` without asking the CA: parse what changed, heal, decide, index.
        A verdict with ``ask_ca`` set may change once the CA is asked (``ask_ca``)."""
        verdict = quick or self.quick(name)
        if verdict.due is not None:
            return verdict
        try:
            if verdict.heal:
                self._heal(name)
            return self._look(name, None if verdict.heal else verdict.conf)
        except CertsmithError as exc:
            return Verdict(name, None, str(exc))

    async def ask_ca(self, name: str) -> Verdict:
        """Ask the CA's renewal information for ``name`` now (the runner chose it), decide."""
        try:
            return await self.full(name)
        except CertsmithError as exc:
            return Verdict(name, None, str(exc))

    def _heal(self, name: str) -> None:
        from certsmith.errors import LockHeld

        lineages = self._stores.lineages
        try:
            with lineages.lock(name, blocking=False):
                version = lineages.heal(name)
        except LockHeld:  # the holder is the one switching; it finishes the update itself
            return
        log.warning("%s: finished an interrupted update; live/ is at version %d", name, version)

    def _facts(
        self, name: str, conf: RenewalConf
    ) -> tuple[x509.Certificate, RenewalState, str, str | None]:
        lineages, states = self._stores.lineages, self._stores.states
        conf_revision = lineages.conf_revision(name)
        locator = lineages.revision_locator(name, conf)
        revision = lineages.revision(name, locator=locator)
        if revision is None:
            raise LineageCorrupt(said("engine.live_unreadable", name=name))
        cert = crypto.load_certificates(lineages.read_live_cert(name, conf))[0]
        cached = states.load(name, revision)
        state = certificate_facts(cert, revision, cached.ari if cached else None)
        if cached is not None and cached.revoked:
            state = replace(state, revoked=True)
        # Indexed only when no update of it is pending (the heal before may have failed).
        indexable = conf_revision is not None and not lineages.update_interrupted(name, conf)
        return cert, state, locator, conf_revision if indexable else None

    def _decide(
        self,
        name: str,
        conf: RenewalConf,
        facts: tuple[x509.Certificate, RenewalState, str, str | None],
        record: AriCacheRecord | None,
    ) -> Verdict:
        _cert, state, locator, conf_revision = facts
        now = self._now()
        state = state.with_ari(record.to_json() if record else None)
        decision = decide_for(conf, state, record, now)
        ask = None
        if conf_revision is not None:
            fullchain = conf.get("fullchain")
            entry = quick_entry(conf_revision, locator, state, record, decision, now, fullchain)
            state = replace(state, quick=entry)
            if entry.fetch_at <= now.timestamp() < state.not_after.timestamp():
                ask = (entry.due_at, entry.fetch_at)
        self._stores.states.save(name, state)
        return Verdict(name, decision.due, decision.reason, ask_ca=ask)

    def _look(self, name: str, conf: RenewalConf | None = None) -> Verdict:
        conf = conf or self._stores.lineages.read_conf(name)
        facts = self._facts(name, conf)
        return self._decide(name, conf, facts, ari_record(facts[1]))

    async def full(self, name: str, conf: RenewalConf | None = None) -> Verdict:
        """Parse the deployed certificate, ask ARI when its time has come, decide."""
        conf = conf or self._stores.lineages.read_conf(name)
        facts = self._facts(name, conf)
        cert, state = facts[0], facts[1]
        record, now = ari_record(state), self._now()
        if state.cert_id and should_fetch_ari(
            record, now, cert_id=state.cert_id, not_after=state.not_after
        ):
            settings = self._settings_for(conf)
            client = await self._ari_client(settings)
            if client is not None:
                limit = self._ari_limits.setdefault(
                    settings.server, asyncio.Semaphore(self._ari_concurrency)
                )
                async with limit:
                    record = await fetch_ari(client, cert, state, name, now)
        return self._decide(name, conf, facts, record)

    def remember(self, name: str) -> RenewalState | None:
        return remember_deployed(self._stores, name)


def remember_deployed(stores: Stores, name: str) -> RenewalState | None:
    """Cache the facts of the certificate just deployed, so the next run need not parse it."""
    revision = stores.lineages.revision(name)
    if revision is None:
        return None
    cert = crypto.load_certificates(stores.lineages.read_live_cert(name))[0]
    state = certificate_facts(cert, revision)
    stores.states.save(name, state)
    stores.states.flush()
    return state
