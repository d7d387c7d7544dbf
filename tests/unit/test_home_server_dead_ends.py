"""Issue 8, the home server on a dynamic-DNS name: the dead ends of the manual path, without a CA.

Each test names the dead end it holds shut: Ctrl-C at a prompt, a self-check that the user can
answer, folders that cannot be written, messages that send the user the wrong way, a --manual
lineage renew cannot answer. (The same paths against Pebble, through a terminal, are in
tests/integration/test_cli_home_server.py.)
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import threading
from pathlib import Path

import httpx
import pytest

from certsmith.acme import AcmeClient
from certsmith.acme.errors import (
    AcmeError,
    CertificateNotTrusted,
    NotAnAcmeDirectory,
    TransportError,
)
from certsmith.acme.identifier import Identifier
from certsmith.challenges.selfcheck import SelfCheckFailure
from certsmith.cli.console import Console
from certsmith.cli.explain import explain, sanitize
from certsmith.cli.main import main
from certsmith.cli.manual_text import ABORT, CONTINUE, RETRY, ask_after_self_check
from certsmith.cli.prompt import NonInteractivePrompter, TTYPrompter
from certsmith.errors import FolderNotWritable, ManualRenewalNeedsHook, PortInUse
from certsmith.preflight.messages import Catalogue
from certsmith.renewal.account import new_account_key
from certsmith.renewal.events import QuietEvents
from certsmith.renewal.manual_policy import refuse_unanswerable
from certsmith.renewal.settings import LineageSettings

pytestmark = pytest.mark.usefixtures("cli_main")

URL = "http://home.duckdns.org/.well-known/acme-challenge/tok"


def console(out: io.StringIO, err: io.StringIO, locale: str = "en") -> Console:
    return Console(out=out, err=err, catalogue=Catalogue(locale))


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- 1. Ctrl-C at a prompt -------------------------------------------------------------------


class BlockingStdin(io.TextIOBase):
    """A terminal nobody types into: readline blocks until the test's deadline."""

    def __init__(self) -> None:
        self.reading = threading.Event()

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        self.reading.set()
        threading.Event().wait(5.0)  # interrupted by SIGINT long before
        return ""


def test_ctrl_c_at_press_enter_raises_at_once_even_inside_asyncio_run() -> None:
    """asyncio.run's own SIGINT handler only cancels the task: a read in the loop's thread went
    on waiting for Enter. The prompt puts Python's handler back while it waits."""
    stdin = BlockingStdin()
    prompter = TTYPrompter(stdin, io.StringIO())  # type: ignore[arg-type]
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))

    async def wait() -> None:
        prompter.wait_for_enter("Create a file")

    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            asyncio.run(asyncio.wait_for(wait(), 10))
    finally:
        timer.cancel()
    assert stdin.reading.is_set()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_press_enter_line_is_printed_once() -> None:
    out = io.StringIO()
    TTYPrompter(FakeTTY("\n"), out).wait_for_enter("Create a file containing only this text")
    assert out.getvalue().lower().count("press enter") == 1


# -- 2. the self-check, as the user meets it ------------------------------------------------


def failure(**kw: object) -> SelfCheckFailure:
    values: dict[str, object] = {"url": URL, "address": "203.0.113.7:80"}
    values.update(kw)
    return SelfCheckFailure(**values)  # type: ignore[arg-type]


def test_unattended_hook_run_goes_on_with_one_warning_that_says_what_was_seen() -> None:
    out, err = io.StringIO(), io.StringIO()
    seen = failure(problem="Connection refused")
    choice = ask_after_self_check(console(out, err), NonInteractivePrompter(), seen, True)
    assert choice == CONTINUE
    text = err.getvalue()
    assert "203.0.113.7:80" in text and "Connection refused" in text and URL in text
    assert "--no-self-check" in text
    assert "webroot, hook or DNS provider" not in text


def test_unattended_without_hook_never_goes_on() -> None:
    out, err = io.StringIO(), io.StringIO()
    choice = ask_after_self_check(console(out, err), NonInteractivePrompter(), failure(), False)
    assert choice == ABORT


