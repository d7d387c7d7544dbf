"""Issue 8 against Pebble: the home server on a dynamic-DNS name, walked as a person would.

- A router without NAT loopback: this machine cannot fetch its own public URL while the CA
  can. Here a small DNS server of the test's own (--dns-resolver, the view the self-check
  uses) answers an address where nothing listens, while Pebble's challtestsrv sends the CA to
  the test's web server. With --manual-auth-hook and -n the run warns and goes on.
- Ctrl-C at each question (names, e-mail, terms, "Press Enter", the self-check question):
  exit 130 at once, one line, the cleanup hook has run, nothing saved.
- A --manual lineage without a hook: certonly says it must be renewed by hand, and `renew`
  refuses it before any order.
- A wrong --server URL: "not an ACME directory", and no e-mail is asked first.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pebble import PebbleCA
from test_cli_e2e import (
    AUTH_HOOK,
    CERTSMITH,
    CLEANUP_HOOK,
    STANDALONE_IP,
    WEBROOT_IP,
    Cli,
    WebrootServer,
    unique_name,
    webroot_server,  # noqa: F401  (fixture)
)
from test_cli_interactive import DOMAIN_PROMPT, EMAIL_PROMPT, TERMS_PROMPT, Terminal

from support.fake_dns import FakeDnsServer

pytestmark = pytest.mark.pebble

UNREACHABLE_IP = "127.0.0.9"  # nothing listens here: the "router" this machine cannot reach
PRESS_ENTER = r"Press Enter to Continue$"
SELF_CHECK_QUESTION = r"\(r\) check again / \(c\) continue anyway / \(a\) abort: $"
INTERRUPTED = "certsmith: error: Interrupted."


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Cli:
    return Cli(pebble, tmp_path)


@pytest.fixture
def home_view() -> Iterator[FakeDnsServer]:
    """This machine's view of the DNS (names are added by each test); no CAA anywhere."""
    server = FakeDnsServer({"cli.test": {}, "test": {}})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def with_resolver(args: list[str], resolver: str) -> list[str]:
    """``args`` with --dns-resolver replaced by ``resolver``."""
    out = list(args)
    out[out.index("--dns-resolver") + 1] = resolver
    return out


