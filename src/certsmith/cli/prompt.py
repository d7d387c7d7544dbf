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
from typing import Protocol, TextIO

from certsmith.cli.options import validate_domain
from certsmith.crypto import normalize_name
from certsmith.errors import UsageError

MAX_ATTEMPTS = 3

NO_DOMAIN = "No domain given; pass -d NAME"
NO_EMAIL = "No e-mail given; pass --email ADDRESS or --register-unsafely-without-email"
MANUAL_NEEDS_TTY = (
    "The manual authenticator needs someone at a terminal; pass --manual-auth-hook CMD "
    "or run without -n in a terminal"
)


def tos_refused(url: str) -> str:
    """The message when the CA's terms were not agreed to."""
    return f"You must agree to the CA's terms; pass --agree-tos (terms: {url})"


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
        raise UsageError(NO_DOMAIN)

    def ask_email(self) -> str | None:
        raise UsageError(NO_EMAIL)

    def ask_tos(self, url: str) -> None:
        raise UsageError(tos_refused(url))

    def wait_for_enter(self, instructions: str) -> None:
        raise UsageError(MANUAL_NEEDS_TTY)

    def confirm(self, question: str, default: bool) -> bool:
        return default

    def choose(self, question: str, choices: Sequence[tuple[str, str]], default: str) -> str:
        return default


class TTYPrompter:
    """Asks on ``stdin``/``stdout`` (injectable for tests). Each question is asked at most
    MAX_ATTEMPTS times; end of input or ``c`` cancels with the non-interactive message.
    Ctrl-C while waiting raises KeyboardInterrupt at once (see ``interruptible``)."""

    interactive = True

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._in = stdin if stdin is not None else sys.stdin
        self._out = stdout if stdout is not None else sys.stdout

    def _ask(self, text: str) -> str | None:
        self._out.write(text)
        self._out.flush()
        try:
            with interruptible():
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
            answer = self._ask(
                "Please enter the domain name(s) you would like on your certificate "
                "(comma and/or space separated) (Enter 'c' to cancel): "
            )
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
                self._out.write(f"{err}\n")
                continue
            return tuple(dict.fromkeys(names))
        raise UsageError(NO_DOMAIN)

    def ask_email(self) -> str | None:
        for _ in range(MAX_ATTEMPTS):
            answer = self._ask(
                "Enter email address or hit Enter to skip (used for urgent renewal and "
                "security notices)\n (Enter 'c' to cancel): "
            )
            if answer is None or answer.lower() == "c":
                break
            if not answer:
                return None
            if re.fullmatch(r"[^@\s,]+@[^@\s,]+\.[^@\s,]+", answer):
                return answer
            self._out.write(f"{answer!r} is not an e-mail address.\n")
        raise UsageError(NO_EMAIL)

    def ask_tos(self, url: str) -> None:
        question = (
            f"Please read the Terms of Service at\n{url}\n"
            "You must agree in order to register with the ACME server. Do you agree?"
        )
        if not self.confirm(question, default=False):
            raise UsageError(tos_refused(url))

    def wait_for_enter(self, instructions: str) -> None:
        text = f"{instructions.rstrip()}\n\n" if instructions.strip() else ""
        if self._ask(f"{text}Press Enter to Continue") is None:
            raise UsageError(MANUAL_NEEDS_TTY)

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
            self._out.write(f"Please answer {', '.join(k for k, _ in choices)}.\n")
        return default

    def confirm(self, question: str, default: bool) -> bool:
        choices = "(Y)es/(n)o" if default else "(y)es/(N)o"
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
            self._out.write("Please answer y or n.\n")
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
