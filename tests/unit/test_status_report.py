"""`certsmith report`: the status page is self-contained, escapes what certificates say, renders
every lineage with its state in a real browser (Debian's headless Chromium), and ``--serve`` is
read-only and loopback-only."""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from certsmith import crypto
from certsmith.cli.main import main
from certsmith.preflight.messages import Catalogue
from certsmith.report import LineageFacts, PageFacts, render_page
from certsmith.report.serve import StatusServer
from certsmith.storage import LineageStore
from certsmith.storage.history import HistoryFile, Problem, RunRecord

pytestmark = pytest.mark.usefixtures("cli_main")
UTC = datetime.UTC
NOW = datetime.datetime.now(UTC)


def _lineage(config_dir: Path, name: str, age_days: float, days: int = 90) -> None:
    key = crypto.generate_private_key("ecdsa")
    start = NOW - datetime.timedelta(days=age_days)
    pem = crypto.make_self_signed(key, [crypto.normalize_name(name)], not_before=start, days=days)
    store = LineageStore(config_dir)
    conf = store.new_conf(name, {"authenticator": "standalone"})
    store.save_version(name, crypto.private_key_pem(key), pem, pem, conf=conf)


def _fleet(config_dir: Path) -> dict[str, str]:
    """Lineages in every state the page colours, and the English label each should show."""
    _lineage(config_dir, "ok.example", 5)
    _lineage(config_dir, "due.example", 65)
    _lineage(config_dir, "late.example", 80)
    _lineage(config_dir, "gone.example", 100)
    _lineage(config_dir, "failing.example", 62)
    HistoryFile(config_dir).append(
        RunRecord(NOW, 1.0, 5, failed=(Problem("failing.example", "the CA said no"),))
    )
    return {
        "ok.example": "OK",
        "due.example": "Due for renewal",
        "late.example": "Expiring, not renewed",
        "gone.example": "Expired",
        "failing.example": "Renewal failing",
    }


def _report(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
    code = main(["report", *argv, *dirs, "--logs-dir", str(tmp_path / "l"), "-n"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def test_the_page_is_self_contained_and_escapes_names_from_certificates() -> None:
    hostile = 'x"><script>alert(1)</script>'
    facts = PageFacts(
        "<b>host</b>",
        NOW,
        [
            LineageFacts(
                hostile,
                (hostile,),
                NOW - datetime.timedelta(days=1),
                NOW + datetime.timedelta(days=89),
                last_outcome="failed",
                last_reason="<img src=x onerror=alert(2)>",
            )
        ],
    )
    page = render_page(facts, Catalogue("en"))
    assert "<script>" not in page and "<img" not in page and "<b>host" not in page
    assert "&lt;script&gt;" in page
    assert '<meta name="viewport"' in page
    # no external asset: no src=, no link to a stylesheet, no URL but the SVG namespace
    assert not re.search(r"<[^>]*\s(src|href)=", page)
    assert re.findall(r"https?://[^\s\"'<]+", page) == ["http://www.w3.org/2000/svg"]


def test_report_html_lists_every_lineage_with_its_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = _fleet(tmp_path / "c")
    page_path = tmp_path / "status.html"
    code, out = _report(tmp_path, capsys, "--html", str(page_path))
    assert code == 0, out
    page = page_path.read_text()
    for name, label in expected.items():
        row = re.search(rf'<tr id="lineage-{re.escape(name)}">.*?</tr>', page)
        assert row is not None, name
        assert label in row.group(0), (name, label)
    assert "the CA said no" in page  # the last run's reason, from the history


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed")
def test_the_page_renders_every_lineage_in_headless_chromium(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = _fleet(tmp_path / "c")
    page_path = tmp_path / "status.html"
    assert _report(tmp_path, capsys, "--html", str(page_path))[0] == 0
    base = [
        str(_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [*base, "--dump-dom", page_path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "<svg" in dom
    for name, label in expected.items():
        assert f'data-lineage="{name}"' in dom  # on the timeline
        row = re.search(rf'<tr id="lineage-{re.escape(name)}">.*?</tr>', dom, re.S)
        assert row is not None and label in row.group(0), name
    shot = tmp_path / "status-page.png"  # kept as the test's artefact (pytest's tmp dir)
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=420,1400", page_path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_serve_answers_the_page_read_only() -> None:
    server = StatusServer("127.0.0.1", 0, lambda: "<!DOCTYPE html><p>page</p>")
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with httpx.Client(timeout=5) as client:
            page = client.get(server.url)
            assert page.status_code == 200 and "page" in page.text
            assert page.headers["content-type"].startswith("text/html")
            assert "default-src 'none'" in page.headers["content-security-policy"]
            assert client.post(server.url, content=b"x").status_code == 405
            assert client.get(server.url + "etc/passwd").status_code == 404
    finally:
        server.shutdown()
        thread.join(5)
    assert not thread.is_alive()


@pytest.mark.parametrize("address", ["0.0.0.0:8080", "192.0.2.1:80", "example.com:80"])
def test_serve_refuses_addresses_beyond_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str
) -> None:
    code, out = _report(tmp_path, capsys, "--serve", address)
    assert code == 2 and address in out


def test_report_without_a_target_says_what_to_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _report(tmp_path, capsys)
    assert code == 2 and "--html FILE" in out