def hook_args(tmp_path: Path, name: str, cli: Cli) -> list[str]:
    auth, cleanup = tmp_path / "auth.sh", tmp_path / "cleanup.sh"
    auth.write_text(AUTH_HOOK)
    cleanup.write_text(CLEANUP_HOOK)
    return [
        "certonly", "--manual", "--preferred-challenges", "http", "-d", name,
        "--manual-auth-hook", f"sh {auth}", "--manual-cleanup-hook", f"sh {cleanup}",
        "--http-01-port", str(cli.ca.http01_port),
        "--agree-tos", "--register-unsafely-without-email",
    ]  # fmt: skip


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [CERTSMITH, *argv, "-n"],
        env={**os.environ, "PYTHONWARNINGS": "error", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


# --- 2. the self-check behind a router without NAT loopback --------------------------------


@pytest.mark.parametrize("skip", [None, "--no-self-check", "--no-preflight"])
def test_hook_run_goes_on_when_only_this_machine_cannot_reach_its_url(
    cli: Cli,
    webroot_server: WebrootServer,  # noqa: F811
    home_view: FakeDnsServer,
    tmp_path: Path,
    skip: str | None,
) -> None:
    name = unique_name("hairpin")
    cli.ca.add_a(name, [WEBROOT_IP])  # the CA's view: the web server, which has the token
    home_view.set_records("cli.test", name + ".", "A", [UNREACHABLE_IP])  # this machine's
    record = tmp_path / "record"
    record.mkdir()
    args = hook_args(tmp_path, name, cli) + ([skip] if skip else [])
    argv = [*args, *with_resolver(cli.common(preflight=True), home_view.address)]
    result = run(argv, {"WEBROOT": str(webroot_server.root), "RECORD": str(record)})
    assert result.returncode == 0, result.stderr
    assert (cli.config_dir / "live" / name / "fullchain.pem").exists()
    warned = "Warning: This machine could not fetch http://" + name
    if skip:
        assert warned not in result.stderr, result.stderr
        return
    assert warned in result.stderr, result.stderr
    assert f"(connected to {UNREACHABLE_IP}:{cli.ca.http01_port})" in result.stderr
    assert "Telling the CA anyway" in result.stderr
    assert result.stderr.count("Warning: This machine") == 1
    assert "webroot, hook or DNS provider" not in result.stderr


# --- 1. Ctrl-C at every question --------------------------------------------------------------


class CtrlCTerminal(Terminal):
    """A Terminal whose pty is certsmith's controlling terminal, so ^C sends SIGINT as it does
    for a person (setsid --ctty: a new session that takes the pty; --wait: its exit code)."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(["setsid", "--wait", "--ctty", *argv])

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")


def interrupted_quickly(term: CtrlCTerminal) -> str:
    started = time.monotonic()
    term.ctrl_c()
    code = term.finish(seconds=15)
    assert code == 130, term.screen
    assert time.monotonic() - started < 10, term.screen
    lines = [ln for ln in term.screen.replace("\r\n", "\n").split("\n") if "certsmith:" in ln]
    assert lines == [lines[-1]] and lines[-1].startswith(INTERRUPTED), term.screen
    return term.screen


def standalone_argv(cli: Cli) -> list[str]:
    return [
        CERTSMITH, "certonly", "--standalone",
        "--http-01-address", STANDALONE_IP, "--http-01-port", str(cli.ca.http01_port),
        *cli.common(),
    ]  # fmt: skip


@pytest.mark.parametrize("question", ["names", "e-mail", "terms"])
def test_ctrl_c_at_each_question_exits_130_at_once(cli: Cli, question: str) -> None:
    name = unique_name("intr")
    cli.ca.add_a(name, [STANDALONE_IP])
    term = CtrlCTerminal(standalone_argv(cli))
    try:
        term.expect(DOMAIN_PROMPT)
        if question != "names":
            term.answer(name)
            term.expect(EMAIL_PROMPT)
        if question == "terms":
            term.answer("")
            term.expect(TERMS_PROMPT)
        interrupted_quickly(term)
    finally:
        term.close()
    assert cli.lineage_files() == []


def manual_argv(cli: Cli, name: str, cleanup: Path, *extra: str) -> list[str]:
    return [
        CERTSMITH, "certonly", "--manual", "--preferred-challenges", "http", "-d", name,
        "--manual-cleanup-hook", f"/usr/bin/touch {cleanup}",
        "--http-01-port", str(cli.ca.http01_port),
        "--agree-tos", "--register-unsafely-without-email", *extra, *cli.common(preflight=True),
    ]  # fmt: skip


def test_ctrl_c_at_press_enter_cleans_up_and_exits_130(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("enter")
    cleaned = tmp_path / "cleaned"
    term = CtrlCTerminal(manual_argv(cli, name, cleaned))
    try:
        screen = term.expect(PRESS_ENTER)
        assert screen.count("Press Enter") == 1, screen
        assert "Create a file containing only this text" in screen
        interrupted_quickly(term)
    finally:
        term.close()
    assert cleaned.exists(), "the cleanup hook did not run"
    assert cli.lineage_files() == []


def test_self_check_failure_asks_and_ctrl_c_there_exits_130(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("ask")  # challtestsrv: 127.0.0.1, where nobody serves this token
    cleaned = tmp_path / "cleaned"
    term = CtrlCTerminal(manual_argv(cli, name, cleaned))
    try:
        term.expect(PRESS_ENTER)
        term.answer("")
        screen = term.expect(SELF_CHECK_QUESTION)
        assert "The self-check did not see the challenge response" in screen
        assert "HTTP 200 with an empty body" in screen, screen  # challtestsrv: unknown token
        assert "NAT loopback" in screen
        term.answer("r")  # check again: the same answer, the same question
        term.expect(SELF_CHECK_QUESTION)
        interrupted_quickly(term)
    finally:
        term.close()
    assert cleaned.exists()
    assert cli.lineage_files() == []


def test_self_check_abort_explains_for_manual(cli: Cli, tmp_path: Path) -> None:
    name = unique_name("abort")
    term = CtrlCTerminal(manual_argv(cli, name, tmp_path / "cleaned"))
    try:
        term.expect(PRESS_ENTER)
        term.answer("")
        term.expect(SELF_CHECK_QUESTION)
        term.answer("a")
        assert term.finish() == 1, term.screen
    finally:
        term.close()
    assert "The self-check did not see the challenge response at http://" + name in term.screen
    assert "--no-self-check" in term.screen
    assert "webroot, hook or DNS provider" not in term.screen


# --- 4. a --manual certificate without a hook -------------------------------------------------


def test_manual_without_hook_is_renewed_by_hand_and_renew_says_so(cli: Cli) -> None:
    name = unique_name("byhand")  # challtestsrv serves the token at 127.0.0.1
    term = CtrlCTerminal(
        [
            CERTSMITH, "certonly", "--manual", "--preferred-challenges", "http", "-d", name,
            "--http-01-port", str(cli.ca.http01_port), "--no-self-check",
            "--agree-tos", "--register-unsafely-without-email", *cli.common(),
        ]
    )  # fmt: skip
    token = ""
    try:
        screen = term.expect(PRESS_ENTER)
        match = re.search(r"acme-challenge/(\S+)", screen)
        content = re.search(r"^\s+(\S+\.\S+)\s*$", screen, re.M)
        assert match and content, screen
        token = match.group(1)
        cli.ca.challtest("/add-http01", {"token": token, "content": content.group(1)})
        term.answer("")
        assert term.finish(seconds=60) == 0, term.screen
    finally:
        term.close()
        if token:
            cli.ca.challtest("/del-http01", {"token": token})
    assert "cannot renew it unattended" in term.screen
    assert "renews it on schedule" not in term.screen
    orders_before = len(cli.ca.http_requests(name))
    renewed = cli.run("renew", "--force-renewal")
    assert renewed.returncode == 1, renewed.stdout + renewed.stderr
    assert "cannot be renewed unattended; no order was made" in renewed.stderr
    assert "--manual-auth-hook" in renewed.stderr
    assert len(cli.ca.http_requests(name)) == orders_before  # no validation was attempted


# --- 6. a wrong directory URL ---------------------------------------------------------------


def test_wrong_server_url_is_not_an_acme_directory_and_no_email_is_asked(cli: Cli) -> None:
    wrong = cli.ca.directory_url.replace("/dir", "/not-the-directory")
    argv = standalone_argv(cli)
    argv[argv.index("--server") + 1] = wrong
    term = CtrlCTerminal([*argv, "-d", unique_name("wrong")])
    try:
        assert term.finish(seconds=30) == 1, term.screen
    finally:
        term.close()
    assert f"{wrong} is not an ACME directory" in term.screen
    assert "Enter email address" not in term.screen
    assert "report the log" not in term.screen
