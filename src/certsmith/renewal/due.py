"""Is a lineage due? One answer for every command (`renew`, `certonly`, later the installers
and the cluster runner): from the cache when it can tell (check.quick_verdict), else from the
certificate and the CA's renewal information (ARI), whose answer is cached for the next run.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from cryptography import x509

from certsmith import crypto
from certsmith.acme import AcmeClient
from certsmith.errors import CertsmithError, LineageCorrupt
from certsmith.renewal.ari_cache import AriCacheRecord, should_fetch_ari
from certsmith.renewal.check import Verdict, ari_record, decide_for, quick_verdict
from certsmith.renewal.settings import LineageSettings
from certsmith.storage.interface import Stores
from certsmith.storage.renewal_conf import RenewalConf
from certsmith.storage.renewal_state import RenewalState

log = logging.getLogger(__name__)

# The client to ask a lineage's CA for renewal information; None: do not ask.
AriClientFor = Callable[[LineageSettings], Awaitable[AcmeClient | None]]


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
        if previous is not None and previous.cert_id == state.cert_id:
            return previous.with_failure(now)
        return AriCacheRecord.failed(state.cert_id, now)
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
    flushes it). ``settings_for`` gives a lineage's settings with the run's overrides."""

    def __init__(
        self,
        stores: Stores,
        now: Callable[[], datetime.datetime],
        ari_client: AriClientFor,
        settings_for: Callable[[RenewalConf], LineageSettings] = settings_from_conf,
    ) -> None:
        self._stores, self._now = stores, now
        self._ari_client, self._settings_for = ari_client, settings_for

    def quick(self, name: str) -> Verdict:
        """From the cache alone, or ``due=None`` when the certificate or the CA must be asked."""
        return quick_verdict(self._stores, name, self._now())

    async def verdict(self, name: str, quick: Verdict | None = None) -> Verdict:
        """Due or not. A lineage left half-updated is healed first when its lock is free."""
        verdict = quick or self.quick(name)
        if verdict.due is not None:
            return verdict
        try:
            if verdict.heal:
                self._heal(name)
            return await self.full(name, None if verdict.heal else verdict.conf)
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

    async def full(self, name: str, conf: RenewalConf | None = None) -> Verdict:
        """Parse the deployed certificate, ask ARI when its time has come, decide."""
        lineages, states, now = self._stores.lineages, self._stores.states, self._now()
        conf = conf or lineages.read_conf(name)
        revision = lineages.revision(name, conf)
        if revision is None:
            raise LineageCorrupt(f"{name}: the deployed certificate cannot be read")
        cert = crypto.load_certificates(lineages.read_live_cert(name, conf))[0]
        cached = states.load(name, revision)
        state = certificate_facts(cert, revision, cached.ari if cached else None)
        if cached is not None and cached.revoked:
            state = replace(state, revoked=True)
        record = ari_record(state)
        if state.cert_id and should_fetch_ari(
            record, now, cert_id=state.cert_id, not_after=state.not_after
        ):
            client = await self._ari_client(self._settings_for(conf))
            if client is not None:
                record = await fetch_ari(client, cert, state, name, now)
        state = state.with_ari(record.to_json() if record else None)
        states.save(name, state)
        decision = decide_for(conf, state, record, now)
        return Verdict(name, decision.due, decision.reason)

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
