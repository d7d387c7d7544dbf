"""`renew` ends with certbot 5.8.0's block that scripts grep ("Certificate not yet due for
renewal", the "(skipped)" list with each fullchain path and expiry date, "No renewals were
attempted.", "No hooks were run."), before certsmith's own summary line; in the catalogue's
language, and never in --json output."""

from __future__ import annotations

import datetime
import socket
from pathlib import Path

import pytest

from certsmith import crypto
from certsmith.cli.main import main
from certsmith.storage import LineageStore

pytestmark = pytest.mark.usefixtures("cli_main")
UTC = datetime.UTC
CERTBOT_BLOCK = (
    "Certificate not yet due for renewal\n"
    "The following certificates are not due for renewal yet:\n"
    "  {fullchain} expires on {expires} (skipped)\n"
    "No renewals were attempted.\n"
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _add_lineage(config_dir: Path, name: str, age_days: int) -> datetime.datetime:
    """A 90-day certificate issued ``age_days`` ago from a CA nobody answers for; returns its
    notAfter."""
    key = crypto.generate_private_key("ecdsa")
    start = datetime.datetime.now(UTC) - datetime.timedelta(days=age_days)
    pem = crypto.make_self_signed(key, [crypto.normalize_name(name)], not_before=start, days=90)
    store = LineageStore(config_dir)
    server = f"http://127.0.0.1:{_closed_port()}/dir"
    conf = store.new_conf(name, {"authenticator": "standalone", "server": server})
    store.save_version(name, crypto.private_key_pem(key), pem, pem, conf=conf)
    return crypto.load_certificates(pem)[0].not_valid_after_utc


def _renew(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
    argv = ["renew", "--no-random-sleep-on-renew", *extra, *dirs, "-n"]
    code = main([*argv, "--logs-dir", str(tmp_path / "l")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out


def _block(tmp_path: Path, name: str, expires: datetime.datetime) -> str:
    fullchain = tmp_path / "c" / "live" / name / "fullchain.pem"
    return CERTBOT_BLOCK.format(fullchain=fullchain, expires=expires.strftime("%Y-%m-%d"))


def test_not_due_renew_prints_certbots_block_then_the_summary_on_both_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    expires = _add_lineage(tmp_path / "c", "a.example", age_days=1)
    # The first run checks through the engine (nothing cached), the second from the index.
    for _ in range(2):
        code, out = _renew(tmp_path, capsys)
        assert code == 0
        assert out == _block(tmp_path, "a.example", expires) + (
            "0 renewed, 1 not due, 0 failed, 0 skipped (locked)\n"
        )


def test_given_hooks_add_no_hooks_were_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    _add_lineage(tmp_path / "c", "a.example", age_days=1)
    code, out = _renew(tmp_path, capsys, "--pre-hook", "true", "--post-hook", "true")
    assert code == 0
    assert "No renewals were attempted.\nNo hooks were run.\n" in out
    code, out = _renew(tmp_path, capsys)
    assert "No hooks were run." not in out


def test_a_failed_renewal_is_an_attempt_and_the_not_due_one_is_still_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    expires = _add_lineage(tmp_path / "c", "a.example", age_days=1)
    _add_lineage(tmp_path / "c", "due.example", age_days=70)
    code, out = _renew(tmp_path, capsys)
    assert code == 1
    fullchain = tmp_path / "c" / "live" / "a.example" / "fullchain.pem"
    assert f"  {fullchain} expires on {expires:%Y-%m-%d} (skipped)\n" in out
    assert "due.example/fullchain.pem" not in out
    assert "No renewals were attempted." not in out
    assert out.endswith("0 renewed, 1 not due, 1 failed, 0 skipped (locked)\n")


def test_no_lineages_says_no_renewals_were_attempted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    code, out = _renew(tmp_path, capsys)
    assert (code, out) == (0, "No certificates found.\nNo renewals were attempted.\n")


def test_json_output_has_no_certbot_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_lineage(tmp_path / "c", "a.example", age_days=1)
    for _ in range(2):
        code, out = _renew(tmp_path, capsys, "--json")
        assert code == 0
        assert len(out.splitlines()) == 1 and out.startswith("{")


def test_the_block_reads_in_korean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "ko_KR.UTF-8")
    expires = _add_lineage(tmp_path / "c", "a.example", age_days=1)
    code, out = _renew(tmp_path, capsys)
    assert code == 0
    assert "다음 인증서는 아직 갱신할 때가 아닙니다:" in out
    assert f"만료일 {expires:%Y-%m-%d} (건너뜀)" in out
    assert "갱신을 시도하지 않았습니다." in out
    assert "Certificate not yet due" not in out
