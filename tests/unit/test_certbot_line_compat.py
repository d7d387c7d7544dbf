"""certbot 5.8.0 command lines from the differential corpus, decided without a CA: `renew -d` is
refused as certbot refuses it; `install -i null` and `run -i null` of a kept certificate succeed
and install nowhere; an unknown cli.ini key is said at every run (certbot refuses the file)."""

from __future__ import annotations

import datetime
import json
import shlex
from pathlib import Path

import pytest

from certsmith import crypto
from certsmith.cli.args import parse_args
from certsmith.cli.main import main
from certsmith.errors import UsageError
from certsmith.storage import LineageStore

pytestmark = pytest.mark.usefixtures("cli_main")
ENV = {"HOME": "/home/alice"}
CLOSED = "http://127.0.0.1:9/dir"  # never asked: nothing here needs the CA


def _add_lineage(config_dir: Path, name: str) -> None:
    key = crypto.generate_private_key("ecdsa")
    now = datetime.datetime.now(datetime.UTC)
    pem = crypto.make_self_signed(key, [crypto.normalize_name(name)], not_before=now, days=90)
    store = LineageStore(config_dir)
    conf = store.new_conf(name, {"authenticator": "standalone", "server": CLOSED})
    store.save_version(name, crypto.private_key_pem(key), pem, pem, conf=conf)


def _main(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str) -> tuple[int, str, str]:
    dirs = f"--config-dir {tmp_path}/c --work-dir {tmp_path}/w --logs-dir {tmp_path}/l -n"
    code = main(shlex.split(f"{line} {dirs}"))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize(
    "line", ["renew -d a.com", "renew --domains a.com", "renew --ip-address 192.0.2.1"]
)
def test_renew_with_names_is_refused_with_certbots_reason(line: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_args(shlex.split(line), environ=ENV, is_root=False)
    assert "-d, --domain, and --ip-address are not valid options for the renew subcommand" in str(
        info.value
    )


def test_renew_accepts_names_that_its_webroot_map_brings_as_certbot_does() -> None:
    webroot_map = json.dumps({"a.com": "/srv/a"})
    line = ["renew", "--webroot-map", webroot_map, "-d", "a.com"]
    options = parse_args(line, environ=ENV, is_root=False)
    assert options.challenge.webroot_map == (("a.com", Path("/srv/a")),)


def test_install_with_the_null_installer_does_nothing_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    _add_lineage(tmp_path / "c", "a.example")
    conf = tmp_path / "c" / "renewal" / "a.example.conf"
    before = conf.read_text()
    code, out, err = _main(tmp_path, capsys, "install --cert-name a.example -i null")
    assert (code, err) == (0, "")
    assert out == "-i null: a.example is installed nowhere; nothing to do.\n"
    assert conf.read_text() == before
    code, _, err = _main(tmp_path, capsys, "install --cert-name a.example")
    assert code == 2 and "Say which web server" in err


def test_run_with_the_null_installer_keeps_a_certificate_that_is_not_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LC_ALL", "C")
    _add_lineage(tmp_path / "c", "a.example")
    line = f"run --standalone -i null -d a.example --server {CLOSED} --keep-until-expiring"
    code, out, err = _main(tmp_path, capsys, line)
    assert code == 0, err
    assert "no action taken" in out


def test_an_unknown_cli_ini_key_is_said_at_every_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ini = tmp_path / "cli.ini"
    ini.write_text("no-such-option = 1\nmax-log-backups = 0\n")
    code, _, err = _main(tmp_path, capsys, f"certificates -c {ini}")
    assert code == 0
    assert err == (
        f"Note: --no-such-option (from {ini}): unknown option, ignored (certbot refuses it)\n"
    )
