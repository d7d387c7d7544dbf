"""Questions to the user, asked only when someone can answer.

:func:`make_prompter` picks :class:`TTYPrompter` when stdin is a terminal and ``-n`` was not given,
else :class:`NonInteractivePrompter`, whose every missing answer is a :class:`UsageError` naming
the flag that supplies it. Callers ask only for what the flags left out.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, TextIO

from certsmith.cli.contact import is_email_address
from certsmith.cli.usage import usage_error
from certsmith.cli.values import validate_domain
from certsmith.crypto import normalize_name
from certsmith.errors import UsageError

if TYPE_CHECKING:
    from certsmith.preflight.messages import Catalogue

MAX_ATTEMPTS = 3

# Catalogue keys of the refusals when nobody can answer.
NO_DOMAIN = "usage.no_domain_prompt"
NO_EMAIL = "usage.no_email"
MANUAL_NEEDS_TTY = "usage.manual_needs_tty"


def tos_refused(url: str) -> UsageError:
    """The refusal when the CA's terms were not agreed to."""
    return usage_error("usage.tos_refused", url=url)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt at once while we wait for a line.

    Inside ``asyncio.run`` the first Ctrl-C only cancels the main task, which a read blocked
    in the loop's own thread never notices (the read is retried after the signal): the user
    pressed Ctrl-C and nothing happened. While a prompt waits, Python's default handler is put
    back, so the read raises and the run unwinds (cleanup hooks, servers stopped) and exits 130.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Prompter(Protocol):
    """What the commands may ask. Every method either returns an answer or raises UsageError."""

    interactive: bool

    def ask_domains(self) -> tuple[str, ...]:
        """Names for a new certificate (at least one, validated, lower-case)."""
        ...

    def ask_email(self) -> str | None:
        """A contact address, or None when the user chose to register without one."""
        ...

    def ask_tos(self, url: str) -> None:
        """Return once the user agreed to the terms at ``url``; raise UsageError if not."""
        ...

    def wait_for_enter(self, instructions: str) -> None:
        """Show ``instructions`` (e.g. a manual challenge) and wait until the user is done."""
        ...

    def confirm(self, question: str, default: bool) -> bool:
        """A yes/no answer; the non-interactive prompter answers ``default``."""
        ...

    def choose(self, question: str, choices: Sequence[tuple[str, str]], default: str) -> str:
        """One of ``choices`` (key, label), by key; ``default`` when nobody answers."""
        ...


class NonInteractivePrompter:
    """Nobody to ask: each question becomes a UsageError that names the flag to pass."""

    interactive = False

    def ask_domains(self) -> tuple[str, ...]:
        raise usage_error(NO_DOMAIN)

    def ask_email(self) -> str | None:
        raise usage_error(NO_EMAIL)

    def ask_tos(self, url: str) -> None:
        raise tos_refused(url)

    def wait_for_enter(self, instructions: str) -> None:
        raise usage_error(MANUAL_NEEDS_TTY)

    def confirm(self, question: str, default: bool) -> bool:
        return default

    def choose(self, question: str, choices: Sequence[tuple[str, str]], default: str) -> str:
        return default


class TTYPrompter:
    """Asks on ``stdin``/``stdout`` (injectable for tests). Each question is asked at most
    MAX_ATTEMPTS times; end of input or ``c`` cancels with the non-interactive message.
    Ctrl-C while waiting raises KeyboardInterrupt at once (see ``interruptible``)."""

    interactive = True

    def __init__(
        self,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout
        self._catalogue = catalogue

    def _text(self, key: str, **values: object) -> str:
        """The question in the run's language (the catalogue's ``prompt.*`` entries)."""
        if self._catalogue is None:
            from certsmith.preflight.messages import Catalogue

            self._catalogue = Catalogue()
        return self._catalogue.get(key, **values)

    def _ask(self, text: str) -> str | None:
        try:
            # From before the question shows: a Ctrl-C typed the moment it appears must not
            # reach asyncio's handler, which would only ask the (blocked) task to stop.
            with interruptible():
                self._out.write(text)
                self._out.flush()
                line = self._in.readline()
        except KeyboardInterrupt:
            self._out.write("\n")  # the one-line message then starts on a line of its own
            self._out.flush()
            raise
        if not line:  # end of input
            self._out.write("\n")
            return None
        return line.strip()

    def ask_domains(self) -> tuple[str, ...]:
        for _ in range(MAX_ATTEMPTS):
            answer = self._ask(self._text("prompt.domains") + " ")
            if not answer or answer.lower() == "c":
                break
            try:
                # validate_domain refuses IP addresses; normalize_name applies the full check
                # certonly applies later (underscores, IDNA), so a bad name is asked again here.
                names = [
                    normalize_name(validate_domain(n)).value
                    for n in re.split(r"[\s,]+", answer)
                    if n
                ]
            except UsageError as err:
                key, values = err.wording or ("", {})
                self._out.write(f"{self._text(key, **values) if key else err}\n")
                continue
            return tuple(dict.fromkeys(names))
        raise usage_error(NO_DOMAIN)

    def ask_email(self) -> str | None:
        for _ in range(MAX_ATTEMPTS):
            answer = self._ask(self._text("prompt.email") + " ")
            if answer is None or answer.lower() == "c":
                break
            if not answer:
                return None
            if is_email_address(answer):
                return answer
            self._out.write(self._text("prompt.email.invalid", answer=answer) + "\n")
        raise usage_error(NO_EMAIL)

    def ask_tos(self, url: str) -> None:
        question = self._text("prompt.terms", url=url)
        if not self.confirm(question, default=False):
            raise tos_refused(url)

    def wait_for_enter(self, instructions: str) -> None:
        text = f"{instructions.rstrip()}\n\n" if instructions.strip() else ""
        if self._ask(text + self._text("prompt.press_enter")) is None:
            raise usage_error(MANUAL_NEEDS_TTY)

    def choose(self, question: str, choices: Sequence[tuple[str, str]], default: str) -> str:
        keys = {key.lower() for key, _ in choices}
        menu = " / ".join(f"({key}) {label}" for key, label in choices)
        for _ in range(MAX_ATTEMPTS):
            answer = self._ask(f"{question}\n{menu}: ")
            if answer is None:
                return default
            word = answer.strip().lower()[:1]
            if word in keys:
                return word
            listed = ", ".join(k for k, _ in choices)
            self._out.write(self._text("prompt.answer_one_of", keys=listed) + "\n")
        return default

    def confirm(self, question: str, default: bool) -> bool:
        choices = self._text("prompt.yes_no.default_yes" if default else "prompt.yes_no")
        for _ in range(MAX_ATTEMPTS):
            answer = self._ask(f"{question}\n{choices}: ")
            if answer is None:
                return default
            word = answer.lower()
            if not word:
                return default
            if word in ("y", "yes"):
                return True
            if word in ("n", "no"):
                return False
            self._out.write(self._text("prompt.answer_y_or_n") + "\n")
        return default


def make_prompter(
    non_interactive: bool, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> Prompter:
    """The TTY prompter when ``stdin`` (default sys.stdin) is a terminal and -n was not given."""
    source = stdin if stdin is not None else sys.stdin
    try:
        is_tty = source.isatty()
    except (ValueError, OSError):  # closed or detached stream
        is_tty = False
    if non_interactive or not is_tty:
        return NonInteractivePrompter()
    return TTYPrompter(source, stdout)
