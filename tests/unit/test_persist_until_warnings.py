"""A dns-persist lineage's standing record running out (persistUntil within 30 days):
`certificates` (text and --json) warns, a failed lookup says "could not check" without failing
the command, and the end of `renew` alerts once (de-duplicated). A fake DNS server answers."""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certsmith import crypto
from certsmith.challenges.dns_persist import PersistRecord
from certsmith.cli.main import main
from certsmith.notify import Notifier, Problem
from certsmith.notify.config import NotifyConfig, WebhookSettings
from certsmith.preflight.messages import Catalogue
from certsmith.storage import LineageStore
from certsmith.storage.accounts import AccountStore
from certsmith.storage.notify_files import NotifyFiles
from support.fake_dns import FakeDnsServer

pytestmark = pytest.mark.usefixtures("cli_main")
UTC = datetime.UTC
SERVER = "http://127.0.0.1:9/dir"  # never asked: `certificates` reads only storage and DNS
ISSUER = "letsencrypt.org"
ACCOUNT = "https://ca.test/acct/1"
NAME = "home.example.test"


@pytest.fixture
def dns() -> Iterator[FakeDnsServer]:
    with FakeDnsServer({"example.test": {"home": [("A", "127.0.0.1")]}}) as fake:
        yield fake


def _lineage(config_dir: Path, resolver: str, authenticator: str = "dns-persist") -> None:
    key = crypto.generate_private_key("ecdsa")
    start = datetime.datetime.now(UTC) - datetime.timedelta(days=1)
    pem = crypto.make_self_signed(key, [crypto.normalize_name(NAME)], not_before=start, days=90)
    store = LineageStore(config_dir)
    params = {"authenticator": authenticator, "server": SERVER, "certsmith_dns_resolver": resolver}
    conf = store.new_conf(NAME, params)
    store.save_version(NAME, crypto.private_key_pem(key), pem, pem, conf=conf)
    AccountStore(config_dir).save(SERVER, ec.generate_private_key(ec.SECP256R1()), ACCOUNT)


def _publish(dns: FakeDnsServer, days: float | None, account: str = ACCOUNT) -> None:
    until = None
    if days is not None:
        until = int((datetime.datetime.now(UTC) + datetime.timedelta(days=days)).timestamp())
    record = PersistRecord(ISSUER, account, persist_until=until).to_text()
    dns.set_records("example.test", "_validation-persist.home", "TXT", [record])


def _certificates(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
    code = main(["certificates", *extra, *dirs, "--logs-dir", str(tmp_path / "l")])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "Traceback" not in out + err
    return out


def test_certificates_warns_when_persist_until_is_10_days_away_not_45(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dns: FakeDnsServer
) -> None:
    _lineage(tmp_path / "c", dns.address)
    _publish(dns, 10.5)
    text = _certificates(tmp_path, capsys)
    assert "dns-persist Record: WARNING: persistUntil" in text
    assert "10 days away" in text and f"persist-record -d {NAME}" in text
    entry = json.loads(_certificates(tmp_path, capsys, "--json"))["certificates"][0]
    assert entry["dns_persist"]["warning"] is True
    assert entry["dns_persist"]["days_left"] == 10
    assert entry["dns_persist"]["checked"] is True

    _publish(dns, 45.5)
    text = _certificates(tmp_path, capsys)
    assert "WARNING" not in text
    assert "dns-persist Record: persistUntil" in text and "(45 days)" in text
    entry = json.loads(_certificates(tmp_path, capsys, "--json"))["certificates"][0]
    assert entry["dns_persist"]["warning"] is False and entry["dns_persist"]["days_left"] == 45


def test_certificates_warns_of_a_record_for_another_account_and_says_no_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dns: FakeDnsServer
) -> None:
    _lineage(tmp_path / "c", dns.address)
    _publish(dns, None, account="https://ca.test/acct/other")
    text = _certificates(tmp_path, capsys)
    assert f"no record names this certificate's ACME account for {NAME}" in text
    _publish(dns, None)
    text = _certificates(tmp_path, capsys)
    assert "dns-persist Record: no persistUntil" in text and "WARNING" not in text


def test_certificates_says_could_not_check_when_the_lookup_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeDnsServer({"other.test": {}}) as refusing:  # REFUSED for example.test
        _lineage(tmp_path / "c", refusing.address)
        text = _certificates(tmp_path, capsys)
        entry = json.loads(_certificates(tmp_path, capsys, "--json"))["certificates"][0]
    assert "dns-persist Record: could not check" in text  # and the command exits 0
    assert entry["dns_persist"]["checked"] is False and entry["dns_persist"]["warning"] is False


def test_other_lineages_are_not_looked_up_and_have_no_persist_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dns: FakeDnsServer
) -> None:
    _lineage(tmp_path / "c", dns.address, authenticator="standalone")
    text = _certificates(tmp_path, capsys)
    assert "dns-persist" not in text
    entry = json.loads(_certificates(tmp_path, capsys, "--json"))["certificates"][0]
    assert entry["dns_persist"] is None
    assert not any("_validation-persist" in str(q) for q in dns.queries)


async def test_a_record_running_out_alerts_once_and_not_when_renewed_far_ahead(
    tmp_path: Path, dns: FakeDnsServer
) -> None:
    from certsmith.cli.notify_hook import persist_alerts

    config_dir = tmp_path / "c"
    _lineage(config_dir, dns.address)
    posts: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        posts.append(json.loads(request.content))
        return httpx.Response(204)

    notifier = Notifier(
        NotifyConfig(webhook=WebhookSettings("https://hooks.example/x")),
        NotifyFiles(tmp_path / "n"),
        Catalogue("en"),
        "host1",
        transport=httpx.MockTransport(answer),
    )
    store, accounts = LineageStore(config_dir), AccountStore(config_dir)

    def check() -> tuple[list[Any], list[str]]:
        now = datetime.datetime.now(UTC)
        # persist_checks runs its own event loop: keep it off this test's loop.
        return persist_alerts(store, accounts, [NAME], now)

    _publish(dns, 10.5)
    alerts, cleared = await asyncio.to_thread(check)
    assert [a.problem for a in alerts] == [Problem.PERSIST_UNTIL] and cleared == []
    await notifier.alert(alerts, cleared)
    await notifier.alert(*(await asyncio.to_thread(check)))  # the next run: held back
    assert len(posts) == 1
    assert NAME in posts[0]["title"] and "dns-persist" in posts[0]["title"]
    assert f"persist-record -d {NAME}" in posts[0]["text"]

    _publish(dns, 200)  # a new record far ahead: nothing to say, the problem is forgotten
    alerts, cleared = await asyncio.to_thread(check)
    assert alerts == [] and cleared == [f"persist_until\t{NAME}"]
    await notifier.alert(alerts, cleared)
    assert len(posts) == 1


class _Hooks(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.received.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_two_renew_runs_send_one_persist_until_alert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dns: FakeDnsServer
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        _lineage(tmp_path / "c", dns.address)  # a day old: not due, so no CA is asked
        _publish(dns, 10.5)
        dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
        dirs += ["--logs-dir", str(tmp_path / "l"), "-n"]
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        assert main(["notify", "setup", "--webhook", url, *dirs]) == 0
        for _ in range(2):
            assert main(["renew", "--no-random-sleep-on-renew", *dirs]) == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    capsys.readouterr()
    received = server.received  # type: ignore[attr-defined]
    assert len(received) == 1
    assert [a["problem"] for a in received[0]["alerts"]] == ["persist_until"]
