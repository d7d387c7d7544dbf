"""The dns-persist-01 solver: nothing to publish, one look before telling the CA.

The standing record at ``_validation-persist.<name>`` is the answer (see
``certsmith.challenges.dns_persist``), so ``present`` and ``cleanup`` change nothing: certsmith
never writes or removes that record during an order, and needs no DNS credentials for it.
``settle`` asks every authoritative server of the zone (or ``--dns-resolver``) once, and raises
``SolverError`` naming what is wrong when a server has no record that would let this CA and this
account validate the name, so no doomed challenge is answered (an answered challenge that fails
invalidates the authorization; an unanswered one just expires).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.dns01.propagation import PropagationChecker, query_txt
from certsmith.challenges.dns_persist import CHALLENGE_TYPE, Finding, evaluate, persist_owner
from certsmith.errors import SolverError

logger = logging.getLogger(__name__)

_WHY = {
    Finding.MISSING: "no TXT record",
    Finding.OTHER_CA: "records only for other CAs ({detail})",
    Finding.MALFORMED: "a malformed record for this CA ({detail})",
    Finding.OTHER_ACCOUNT: "a record for another ACME account",
    Finding.NO_WILDCARD: "a record without policy=wildcard, which a wildcard name needs",
    Finding.EXPIRED: "a record past its persistUntil",
}


class PersistSolver:
    """Implements ``certsmith.challenges.base.Solver`` for dns-persist-01."""

    challenge_type = CHALLENGE_TYPE

    def __init__(
        self, checker: PropagationChecker, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self.checker = checker
        self._now = now or (lambda: datetime.now(UTC))

    async def present(self, task: ChallengeTask) -> None:
        """Nothing to write: the record is published once, by the domain's owner."""
        if task.challenge_type != CHALLENGE_TYPE:
            raise SolverError(f"the dns-persist-01 solver got a {task.challenge_type} challenge")
        persist_owner(task.identifier)  # refuses a hostile name before anything else
        logger.info("dns-persist-01 for %s: the record stays as it is", task.identifier)

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        """Check once that every server serves a matching record for every task."""
        problems: list[str] = []
        for task in tasks:
            owner = persist_owner(task.identifier)
            servers = await self.checker.servers_for(owner)
            recursion = self.checker.dns_resolver is not None
            answers = await asyncio.gather(
                *(query_txt(s, owner, self.checker.query_timeout, recursion) for s in servers)
            )
            for server, (values, description) in zip(servers, answers, strict=True):
                if values is None:
                    problems.append(f"{server.name} gave {description} for {owner}")
                    continue
                verdict = evaluate(
                    values,
                    task.issuer_domain_names,
                    task.account_url,
                    wildcard=task.wildcard,
                    now=self._now(),
                )
                if not verdict.ok:
                    why = _WHY[verdict.finding].format(detail=verdict.detail)
                    problems.append(f"{server.name} serves {why} at {owner}")
        if problems:
            raise SolverError(
                "dns-persist-01 would fail, so the challenge was not answered: "
                + "; ".join(problems)
            )

    async def cleanup(self, task: ChallengeTask) -> None:
        """Nothing to remove: the record is an authorization, kept until its owner removes it."""
