"""The dns-01 solver: a DNS provider to write records, a propagation checker to wait for them.

For an order with several names, the issuance code calls ``present`` for each (every record is
written, to the CNAME target of its ``_acme-challenge`` name), ``settle`` once (one wait for all
records together), and ``cleanup`` for each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.dns01.contract import DnsProvider
from certsmith.challenges.dns01.propagation import (
    PropagationChecker,
    challenge_name,
    txt_value,
)
from certsmith.challenges.dns_account import (
    CHALLENGE_TYPE as ACCOUNT_CHALLENGE,
    account_challenge_name,
)
from certsmith.errors import CertsmithError, SolverError
from certsmith.wording import said

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedRecord:
    """A TXT value this solver wrote: where (after CNAMEs) and what."""

    fqdn: str
    value: str


class DnsSolver:
    """Implements ``certsmith.challenges.base.Solver`` for dns-01 over any ``DnsProvider``;
    it answers dns-account-01 too (the same record at ``_<label>._acme-challenge.<name>``)."""

    challenge_type = "dns-01"

    def __init__(
        self,
        provider: DnsProvider,
        checker: PropagationChecker,
        *,
        propagation_seconds: float = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.provider = provider
        self.checker = checker
        # certbot's --dns-NAME-propagation-seconds: a fixed wait before the check of the
        # authoritative servers (which still runs: the wait alone proves nothing).
        self.propagation_seconds = propagation_seconds
        self._sleep = sleep
        self._published: dict[ChallengeTask, PublishedRecord] = {}
        self._attempted: dict[ChallengeTask, PublishedRecord] = {}

    async def record_for(self, task: ChallengeTask) -> PublishedRecord:
        """Where and what ``task``'s TXT record is (follows an ``_acme-challenge`` CNAME)."""
        name = challenge_name(task.identifier)
        if task.challenge_type == ACCOUNT_CHALLENGE:
            # Same value, at the account's own label (draft-ietf-acme-dns-account-label).
            if not task.account_url:
                raise SolverError(said("challenge.account_url_missing"))
            name = account_challenge_name(name, task.account_url)
        elif task.challenge_type != self.challenge_type:
            raise SolverError(f"the dns-01 solver got a {task.challenge_type} challenge")
        fqdn = await self.checker.resolve_challenge_target(name)
        return PublishedRecord(fqdn, txt_value(task.key_authorization))

    async def present(self, task: ChallengeTask) -> None:
        """Write ``task``'s TXT value; a second call for the same task does nothing."""
        if task in self._published:
            return
        record = await self.record_for(task)
        logger.info("publishing TXT %s for %s", record.fqdn, task.identifier)
        # Remembered before the call: a write that timed out may still have happened, and
        # cleanup() must then remove it.
        self._attempted[task] = record
        try:
            await self.provider.add_txt(record.fqdn, record.value)
        except CertsmithError:
            raise
        except Exception as exc:
            provider = type(self.provider).__name__
            why = said("dns01.add_failed", provider=provider, fqdn=record.fqdn, reason=exc)
            raise SolverError(why) from exc
        self._published[task] = record

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        """Wait once until every presented task's value is served; bounded by the checker."""
        records: dict[str, set[str]] = {}
        for task in tasks:
            record = self._published.get(task)
            if record is None:
                raise SolverError(f"settle() before present() for {task.identifier}")
            records.setdefault(record.fqdn, set()).add(record.value)
        if records and self.propagation_seconds > 0:
            logger.info(
                "waiting %g seconds for DNS changes to propagate (propagation seconds)",
                self.propagation_seconds,
            )
            await self._sleep(self.propagation_seconds)
        if records:
            await self.checker.wait(records)

    async def cleanup(self, task: ChallengeTask) -> None:
        """Remove ``task``'s value if this solver wrote it; logs failures, never raises."""
        self._published.pop(task, None)
        record = self._attempted.pop(task, None)
        if record is None:
            logger.debug("nothing to clean up for %s", task.identifier)
            return
        try:
            await self.provider.remove_txt(record.fqdn, record.value)
        except Exception as exc:
            logger.warning("could not remove TXT %s (%s): %s", record.fqdn, record.value, exc)
        else:
            logger.info("removed TXT %s for %s", record.fqdn, task.identifier)
