"""One order, from identifiers to a certificate: RFC 8555 section 7.4 driven end to end.

    new order -> authorizations -> present every challenge -> settle once per solver
    -> tell the CA -> wait for the order -> finalize with a CSR -> wait -> download

With ``allow_subset`` (certbot's --allow-subset-of-names) names the CA would not validate, or
rejected by identifier, are dropped and the rest ordered again, once, with a new CSR.
Solvers are always cleaned up, whatever fails. Nothing here touches files or prints.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from certsmith import crypto
from certsmith.acme import (
    AccountDoesNotExist,
    AcmeClient,
    AlreadyReplaced,
    Authorization,
    AuthorizationStatus,
    Challenge,
    Order,
    OrderStatus,
    PollTimeout,
    ProblemError,
    ProtocolViolation,
    RateLimited,
    Unauthorized,
    UserActionRequired,
    ValidationFailed,
)
from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask, Solver
from certsmith.errors import CertsmithError, UsageError
from certsmith.wording import Said, said

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
    # certbot's --allow-subset-of-names: drop the names that fail and order for the rest.
    allow_subset: bool = False
    # The CSR for fewer identifiers (same key); required with ``allow_subset``.
    csr_for: Callable[[Sequence[Identifier]], bytes] | None = None

    def __post_init__(self) -> None:
        if self.allow_subset and self.csr_for is None:
            raise ValueError("allow_subset needs csr_for to build the smaller CSR")


@dataclass
class IssuanceResult:
    fullchain_pem: str
    order_url: str
    replaced: str | None
    validated: list[str] = field(default_factory=list)
    # Identifiers left out of the certificate because the CA would not validate them.
    dropped: list[Identifier] = field(default_factory=list)
    # Things the user should know about how it was obtained (e.g. `replaces` refused).
    notes: list[str] = field(default_factory=list)

    @property
    def cert_pem(self) -> str:
        return _pem_blocks(self.fullchain_pem)[0]

    @property
    def chain_pem(self) -> str:
        return "".join(_pem_blocks(self.fullchain_pem)[1:])


def _pem_blocks(pem: str) -> list[str]:
    return [block.decode("ascii") for block in crypto.split_pem_chain(pem.encode("ascii"))]


def choose_challenge(
    authz: Authorization, solvers: dict[str, Solver], preferred: Sequence[str]
) -> Challenge:
    """The first challenge type, in the user's order, that the CA offers and we can solve."""
    offered = {ch.type: ch for ch in authz.challenges}
    for kind in preferred:
        if kind in offered and kind in solvers:
            return offered[kind]
    wanted = ", ".join(k for k in preferred if k in solvers) or said("issuance.answer_none")
    raise UsageError(
        said(
            "issuance.no_common_challenge",
            offered=", ".join(sorted(offered)) or said("issuance.offered_none"),
            name=authz.identifier.value,
            wanted=wanted,
            wildcard=said("issuance.wildcard_hint") if authz.wildcard else "",
        )
    )