@pytest.mark.parametrize(("typed", "choice"), [("r", RETRY), ("c", CONTINUE), ("a", ABORT)])
def test_a_person_chooses_check_again_continue_or_abort(typed: str, choice: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    seen = failure(status=404, excerpt="<html>Not Found</html>")
    prompter = TTYPrompter(FakeTTY(f"x\n{typed}\n"), out)
    assert ask_after_self_check(console(out, err), prompter, seen, False) == choice
    screen = out.getvalue()
    assert "HTTP 404" in screen and "<html>Not Found</html>" in screen
    assert "NAT loopback" in screen
    assert "(r) check again / (c) continue anyway / (a) abort" in screen
    assert "Please answer r, c, a." in screen  # the "x"


def test_end_of_input_at_the_self_check_question_aborts() -> None:
    out, err = io.StringIO(), io.StringIO()
    prompter = TTYPrompter(FakeTTY(""), out)
    assert ask_after_self_check(console(out, err), prompter, failure(), False) == ABORT


def test_the_self_check_question_in_korean_uses_the_right_particles() -> None:
    out, err = io.StringIO(), io.StringIO()
    prompter = TTYPrompter(FakeTTY("a\n"), out)
    seen = failure(url="http://test2.iptime.org/x", status=404, excerpt="")
    ask_after_self_check(console(out, err, "ko"), prompter, seen, False)
    screen = out.getvalue()
    assert "주소 http://test2.iptime.org/x에 접속했지만" in screen
    assert "(는)" not in screen and "(를)" not in screen and "(으)" not in screen
    assert "다시 확인" in screen


# -- 4. --manual without a hook, unattended ----------------------------------------------------


def test_renew_of_a_manual_lineage_without_hook_is_refused_before_any_order() -> None:
    settings = LineageSettings(authenticator="manual")
    names = [Identifier.dns("home.duckdns.org")]
    with pytest.raises(ManualRenewalNeedsHook) as info:
        refuse_unanswerable("home.duckdns.org", names, settings, QuietEvents())
    text = explain(info.value, catalogue=Catalogue("en"))
    assert "cannot be renewed unattended" in text.sentence
    assert "--manual-auth-hook" in text.next_step and "home.duckdns.org" in text.next_step
    # With a hook, or with a person at the terminal, it goes ahead.
    hooked = settings.replace(manual_auth_hook="/usr/local/bin/publish")
    refuse_unanswerable("home.duckdns.org", names, hooked, QuietEvents())


def test_certonly_manual_non_interactive_without_hook_refuses_before_the_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 127.0.0.1:9 (discard): were the CA contacted, the error would be a network one.
    code = main(
        ["certonly", "--manual", "-d", "home.duckdns.org", "-n", "--agree-tos",
         "--register-unsafely-without-email", "--server", "https://127.0.0.1:9/dir",
         "--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"),
         "--logs-dir", str(tmp_path / "l")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--manual-auth-hook" in err and "reached" not in err
    assert not (tmp_path / "c" / "accounts").exists()


# -- 5. folders that cannot be written ---------------------------------------------------------


def run_certonly(tmp_path: Path, config: Path) -> list[str]:
    return [
        "certonly", "--standalone", "-d", "a.example", "-n", "--agree-tos",
        "--register-unsafely-without-email", "--server", "https://127.0.0.1:9/dir",
        "--config-dir", str(config), "--work-dir", str(tmp_path / "w"),
        "--logs-dir", str(tmp_path / "l"),
    ]  # fmt: skip


@pytest.mark.parametrize("in_the_way", ["config", "config/live"])
def test_a_file_where_a_folder_should_be_names_the_folder_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], in_the_way: str
) -> None:
    path = tmp_path / in_the_way
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a folder\n")
    code = main(run_certonly(tmp_path, tmp_path / "config"))
    err = capsys.readouterr().err
    assert code == 1, err
    assert "internal error" not in err and "report" not in err.lower()
    assert f"cannot write to the folder {path}" in err
    assert "is a file, where a folder should be" in err
    assert "reached over the network" not in err  # refused before the CA was asked


def test_an_os_error_about_a_folder_is_one_sentence_not_an_internal_error() -> None:
    from certsmith.cli.folders import folder_error

    exc = NotADirectoryError(20, "Not a directory", "/etc/letsencrypt/.certbot.lock")
    found = folder_error(exc)
    assert found is not None
    text = explain(found, catalogue=Catalogue("en"))
    assert text.sentence.startswith("certsmith cannot write to the folder")
    assert "--config-dir" in text.next_step
    assert folder_error(OSError(5, "Input/output error", "/x")) is None  # not a folder problem


def test_read_only_folder_is_named(tmp_path: Path) -> None:
    from certsmith.cli.folders import check_writable

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: permission bits do not stop writes")
        with pytest.raises(FolderNotWritable) as info:
            check_writable([folder / "live"])
        assert info.value.values["folder"] == str(folder)
        assert info.value.values["why"] == "permission denied"
    finally:
        folder.chmod(0o700)


