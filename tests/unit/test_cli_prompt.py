"""Prompts: asked on a terminal, otherwise a UsageError that names the flag to pass."""

from __future__ import annotations

import io

import pytest

from certsmith.cli.prompt import (
    MAX_ATTEMPTS,
    NonInteractivePrompter,
    TTYPrompter,
    make_prompter,
)
from certsmith.errors import UsageError

TOS = "https://ca.example/terms.pdf"


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def tty(answers: str) -> tuple[TTYPrompter, io.StringIO]:
    out = io.StringIO()
    return TTYPrompter(FakeTTY(answers), out), out


def test_non_tty_stdin_gets_the_non_interactive_prompter() -> None:
    assert isinstance(make_prompter(False, io.StringIO("a.com\n")), NonInteractivePrompter)
    assert isinstance(make_prompter(True, FakeTTY("a.com\n")), NonInteractivePrompter)
    assert isinstance(make_prompter(False, FakeTTY("a.com\n")), TTYPrompter)


def test_closed_stdin_is_not_a_tty() -> None:
    stream = io.StringIO()
    stream.close()
    assert isinstance(make_prompter(False, stream), NonInteractivePrompter)


@pytest.mark.parametrize(
    ("ask", "flag"),
    [
        (lambda p: p.ask_domains(), "No domain given; pass -d NAME"),
        (lambda p: p.ask_email(), "pass --email ADDRESS or --register-unsafely-without-email"),
        (lambda p: p.ask_tos(TOS), f"pass --agree-tos (terms: {TOS})"),
        (lambda p: p.wait_for_enter("create the file"), "--manual-auth-hook"),
    ],
)
def test_non_interactive_names_the_flag(ask: object, flag: str) -> None:
    prompter = make_prompter(False, io.StringIO(""))
    with pytest.raises(UsageError) as info:
        ask(prompter)  # type: ignore[operator]
    assert flag in str(info.value)


def test_non_interactive_confirm_answers_the_default() -> None:
    prompter = NonInteractivePrompter()
    assert prompter.confirm("Delete?", default=False) is False
    assert prompter.confirm("Keep?", default=True) is True


def test_tty_domains_comma_and_space_separated() -> None:
    prompter, out = tty("A.com, www.a.com  b.com,a.com\n")
    assert prompter.ask_domains() == ("a.com", "www.a.com", "b.com")
    assert "domain name(s)" in out.getvalue()


def test_tty_domains_reasks_after_a_bad_name_then_gives_up() -> None:
    prompter, out = tty("not a domain!\na.com\n")
    assert prompter.ask_domains() == ("a.com",)
    assert "not a valid domain name" in out.getvalue()
    prompter, _ = tty("bad!\n" * MAX_ATTEMPTS + "a.com\n")
    with pytest.raises(UsageError, match="pass -d NAME"):
        prompter.ask_domains()


@pytest.mark.parametrize("answers", ["c\n", "", "\n"])
def test_tty_domains_cancel_or_end_of_input(answers: str) -> None:
    prompter, _ = tty(answers)
    with pytest.raises(UsageError, match="pass -d NAME"):
        prompter.ask_domains()


def test_tty_email() -> None:
    assert tty("me@a.org\n")[0].ask_email() == "me@a.org"
    assert tty("\n")[0].ask_email() is None  # skip: register without e-mail
    prompter, out = tty("nope\nme@a.org\n")
    assert prompter.ask_email() == "me@a.org"
    assert "is not an e-mail address" in out.getvalue()
    with pytest.raises(UsageError, match="--email ADDRESS"):
        tty("c\n")[0].ask_email()


def test_tty_tos() -> None:
    prompter, out = tty("y\n")
    prompter.ask_tos(TOS)
    assert TOS in out.getvalue()
    for refusal in ("n\n", "\n", ""):
        with pytest.raises(UsageError, match="--agree-tos"):
            tty(refusal)[0].ask_tos(TOS)


def test_tty_confirm() -> None:
    assert tty("yes\n")[0].confirm("Go?", default=False) is True
    assert tty("N\n")[0].confirm("Go?", default=True) is False
    assert tty("\n")[0].confirm("Go?", default=True) is True
    prompter, out = tty("maybe\ny\n")
    assert prompter.confirm("Go?", default=False) is True
    assert "Please answer y or n." in out.getvalue()
    assert tty("x\n" * MAX_ATTEMPTS)[0].confirm("Go?", default=False) is False


def test_tty_wait_for_enter() -> None:
    prompter, out = tty("\n")
    prompter.wait_for_enter("Create a TXT record _acme-challenge.a.com")
    assert "_acme-challenge.a.com" in out.getvalue()
    assert "Press Enter to Continue" in out.getvalue()
    with pytest.raises(UsageError):
        tty("")[0].wait_for_enter("Create the record")


@pytest.mark.parametrize("typed", ["a@", "a@example..com", "a@localhost", "a..b@example.com"])
def test_an_answer_that_is_not_an_email_is_asked_again(typed: str) -> None:
    prompter, out = tty(f"{typed}\n관리자@예시.한국\n")
    assert prompter.ask_email() == "관리자@예시.한국"
    assert f"'{typed}' is not an e-mail address" in out.getvalue()