class _NamesFailed(Exception):
    """Some identifiers of an order failed; ``cause`` is what would be raised without subsets."""

    def __init__(self, cause: CertsmithError, failed: Sequence[Identifier]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.failed = list(failed)


async def obtain_certificate(
    client: AcmeClient,
    request: IssuanceRequest,
    solvers: dict[str, Solver],
    *,
    deadline_seconds: float = DEFAULT_DEADLINE,
    issuance_timeout: float | None = None,
) -> IssuanceResult:
    """Order, validate, finalize and download one certificate.

    ``deadline_seconds`` bounds the whole order; ``issuance_timeout`` (certbot's
    ``--issuance-timeout``) bounds, as in certbot, the wait for the CA to issue once the order is
    finalized, counted from the finalize request, and may reach past ``deadline_seconds``.

    Raises ValidationFailed when an identifier fails validation. With ``request.allow_subset``
    every identifier that failed (every authorization of the order is looked at, after the
    pending ones settled) or that the CA rejected by identifier is dropped and a second order made
    for the rest with ``request.csr_for(rest)``; ``IssuanceResult.dropped`` names them. There is
    one retry at most, and when nothing is left the first error is raised. One deadline covers
    both orders. Presented challenges are cleaned up after each order, whatever happened.
    """
    deadline = client.deadline_in(deadline_seconds)
    try:
        return await _obtain_once(client, request, solvers, deadline, issuance_timeout)
    except _NamesFailed as exc:
        failed = set(exc.failed)
        remaining = [i for i in request.identifiers if i not in failed]
        dropped = [i for i in request.identifiers if i in failed]
        if not remaining or not dropped:
            if not remaining:
                log.warning("no name of the order validated; nothing to issue a certificate for")
            raise exc.cause from None
        assert request.csr_for is not None  # __post_init__ holds this
        log.warning(
            "unable to obtain a certificate with every requested name; retrying without: %s",
            ", ".join(i.value for i in dropped),
        )
        smaller = replace(
            request,
            identifiers=remaining,
            csr_der=request.csr_for(remaining),
            allow_subset=False,  # once: a second failure is an error
            csr_for=None,
        )
        result = await _obtain_once(client, smaller, solvers, deadline, issuance_timeout)
        result.dropped = dropped
        return result


async def _obtain_once(
    client: AcmeClient,
    request: IssuanceRequest,
    solvers: dict[str, Solver],
    deadline: float,
    issuance_timeout: float | None = None,
) -> IssuanceResult:
    try:
        order, replaced, note = await _new_order(client, request)
    except ProblemError as exc:
        _check_rejected_names(exc, request)
        raise
    order, validated = await _authorize(client, order, request, solvers, deadline)
    if issuance_timeout is not None:
        deadline = client.deadline_in(issuance_timeout)
    try:
        order = await client.finalize(order, request.csr_der)
    except ProblemError as exc:
        _check_rejected_names(exc, request)
        raise
    order = await client.poll_order(order, deadline, until=OrderStatus.VALID)
    if not order.certificate:
        raise CertsmithError(said("issuance.no_certificate_url"))
    chain = await client.download_certificate(order.certificate, request.preferred_chain)
    result = IssuanceResult(chain.pem, order.url, replaced, validated)
    if note:
        result.notes.append(note)
    return result


OTHER_ACCOUNT_NOTE = Said(
    "The CA refused the renewal hint (replaces): another ACME account obtained the previous "
    "certificate. Ordered without it, which changes only the CA's renewal bookkeeping.",
    "note.replaces_other_account",
)
_OTHER_ACCOUNT_DETAIL = "did not request the certificate being replaced"


def _replaces_of_another_account(exc: ProblemError) -> bool:
    """Boulder's and Pebble's refusal of `replaces` for a certificate of another account
    (403 unauthorized): told apart from a real authorization failure by its detail."""
    return _OTHER_ACCOUNT_DETAIL in (exc.detail or "").lower()


# How CAs word a refusal of the `replaces` field itself: Boulder prefixes every such problem,
# Pebble 2.10 words each case (unknown serial, unparsable certID, no shared identifier).
_REPLACES_REFUSALS = (
    "could not validate ari 'replaces' field",
    "could not find an order for the given certificate",
    "parsing ari certid failed",
    "at least one identifier in the new order and existing order must match",
)


def _refuses_replaces_hint(exc: ProblemError) -> bool:
    """Whether the CA refused the `replaces` hint rather than the order (RFC 9773 section 5)."""
    detail = (exc.detail or "").lower()
    return any(marker in detail for marker in _REPLACES_REFUSALS)


async def _new_order(
    client: AcmeClient, request: IssuanceRequest
) -> tuple[Order, str | None, str | None]:
    ids = list(request.identifiers)
    if request.replaces:
        try:
            order = await client.new_order(ids, profile=request.profile, replaces=request.replaces)
            return order, request.replaces, None
        except Unauthorized as exc:
            if not _replaces_of_another_account(exc):
                raise
            # The previous certificate was ordered by another ACME account (a server moved
            # without accounts/, another --server spelling of the same CA): the CA refuses the
            # hint, not the order. Once without it; the certificate is the same.
            log.warning("CA refused 'replaces' (%s); ordering without it", exc.detail)
            order = await client.new_order(ids, profile=request.profile)
            return order, None, OTHER_ACCOUNT_NOTE
        except AlreadyReplaced:
            # RFC 9773 section 5: the certificate was already replaced (a previous run got this
            # far); ordering without `replaces` avoids the renewal loops other clients fell into.
            log.warning(
                "CA says %s was already replaced; ordering without 'replaces'", request.replaces
            )
        except (RateLimited, UserActionRequired, AccountDoesNotExist):
            raise
        except ProblemError as exc:
            # `replaces` is only a hint for the CA's scheduling and rate limits: a CA that cannot
            # match it (Pebble 2.10 for serials whose DER starts with a zero octet) must not cost
            # the renewal. Any other refusal (caa, rejectedIdentifier, badCSR...) is about the
            # order itself: sending it again would only be refused again.
            if not _refuses_replaces_hint(exc):
                raise
            log.warning("order with 'replaces' failed (%s); ordering without it", exc)
    return await client.new_order(ids, profile=request.profile), None, None


async def _authorize(
    client: AcmeClient,
    order: Order,
    request: IssuanceRequest,
    solvers: dict[str, Solver],
    deadline: float,
) -> tuple[Order, list[str]]:
    """Answer every pending authorization; returns the order once it is ready."""
    authzs = await asyncio.gather(*(client.get_authorization(u) for u in order.authorizations))
    for authz in authzs:
        _check_asked_for(authz, order)
    pending = [a for a in authzs if a.status == "pending"]
    if not pending:
        return await _wait_ready(client, order, request, deadline), []
    plan: list[tuple[Solver, ChallengeTask, Challenge]] = []
    for authz in pending:
        challenge = choose_challenge(authz, solvers, request.preferred_challenges)
        # dns-persist-01 has no token: the standing record is the answer (draft section 3).
        tokenless = challenge.type == "dns-persist-01"
        if challenge.token is None and not tokenless:
            raise ProtocolViolation(said("issuance.no_token", kind=challenge.type))
        token = challenge.token or ""
        task = ChallengeTask(
            identifier=authz.identifier,
            challenge_type=challenge.type,
            token=token,
            key_authorization="" if tokenless else client.key_authorization(token),
            account_url=client.account_url,
            issuer_domain_names=challenge.issuer_domain_names,
            wildcard=authz.wildcard,
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
        # Inside the try: with allow_subset the answered authorizations still pending are waited
        # for, and their challenges must stay presented until the CA has looked.
        order = await _wait_ready(client, order, request, deadline)
    finally:
        await _cleanup(presented)
    return order, [task.identifier.value for _, task, _ in plan]


def _check_asked_for(authz: Authorization, order: Order) -> None:
    """A CA must not make our solvers publish proof for a name we did not order."""
    ident = authz.identifier
    if authz.wildcard:
        ident = Identifier(ident.type, f"*.{ident.value}")
    asked = {(i.type, i.value.lower()) for i in order.identifiers}
    if (ident.type, ident.value.lower()) not in asked:
        raise ProtocolViolation(said("issuance.unasked_authorization", name=ident.value))


async def _cleanup(presented: list[tuple[Solver, ChallengeTask]]) -> None:
    for solver, task in presented:
        try:
            await solver.cleanup(task)
        except Exception:  # cleanup must not hide the real outcome of the order
            log.exception("cleanup of %s for %s failed", task.challenge_type, task.identifier)


def _check_rejected_names(exc: ProblemError, request: IssuanceRequest) -> None:
    """With allow_subset, raise _NamesFailed when ``exc``'s subproblems name some of the
    request's identifiers (RFC 8555 section 6.7.1, e.g. rejectedIdentifier at new-order)."""
    if not request.allow_subset:
        return
    wanted = set(request.identifiers)
    failed = [p.identifier for p in exc.subproblems if p.identifier is not None]
    named = [i for i in dict.fromkeys(failed) if i in wanted]
    if named:
        raise _NamesFailed(exc, named) from exc


async def _wait_ready(
    client: AcmeClient, order: Order, request: IssuanceRequest, deadline: float
) -> Order:
    """The order once READY; ValidationFailed, or _NamesFailed with allow_subset, if invalid."""
    try:
        return await client.poll_order(order, deadline, until=OrderStatus.READY)
    except ValidationFailed as exc:
        if not request.allow_subset:
            raise
        try:
            failed = await _failed_identifiers(client, order, deadline)
        except PollTimeout:
            raise exc from None  # no time left for a second order anyway
        raise _NamesFailed(exc, failed or [exc.identifier]) from exc


async def _failed_identifiers(
    client: AcmeClient, order: Order, deadline: float
) -> list[Identifier]:
    """The order identifiers whose authorizations did not become valid. The CA may mark an
    order invalid at the first failure while others are still pending: those are waited for."""

    timed_out = False

    async def failed(url: str) -> Identifier | None:
        nonlocal timed_out
        authz = await client.get_authorization(url)
        if authz.status == AuthorizationStatus.PENDING:
            try:
                await client.poll_authorization(url, deadline)
                return None
            except ValidationFailed:
                return _order_identifier(authz)
            except PollTimeout:  # caught here so no sibling poll is left running
                timed_out = True
                return None
        return None if authz.status == AuthorizationStatus.VALID else _order_identifier(authz)

    found = await asyncio.gather(*(failed(u) for u in order.authorizations))
    if timed_out:
        raise PollTimeout(said("issuance.authorizations_pending", url=order.url))
    names = [i for i in found if i is not None]
    for ident in names:
        log.warning("validation of %s failed", ident.value)
    return names


def _order_identifier(authz: Authorization) -> Identifier:
    """The identifier as the order names it: RFC 8555 section 7.1.4 strips a wildcard's `*.`."""
    if authz.wildcard and authz.identifier.type == "dns":
        return Identifier.dns("*." + authz.identifier.value)
    return authz.identifier
