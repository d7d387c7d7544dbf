"""Alerts (certsmith.notify, `certsmith notify`, the end of `renew` and `check`): a local SMTP
server (aiosmtpd) and a local HTTP server receive them; a dead channel never changes `renew`'s
exit code; one alert per lineage per problem per day; the credentials file must be private."""

from __future__ import annotations

import datetime
import json
import os
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from certsmith import crypto
from certsmith.cli.main import main
from certsmith.errors import UsageError
from certsmith.notify import Alert, Notifier, Problem, parse_config, render_config
from certsmith.notify.alerts import expiry_is_alarming, remember, worth_sending
from certsmith.notify.config import NotifyConfig, SmtpSettings, WebhookFormat, WebhookSettings
from certsmith.preflight.messages import Catalogue
from certsmith.storage import LineageStore
from certsmith.storage.notify_files import NotifyFiles

pytestmark = pytest.mark.usefixtures("cli_main")
UTC = datetime.UTC


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _add_failing_lineage(config_dir: Path, name: str, age_days: int = 70) -> None:
    """A 90-day certificate issued ``age_days`` ago whose CA (a closed loopback port) is
    unreachable: `renew` finds it due and fails."""
    key = crypto.generate_private_key("ecdsa")
    start = datetime.datetime.now(UTC) - datetime.timedelta(days=age_days)
    pem = crypto.make_self_signed(key, [crypto.normalize_name(name)], not_before=start, days=90)
    store = LineageStore(config_dir)
    server = f"http://127.0.0.1:{_free_port()}/dir"
    conf = store.new_conf(name, {"authenticator": "standalone", "server": server})
    store.save_version(name, crypto.private_key_pem(key), pem, pem, conf=conf)


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
    code = main([*argv, *dirs, "--logs-dir", str(tmp_path / "l"), "-n"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def _renew(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    return _cli(tmp_path, capsys, "renew", "--no-random-sleep-on-renew")


class _Mailbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Mailbox]]:
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    box = _Mailbox()
    port = _free_port()
    controller = controller_mod.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


class _Hooks(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.received.append((self.path, json.loads(self.rfile.read(length))))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- end to end ----------------------------------------------------------------------------


def test_two_failing_renew_runs_send_exactly_one_mail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], smtp_server: tuple[int, _Mailbox]
) -> None:
    port, box = smtp_server
    _add_failing_lineage(tmp_path / "c", "fails.example")
    code, out = _cli(
        tmp_path,
        capsys,
        "notify",
        "setup",
        "--smtp",
        f"127.0.0.1:{port}",
        "--smtp-security",
        "none",
        "--mail-from",
        "certsmith@example.com",
        "--mail-to",
        "ops@example.com",
    )
    assert code == 0, out
    assert _renew(tmp_path, capsys)[0] == 1
    assert _renew(tmp_path, capsys)[0] == 1
    assert len(box.mails) == 1
    mail = box.mails[0]
    assert "fails.example" in mail["Subject"] and "failed" in mail["Subject"]
    assert mail["To"] == "ops@example.com"
    assert "could not be reached" in mail.get_payload(decode=True).decode()


def test_a_dead_smtp_server_does_not_change_renews_exit_code_and_is_reported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_failing_lineage(tmp_path / "c", "fails.example")
    without_alerts, _ = _renew(tmp_path, capsys)
    dead = _free_port()  # nothing listens there
    _cli(
        tmp_path,
        capsys,
        "notify",
        "setup",
        "--smtp",
        f"127.0.0.1:{dead}",
        "--smtp-security",
        "none",
        "--mail-from",
        "a@example.com",
        "--mail-to",
        "b@example.com",
    )
    first, out1 = _renew(tmp_path, capsys)
    second, out2 = _renew(tmp_path, capsys)
    assert without_alerts == first == second == 1
    assert "internal error" not in out1 + out2
    assert "1 failed" in out1  # the run's own summary, as without alerts
    assert "Alert by e-mail failed" in out1
    assert "Alert by e-mail failed" not in out2  # logged, not shown again within a day


def test_a_renew_with_nothing_wrong_exits_0_with_a_dead_channel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_failing_lineage(tmp_path / "c", "fresh.example", age_days=1)  # not due: no CA call
    _cli(tmp_path, capsys, "notify", "setup", "--webhook", f"http://127.0.0.1:{_free_port()}/x")
    code, out = _renew(tmp_path, capsys)
    assert code == 0 and "Alert" not in out


