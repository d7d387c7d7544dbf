"""How the engine talks to whoever runs it: one interface, implemented by the CLI (prompts,
printed warnings) and by quiet defaults for unattended runs and tests. The engine never prints
or prompts itself, and never calls back into ``cli/``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: pre-flight (dnspython) loads when a check runs
    from certsmith.challenges.base import ChallengeTask
    from certsmith.challenges.manual import ManualInstructions, SelfCheckChoice
    from certsmith.challenges.selfcheck import SelfCheckFailure
    from certsmith.preflight.checks import CheckResult


class EngineEvents(Protocol):
    async def agree_to_terms(self, url: str | None) -> bool:
        """Whether the user agrees to the CA's terms (``url``); asked once, only when an
        account must be made. Never answered yes on the user's behalf."""

    def registration_email(self) -> str | None:
        """The contact for a new account (None: none); asked only when one must be made."""

    def can_ask(self) -> bool:
        """Whether a person can answer questions (manual challenges) in this run."""

    async def show_manual_instructions(
        self, task: ChallengeTask, instructions: ManualInstructions
    ) -> None:
        """Show what to publish by hand and return once the user says it is done."""

    async def self_check_failed(
        self, failure: SelfCheckFailure, published_by_hook: bool
    ) -> SelfCheckChoice:
        """The manual self-check did not see the response: check again, go on, or stop.
        A person is asked; an unattended run with a hook goes on (the CA may see more than
        this machine, e.g. behind a router without NAT loopback)."""

    def preflight_warnings(self, results: Sequence[CheckResult]) -> None:
        """Checks before ordering that failed without stopping the order."""

    def probe_warnings(self, results: Sequence[CheckResult]) -> None:
        """What the http-01 reachability probe saw when it is not what the CA must see."""


class QuietEvents:
    """Unattended: no terms agreed, no contact, warnings only in the log (``renew`` from a
    timer, tests). A manual challenge without a hook cannot be answered here."""

    def __init__(self, *, agree_tos: bool = False, email: str | None = None) -> None:
        self._agree, self._email = agree_tos, email

    async def agree_to_terms(self, url: str | None) -> bool:
        return self._agree

    def registration_email(self) -> str | None:
        return self._email

    def can_ask(self) -> bool:
        return False

    async def show_manual_instructions(
        self, task: ChallengeTask, instructions: ManualInstructions
    ) -> None:
        from certsmith.errors import SolverError
        from certsmith.wording import said

        raise SolverError(said("engine.manual_unattended"))

    async def self_check_failed(
        self, failure: SelfCheckFailure, published_by_hook: bool
    ) -> SelfCheckChoice:
        from certsmith.challenges.manual import SelfCheckChoice

        return SelfCheckChoice.CONTINUE  # logged by the solver; the CA has the last word

    def preflight_warnings(self, results: Sequence[CheckResult]) -> None:
        return None

    def probe_warnings(self, results: Sequence[CheckResult]) -> None:
        return None
