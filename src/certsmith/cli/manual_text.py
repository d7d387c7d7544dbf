"""The manual authenticator's words on a terminal: what to publish, and what the self-check saw.

Everything is worded from the catalogue (``manual.*`` keys), so a Korean terminal reads Korean.
The solver hands over facts (``ManualInstructions``, ``SelfCheckFailure``); this module turns
them into text and, when the self-check failed, asks (or, unattended, decides) what comes next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from certsmith.cli.console import Console
from certsmith.cli.prompt import Prompter

if TYPE_CHECKING:
    from certsmith.challenges.manual import ManualInstructions
    from certsmith.challenges.selfcheck import SelfCheckFailure

RETRY, CONTINUE, ABORT = "retry", "continue", "abort"
_KEYS = {"r": RETRY, "c": CONTINUE, "a": ABORT}


def manual_text(console: Console, ins: ManualInstructions) -> str:
    """What to publish for one challenge, and where."""
    if ins.challenge_type in ("dns-01", "dns-account-01"):
        text = console.message("manual.dns01", record=ins.record_name, content=ins.content)
    else:
        text = console.message("manual.http01", url=ins.url, content=ins.content)
    if ins.subsequent:
        text += "\n\n" + console.message("manual.subsequent")
        if ins.challenge_type in ("dns-01", "dns-account-01"):
            text += "\n" + console.message("manual.subsequent.dns")
    if ins.verify_dns:
        text += "\n\n" + console.message("manual.verify_dns", record=ins.record_name)
    return text


def seen_text(console: Console, failure: SelfCheckFailure) -> str:
    """One sentence: what this machine got when it fetched the challenge URL."""
    where = console.message("manual.selfcheck.where", address=failure.address)
    if failure.status is None:
        return console.message(
            "manual.selfcheck.unreachable",
            url=failure.url,
            where=where if failure.address else "",
            problem=failure.problem,
        )
    body = (
        console.message("manual.selfcheck.body", excerpt=failure.excerpt)
        if failure.excerpt
        else console.message("manual.selfcheck.empty")
    )
    return console.message(
        "manual.selfcheck.answered",
        url=failure.url,
        where=where if failure.address else "",
        status=failure.status,
        body=body,
    )


def ask_after_self_check(
    console: Console, prompter: Prompter, failure: SelfCheckFailure, by_hook: bool
) -> str:
    """``RETRY``, ``CONTINUE`` or ``ABORT``: a person is asked; unattended with a hook the run
    goes on with a warning (the CA may well reach what this machine cannot)."""
    seen = seen_text(console, failure)
    if not prompter.interactive:
        if not by_hook:
            return ABORT
        console.note(console.message("manual.selfcheck.going_on", seen=seen))
        return CONTINUE
    console.say(console.message("manual.selfcheck.failed", seen=seen))
    console.say(console.message("manual.selfcheck.hairpin"))
    choices = [
        ("r", console.message("manual.selfcheck.choice.retry")),
        ("c", console.message("manual.selfcheck.choice.continue")),
        ("a", console.message("manual.selfcheck.choice.abort")),
    ]
    answer = prompter.choose(console.message("manual.selfcheck.question"), choices, "a")
    return _KEYS.get(answer, ABORT)