@pytest.mark.parametrize("kind", ["json", "slack", "ntfy"])
def test_notify_test_posts_the_webhook_body_of_each_format(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    web_server: tuple[str, list[tuple[str, Any]]],
    kind: str,
) -> None:
    base, received = web_server
    code, out = _cli(
        tmp_path,
        capsys,
        "notify",
        "setup",
        "--webhook",
        f"{base}/alerts/mytopic",
        "--webhook-format",
        kind,
    )
    assert code == 0, out
    code, out = _cli(tmp_path, capsys, "notify", "test")
    assert code == 0, out
    [(path, body)] = received
    if kind == "slack":
        assert path == "/alerts/mytopic" and set(body) == {"text"}
        assert "test alert" in body["text"]
    elif kind == "ntfy":  # ntfy's JSON publishing: POST to the root, the topic in the body
        assert path == "/alerts" and body["topic"] == "mytopic"
        assert "test alert" in body["title"] and isinstance(body["priority"], int)
    else:
        assert path == "/alerts/mytopic" and body["source"] == "certsmith"
        assert "test alert" in body["title"] and body["text"]


def test_smtp_credentials_file_readable_by_others_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = tmp_path / "smtp.ini"
    creds.write_text("username = u\npassword = p\n")
    setup = [
        "notify",
        "setup",
        "--smtp",
        "127.0.0.1:25",
        "--mail-from",
        "a@example.com",
        "--mail-to",
        "b@example.com",
        "--smtp-credentials",
        str(creds),
    ]
    os.chmod(creds, 0o644)
    code, out = _cli(tmp_path, capsys, *setup)
    assert code == 2 and "accessible by group or others" in out
    assert not (tmp_path / "c" / "notify.toml").exists()
    os.chmod(creds, 0o600)
    code, out = _cli(tmp_path, capsys, *setup)
    assert code == 0, out
    written = tmp_path / "c" / "notify.toml"
    assert os.stat(written).st_mode & 0o777 == 0o600
    config = parse_config(written.read_text())
    assert config.smtp is not None and config.smtp.credentials == creds


def test_setup_keeps_the_other_channel_and_refuses_half_mail_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _cli(
            tmp_path,
            capsys,
            "notify",
            "setup",
            "--smtp",
            "mail.example:587",
            "--mail-from",
            "a@example.com",
            "--mail-to",
            "b@example.com,c@example.com",
        )[0]
        == 0
    )
    assert _cli(tmp_path, capsys, "notify", "setup", "--webhook", "https://h.example/x")[0] == 0
    config = parse_config((tmp_path / "c" / "notify.toml").read_text())
    assert config.smtp is not None and config.smtp.mail_to == ("b@example.com", "c@example.com")
    assert config.webhook is not None and config.webhook.url == "https://h.example/x"
    code, out = _cli(tmp_path, capsys, "notify", "setup", "--smtp", "mail.example:587")
    assert code == 2 and "--mail-from" in out
    code, out = _cli(tmp_path, capsys, "notify", "setup", "--mail-to", "a@b.example\r\nBcc: x")
    assert code == 2


# -- the pieces ----------------------------------------------------------------------------


def test_setup_refuses_a_password_in_clear_text_to_another_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = tmp_path / "smtp.ini"
    creds.write_text("username = u\npassword = p\n")
    creds.chmod(0o600)
    flags = ["--mail-from", "a@example.com", "--mail-to", "b@example.com"]
    flags += ["--smtp-security", "none", "--smtp-credentials", str(creds)]
    code, out = _cli(tmp_path, capsys, "notify", "setup", "--smtp", "smtp.example:25", *flags)
    assert code == 2 and "in clear text" in out
    code, out = _cli(tmp_path, capsys, "notify", "setup", "--smtp", "127.0.0.1:25", *flags)
    assert code == 0, out


def test_config_survives_render_and_parse_with_awkward_characters() -> None:
    config = NotifyConfig(
        SmtpSettings(
            "smtp.example",
            465,
            "a@example.com",
            ("b@example.com",),
            credentials=Path('/etc/x "q" \\ \t\x7f\u00e9.ini'),
        ),
        WebhookSettings('https://h.example/a?b="c"', WebhookFormat.NTFY),
        "ko",
    )
    assert parse_config(render_config(config)) == config


