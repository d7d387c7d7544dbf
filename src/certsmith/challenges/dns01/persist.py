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
from certsmith.wording import said
from certsmith.wording_parts import joined

logger = logging.getLogger(__name__)

# What a server serves, as the catalogue says it (persist.why.*; {detail} where it has one).
_WHY = {
    Finding.MISSING: "persist.why.missing",
    Finding.OTHER_CA: "persist.why.other_ca",
    Finding.MALFORMED: "persist.why.malformed",
    Finding.OTHER_ACCOUNT: "persist.why.other_account",
    Finding.NO_WILDCARD: "persist.why.no_wildcard",
    Finding.EXPIRED: "persist.why.expired",
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
                    problems.append(
                        said("persist.gave", server=server.name, what=description, owner=owner)
                    )
                    continue
                verdict = evaluate(
                    values,
                    task.issuer_domain_names,
                    task.account_url,
                    wildcard=task.wildcard,
                    now=self._now(),
                )
                if not verdict.ok:
                    why = said(_WHY[verdict.finding], detail=verdict.detail)
                    problems.append(
                        said("persist.serves", server=server.name, why=why, owner=owner)
                    )
        if problems:
            raise SolverError(said("persist.would_fail", problems=joined(problems)))

    async def cleanup(self, task: ChallengeTask) -> None:
        """Nothing to remove: the record is an authorization, kept until its owner removes it."""