# -- 6. messages that sent the user the wrong way ------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "ctype"),
    [
        (404, b"<html><body>Not Found</body></html>", "text/html"),
        (200, b"<html>my router</html>", "text/html"),
        (200, b'{"hello": "world"}', "application/json"),
    ],
    ids=["404-page", "web-page", "other-json"],
)
async def test_a_wrong_directory_url_says_it_is_not_an_acme_directory(
    status: int, body: bytes, ctype: str
) -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(status, content=body, headers={"content-type": ctype})
    )
    async with AcmeClient(
        "https://ca.example/wrong", new_account_key(), transport=transport
    ) as client:
        with pytest.raises(NotAnAcmeDirectory) as info:
            await client.directory()
    text = explain(info.value, catalogue=Catalogue("en"))
    assert text.sentence.startswith("https://ca.example/wrong is not an ACME directory")
    assert "--server" in text.next_step and "report" not in text.next_step


async def test_a_5xx_at_the_directory_is_still_the_cas_error() -> None:
    async def no_wait(seconds: float) -> None:
        return None

    transport = httpx.MockTransport(lambda r: httpx.Response(503, content=b"busy"))
    async with AcmeClient(
        "https://ca.example/dir", new_account_key(), transport=transport, sleep=no_wait
    ) as client:
        with pytest.raises(AcmeError) as info:
            await client.directory()
    assert not isinstance(info.value, NotAnAcmeDirectory)


def test_a_ca_certificate_that_does_not_verify_says_how_to_pass_a_bundle() -> None:
    text = explain(CertificateNotTrusted("GET https://ca/dir: [SSL: CERTIFICATE_VERIFY_FAILED]"))
    assert "did not verify" in text.sentence and "network" not in text.sentence
    assert "--ca-bundle" in text.next_step and "REQUESTS_CA_BUNDLE" in text.next_step
    assert "--no-verify-ssl" in text.next_step
    assert not CertificateNotTrusted("x").retryable and TransportError("x").retryable


def test_a_busy_standalone_port_names_the_port_and_what_to_do() -> None:
    text = explain(PortInUse("cannot listen on :: port 80: Address in use", port=80))
    assert "Port 80 is already in use" in text.sentence
    assert "ss -ltnp" in text.next_step and "--webroot" in text.next_step
    assert "webroot, hook or DNS provider" not in text.next_step


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("GET https://ca/dir: ConnectError('All connection attempts failed')",
         "GET https://ca/dir: All connection attempts failed"),
        ("self-check: ReadTimeout(\"timed out\")", "self-check: timed out"),
        ("answered b'<html>\\n404</html>' instead", 'answered "<html> 404</html>" instead'),
        ("OSError(98, 'Address already in use')", "Address already in use"),
    ],
)  # fmt: skip
def test_internal_reprs_never_reach_the_user(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean
    detail = explain(RuntimeError(raw)).detail
    assert "Error(" not in detail and "b'" not in detail


async def test_a_busy_port_raises_port_in_use() -> None:
    from certsmith.challenges.http01_standalone import StandaloneHttp01Server

    holder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = holder.sockets[0].getsockname()[1]
    try:
        solver = StandaloneHttp01Server(port=port, address="127.0.0.1")
        with pytest.raises(PortInUse) as info:
            await solver.start()
        assert info.value.values["port"] == str(port)
    finally:
        holder.close()
        await holder.wait_closed()


def test_doctor_takes_a_bare_name_and_a_cert_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from certsmith.cli.args import parse_args
    from certsmith.cli.options import DoctorOptions

    parsed = parse_args(["doctor", "home.duckdns.org", "--standalone"])
    assert isinstance(parsed, DoctorOptions)
    assert parsed.domains == ("home.duckdns.org",)
    assert parsed.challenge.authenticator == "standalone"
    code = main(["doctor", "--cert-name", "nope.example", "--config-dir", str(tmp_path / "c"),
                 "--work-dir", str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "No certificate named 'nope.example'" in err
    assert "No names were given" not in err


def test_waiting_for_another_runs_lock_is_said_at_once(tmp_path: Path) -> None:
    from certsmith.cli.cmd_certonly import _announce_wait
    from certsmith.storage.filesystem import file_stores

    lineages = file_stores(tmp_path / "c").lineages
    out, err = io.StringIO(), io.StringIO()
    _announce_wait(lineages, "home.duckdns.org", console(out, err), 60.0)
    assert err.getvalue() == ""  # free: nothing to say
    with lineages.lock("home.duckdns.org", blocking=False):
        _announce_wait(lineages, "home.duckdns.org", console(out, err), 60.0)
    assert err.getvalue() == (
        "Waiting for another certsmith run on home.duckdns.org to finish (up to 60 seconds)...\n"
    )