@pytest.mark.parametrize(
    ("host", "security", "refused"),
    [
        ("smtp.example", "none", True),
        ("192.0.2.5", "none", True),
        ("smtp.example", "starttls", False),
        ("smtp.example", "tls", False),
        ("127.0.0.1", "none", False),
        ("[::1]", "none", False),
        ("localhost", "none", False),
    ],
)
def test_a_password_is_never_configured_to_cross_the_network_in_clear_text(
    host: str, security: str, refused: bool
) -> None:
    text = (
        f'[smtp]\nhost = "{host}"\nport = 25\nmail_from = "a@example.com"\n'
        f'mail_to = ["b@example.com"]\nsecurity = "{security}"\ncredentials = "/etc/smtp.ini"\n'
    )
    if refused:
        with pytest.raises(UsageError, match="in clear text"):
            parse_config(text)
    else:
        assert parse_config(text).smtp is not None
    assert parse_config(text.replace('credentials = "/etc/smtp.ini"\n', "")).smtp is not None


def test_one_alert_per_problem_until_it_changes_or_a_day_passes() -> None:
    now = datetime.datetime(2025, 6, 1, tzinfo=UTC)
    memory = remember({}, [("renewal_failed\ta", "TransportError")], now)
    hour_later = now + datetime.timedelta(hours=1)
    assert not worth_sending(memory, "renewal_failed\ta", "TransportError", hour_later)
    assert worth_sending(memory, "renewal_failed\ta", "RateLimited", hour_later)
    assert worth_sending(memory, "renewal_failed\tb", "TransportError", hour_later)
    assert worth_sending(
        memory, "renewal_failed\ta", "TransportError", now + datetime.timedelta(days=1)
    )


def test_expiry_alarms_half_way_between_the_renewal_moment_and_expiry() -> None:
    start = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    end = start + datetime.timedelta(days=90)  # renews at day 60, alarms at day 75
    assert not expiry_is_alarming(start, end, start + datetime.timedelta(days=74))
    assert expiry_is_alarming(start, end, start + datetime.timedelta(days=75, hours=1))
    short_end = start + datetime.timedelta(days=6)  # renews at day 3, alarms at day 4.5
    assert not expiry_is_alarming(start, short_end, start + datetime.timedelta(days=4))
    assert expiry_is_alarming(start, short_end, start + datetime.timedelta(days=4.6))


async def test_a_stale_served_certificate_alerts_once_and_again_after_it_was_fixed(
    tmp_path: Path,
) -> None:
    from certsmith.cli.notify_hook import check_alerts
    from certsmith.monitor.findings import Code, Finding

    posts: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        posts.append(json.loads(request.content))
        return httpx.Response(204)

    now = [datetime.datetime(2025, 6, 1, tzinfo=UTC)]
    notifier = Notifier(
        NotifyConfig(webhook=WebhookSettings("https://hooks.example/x")),
        NotifyFiles(tmp_path),
        Catalogue("en"),
        "host1",
        now=lambda: now[0],
        transport=httpx.MockTransport(answer),
    )
    facts = {
        "served_serial": "aa",
        "live_serial": "bb",
        "served_not_after": "x",
        "live_not_after": "y",
    }
    stale = [Finding(Code.STALE, "site.example", "127.0.0.1:443", facts)]
    alerts, _ = check_alerts(stale)
    assert [a.problem for a in alerts] == [Problem.STALE]
    await notifier.alert(alerts)
    await notifier.alert(alerts)
    assert len(posts) == 1 and posts[0]["severity"] == "critical"
    assert "127.0.0.1:443" in posts[0]["title"] and "site.example" in posts[0]["title"]
    await notifier.alert([], cleared=["stale\tsite.example"])  # reloaded: the check is clean
    await notifier.alert(alerts)  # stale again after the next renewal
    assert len(posts) == 2


async def test_korean_alerts_choose_particles_and_keep_the_facts(tmp_path: Path) -> None:
    from certsmith.notify import compose

    alert = Alert(
        "site.example",
        Problem.RENEWAL_FAILED,
        "X",
        {"reason": "r", "not_after": "2025-06-01", "days": "3.0"},
    )
    message = compose([alert], Catalogue("ko"), "host1")
    assert "site.example를 갱신하지 못했습니다" in message.text  # 이그잼플: no 받침
    assert "{" not in message.text + message.title
