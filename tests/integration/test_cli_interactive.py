"""certsmith's questions through a pseudo-terminal, against a real Pebble CA.

Without -n, --agree-tos, --email or -d, `certonly` asks for the names, then the e-mail, then
agreement to the terms at the URL of Pebble's directory (meta.termsOfService). The tests read
the screen until each question appears (bounded in time), answer it, and check what was issued.
Cancelling or refusing ends with exit code 2 and writes neither a lineage nor an account; with
stdin not a terminal the missing -d is an error at once.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from pebble import PebbleCA
from test_cli_e2e import CERTSMITH, STANDALONE_IP, Cli, assert_no_traceback_one_line, unique_name

pytestmark = pytest.mark.pebble

DOMAIN_PROMPT = r"domain name\(s\).*\(Enter 'c' to cancel\): $"
EMAIL_PROMPT = r"Enter email address.*\n.*\(Enter 'c' to cancel\): $"
TERMS_PROMPT = r"Do you agree\?\s*\(y\)es/\(N\)o: $"
STEP_SECONDS = 20.0


class Terminal:
    """certsmith run on a pseudo-terminal (stdin, stdout and stderr); every read is bounded."""

    def __init__(self, argv: list[str]) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.screen = ""
        self._proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "PYTHONWARNINGS": "error"},
            start_new_session=True,
        )
        os.close(slave)

    def expect(self, pattern: str, seconds: float = STEP_SECONDS) -> str:
        """Read until the text since the last expect() matches ``pattern`` (MULTILINE|DOTALL
        off, `$` = end of what was read); fail with the screen so far if it does not in time."""
        start = len(self.screen)
        deadline = time.monotonic() + seconds
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            fresh = self.screen[start:].replace("\r\n", "\n")
            if regex.search(fresh):
                return fresh
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the child closed the terminal (EIO on Linux)
                break
            if not chunk:
                break
            self.screen += chunk.decode(errors="replace")
        fresh = self.screen[start:].replace("\r\n", "\n")
        assert regex.search(fresh), f"no {pattern!r} on the screen:\n{self.screen}"
        return fresh

    def answer(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self, seconds: float = 30.0) -> int:
        """Drain the screen until the child exits; its exit code."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                self.screen += chunk.decode(errors="replace")
                if chunk:
                    continue
            if self._proc.poll() is not None:
                break
        code = self._proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        assert "Traceback" not in self.screen, self.screen
        return code

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=5)
        os.close(self.master)


@pytest.fixture
def cli(pebble: PebbleCA, tmp_path: Path) -> Cli:
    return Cli(pebble, tmp_path)


@pytest.fixture
def terminal(cli: Cli) -> Iterator[Terminal]:
    """`certonly --standalone` on 127.0.0.2 with no -n, -d, --email or --agree-tos."""
    argv = [
        CERTSMITH, "certonly", "--standalone",
        "--http-01-address", STANDALONE_IP, "--http-01-port", str(cli.ca.http01_port),
        *cli.common(),
    ]  # fmt: skip
    term = Terminal(argv)
    try:
        yield term
    finally:
        term.close()


def terms_url(ca: PebbleCA) -> str:
    url = json.loads(ca.get(ca.directory_url))["meta"]["termsOfService"]
    assert isinstance(url, str) and url
    return url


def accounts(cli: Cli) -> list[Path]:
    base = cli.config_dir / "accounts"
    return sorted(p for p in base.rglob("regr.json")) if base.exists() else []


def test_prompts_for_names_email_and_terms_then_issues(cli: Cli, terminal: Terminal) -> None:
    name = unique_name("ask")
    cli.ca.add_a(name, [STANDALONE_IP])

    terminal.expect(DOMAIN_PROMPT)
    terminal.answer("under_score.cli.test")  # refused by the prompt, which asks again
    fresh = terminal.expect(DOMAIN_PROMPT)
    assert "underscore" in fresh, fresh
    terminal.answer(name.upper() + ".")

    terminal.expect(EMAIL_PROMPT)
    terminal.answer("not-an-address")
    fresh = terminal.expect(EMAIL_PROMPT)
    assert "is not an e-mail address" in fresh, fresh
    terminal.answer("someone@example.com")

    fresh = terminal.expect(TERMS_PROMPT)
    assert terms_url(cli.ca) in fresh, fresh
    terminal.answer("y")

    assert terminal.finish() == 0, terminal.screen
    assert "Successfully received certificate" in terminal.screen
    pem = (cli.config_dir / "live" / name / "cert.pem").read_bytes()
    san = x509.load_pem_x509_certificate(pem).extensions
    names = san.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [name]

    [regr] = accounts(cli)
    assert json.loads(regr.read_text())["body"]["contact"] == ["mailto:someone@example.com"]
    shown = cli.run("show_account")
    assert shown.returncode == 0, shown.stderr
    assert "someone@example.com" in shown.stdout


def test_cancel_at_the_domain_prompt(cli: Cli, terminal: Terminal) -> None:
    terminal.expect(DOMAIN_PROMPT)
    terminal.answer("c")
    assert terminal.finish() == 2, terminal.screen
    assert "certsmith: error: No domain given; pass -d NAME" in terminal.screen
    assert "Enter email address" not in terminal.screen
    assert cli.lineage_files() == []
    assert accounts(cli) == []


def test_refusing_the_terms(cli: Cli, terminal: Terminal) -> None:
    name = unique_name("refuse")
    cli.ca.add_a(name, [STANDALONE_IP])
    terminal.expect(DOMAIN_PROMPT)
    terminal.answer(name)
    terminal.expect(EMAIL_PROMPT)
    terminal.answer("")  # skip: register without an e-mail
    url = terms_url(cli.ca)
    assert url in terminal.expect(TERMS_PROMPT)
    terminal.answer("n")
    assert terminal.finish() == 2, terminal.screen
    assert f"You must agree to the CA's terms; pass --agree-tos (terms: {url})" in terminal.screen
    assert "Successfully received" not in terminal.screen
    assert cli.lineage_files() == []
    assert accounts(cli) == []


def test_no_terminal_and_no_domain_names_dash_d(cli: Cli) -> None:
    args = ["certonly", "--standalone", "--agree-tos", "--register-unsafely-without-email"]
    started = time.monotonic()
    result = cli.run(*args, interactive=True, timeout=20)  # no -n; stdin is /dev/null
    assert time.monotonic() - started < 15
    assert result.returncode == 2, result.stdout + result.stderr
    assert_no_traceback_one_line(result)
    assert "pass -d NAME" in result.stderr
    assert cli.lineage_files() == []
