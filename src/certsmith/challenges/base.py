"""The contract every challenge solver implements.

A solver publishes the response to one challenge (``present``) and removes it again
(``cleanup``). The issuance code calls ``present`` for every challenge of an order, then
``settle`` once (to wait for DNS propagation, or to self-check an HTTP URL), then tells the CA,
and finally calls ``cleanup`` for every challenge it presented, also when something failed.

Duties of an implementation:
- ``present`` must be idempotent for the same task and must not block the event loop.
- ``cleanup`` must never raise for a task that was only partly presented; it logs instead.
- ``settle`` is bounded in time and raises ``SolverError`` naming what is not visible yet.
- A solver treats ``token`` as hostile input: it is checked against the base64url alphabet
  (``is_safe_token``) before it is used in a path, URL or file name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from certsmith.acme.identifier import Identifier

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def is_safe_token(token: str) -> bool:
    """RFC 8555 section 8.3: a token is base64url without padding; anything else is hostile."""
    return bool(_TOKEN_RE.match(token))


@dataclass(frozen=True)
class ChallengeTask:
    """One challenge to answer: what to prove, for which identifier."""

    identifier: Identifier
    challenge_type: str  # "http-01", "dns-01", "tls-alpn-01", "dns-account-01"...
    token: str  # "" for dns-persist-01, which has none
    key_authorization: str
    # The account answering (dns-account-01's label, dns-persist-01's accounturi).
    account_url: str | None = None
    # dns-persist-01: the names the CA accepts as the record's issuer (the challenge's
    # "issuer-domain-names").
    issuer_domain_names: tuple[str, ...] = ()
    wildcard: bool = False  # the authorization is for *.<identifier>


class Solver(Protocol):
    """Publishes and removes challenge responses of one challenge type."""

    @property
    def challenge_type(self) -> str: ...

    async def present(self, task: ChallengeTask) -> None: ...

    async def settle(self, tasks: list[ChallengeTask]) -> None: ...

    async def cleanup(self, task: ChallengeTask) -> None: ...
