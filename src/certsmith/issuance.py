"""One order, from identifiers to a certificate: RFC 8555 section 7.4 driven end to end.

    new order -> authorizations -> present every challenge -> settle once per solver
    -> tell the CA -> wait for the order -> finalize with a CSR -> wait -> download

Solvers are always cleaned up, whatever fails. Nothing here touches files or prints.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from certsmith.acme import (
    AccountDoesNotExist,
    AcmeClient,
    AlreadyReplaced,
    Authorization,
    Challenge,
    Order,
    OrderStatus,
    ProblemError,
    ProtocolViolation,
    RateLimited,
    Unauthorized,
    UserActionRequired,
)
from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask, Solver
from certsmith.errors import CertsmithError, UsageError

log = logging.getLogger(__name__)

DEFAULT_DEADLINE = 300.0  # seconds for the whole order, validation included


@dataclass(frozen=True)
class IssuanceRequest:
    identifiers: Sequence[Identifier]
    csr_der: bytes
    profile: str | None = None
    replaces: str | None = None
    preferred_chain: str | None = None
    # Challenge types in the order the user prefers them (certbot's --preferred-challenges).
    preferred_challenges: Sequence[str] = ("http-01", "dns-01", "tls-alpn-01")


@dataclass
class IssuanceResult:
    fullchain_pem: str
    order_url: str
    replaced: str | None
    validated: list[str] = field(default_factory=list)

    @property
    def cert_pem(self) -> str:
        return _pem_blocks(self.fullchain_pem)[0]

    @property
    def chain_pem(self) -> str:
        return "".join(_pem_blocks(self.fullchain_pem)[1:])


def _pem_blocks(pem: str) -> list[str]:
    marker = "-----END CERTIFICATE-----"
    parts = [p.strip() for p in pem.split(marker) if p.strip()]
    return [p + "\n" + marker + "\n" for p in parts]


def choose_challenge(
    authz: Authorization, solvers: dict[str, Solver], preferred: Sequence[str]
) -> Challenge:
    """The first challenge type, in the user's order, that the CA offers and we can solve."""
    offered = {ch.type: ch for ch in authz.challenges}
    for kind in preferred:
        if kind in offered and kind in solvers:
            return offered[kind]
    wanted = ", ".join(k for k in preferred if k in solvers) or "none"
    raise UsageError(
        f"The CA offers {', '.join(sorted(offered)) or 'no challenges'} for "
        f"{authz.identifier.value}, but this run can answer only: {wanted}."
        + (" Wildcard names need dns-01 (--manual or a --dns-* plugin)." if authz.wildcard else "")
    )


async def obtain_certificate(
    client: AcmeClient,
    request: IssuanceRequest,
    solvers: dict[str, Solver],
    *,
    deadline_seconds: float = DEFAULT_DEADLINE,
) -> IssuanceResult:
    """Order, validate, finalize and download one certificate."""
    deadline = client.deadline_in(deadline_seconds)
    order, replaced = await _new_order(client, request)
    order, validated = await _authorize(client, order, request, solvers, deadline)
    order = await client.finalize(order, request.csr_der)
    order = await client.poll_order(order, deadline, until=OrderStatus.VALID)
    if not order.certificate:
        raise CertsmithError("the CA marked the order valid but gave no certificate URL")
    chain = await client.download_certificate(order.certificate, request.preferred_chain)
    return IssuanceResult(chain.pem, order.url, replaced, validated)


async def _new_order(client: AcmeClient, request: IssuanceRequest) -> tuple[Order, str | None]:
    ids = list(request.identifiers)
    if request.replaces:
        try:
            order = await client.new_order(ids, profile=request.profile, replaces=request.replaces)
            return order, request.replaces
        except AlreadyReplaced:
            # RFC 9773 section 5: the certificate was already replaced (a previous run got this
            # far); ordering without `replaces` avoids the renewal loops other clients fell into.
            log.warning(
                "CA says %s was already replaced; ordering without 'replaces'", request.replaces
            )
        except (RateLimited, Unauthorized, UserActionRequired, AccountDoesNotExist):
            raise
        except ProblemError as exc:
            # `replaces` is only a hint for the CA's scheduling and rate limits: a CA that cannot
            # match it (Pebble 2.10 for serials whose DER starts with a zero octet) must not cost
            # the renewal. Rate limits and account problems are real, so they stay errors.
            log.warning("order with 'replaces' failed (%s); ordering without it", exc)
    return await client.new_order(ids, profile=request.profile), None


async def _authorize(
    client: AcmeClient,
    order: Order,
    request: IssuanceRequest,
    solvers: dict[str, Solver],
    deadline: float,
) -> tuple[Order, list[str]]:
    """Answer every pending authorization; returns the order once it is ready."""
    authzs = await asyncio.gather(*(client.get_authorization(u) for u in order.authorizations))
    pending = [a for a in authzs if a.status == "pending"]
    if not pending:
        return await client.poll_order(order, deadline, until=OrderStatus.READY), []
    plan: list[tuple[Solver, ChallengeTask, Challenge]] = []
    for authz in pending:
        challenge = choose_challenge(authz, solvers, request.preferred_challenges)
        if challenge.token is None:
            raise ProtocolViolation(f"the CA's {challenge.type} challenge has no token")
        task = ChallengeTask(
            identifier=authz.identifier,
            challenge_type=challenge.type,
            token=challenge.token,
            key_authorization=client.key_authorization(challenge.token),
        )
        plan.append((solvers[challenge.type], task, challenge))
    presented: list[tuple[Solver, ChallengeTask]] = []
    try:
        for solver, task, _ in plan:
            presented.append((solver, task))
            await solver.present(task)
        for solver in {id(s): s for s, _, _ in plan}.values():
            await solver.settle([t for s, t, _ in plan if s is solver])
        await asyncio.gather(*(client.respond_challenge(ch) for _, _, ch in plan))
        order = await client.poll_order(order, deadline, until=OrderStatus.READY)
    finally:
        await _cleanup(presented)
    return order, [task.identifier.value for _, task, _ in plan]


async def _cleanup(presented: list[tuple[Solver, ChallengeTask]]) -> None:
    for solver, task in presented:
        try:
            await solver.cleanup(task)
        except Exception:  # cleanup must not hide the real outcome of the order
            log.exception("cleanup of %s for %s failed", task.challenge_type, task.identifier)
