"""certbot habits that must work the same: `renew -w PATH`, `-m a,b`, and pre-flight before an
account is made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli_e2e import (
    STANDALONE_IP,
    WEBROOT_IP,
    Cli,
    WebrootServer,
    cli,  # noqa: F401  (fixture)
    unique_name,
    webroot_server,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.pebble


def test_renew_with_a_bare_webroot_uses_it_for_every_name_and_saves_it(
    cli: Cli,  # noqa: F811
    webroot_server: WebrootServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    names = [unique_name("wr1"), unique_name("wr2")]
    old_root = tmp_path / "old-www"
    old_root.mkdir()
    for name in names:
        cli.ca.add_a(name, [WEBROOT_IP])
    # Issued through the served folder, then the site moves: the conf names a folder nobody serves.
    args = ["certonly", "--webroot", "-w", str(webroot_server.root)]
    for name in names:
        args += ["-d", name]
    first = cli.run(*args, "--agree-tos", "--register-unsafely-without-email")
    assert first.returncode == 0, first.stderr
    conf_path = cli.config_dir / "renewal" / f"{names[0]}.conf"
    conf_path.write_text(conf_path.read_text().replace(str(webroot_server.root), str(old_root)))
    result = cli.run(
        "renew", "--force-renewal", "--no-random-sleep-on-renew", "-w", str(webroot_server.root)
    )
    assert result.returncode == 0, result.stderr
    assert "1 renewed" in result.stdout
    conf = conf_path.read_text()
    assert str(old_root) not in conf
    for name in names:
        assert f"{name} = {webroot_server.root}" in conf


def test_register_with_two_addresses_stores_two_contacts(cli: Cli) -> None:  # noqa: F811
    result = cli.run("register", "-m", "a@example.com,b@example.com", "--agree-tos")
    assert result.returncode == 0, result.stderr
    (regr,) = (cli.config_dir / "accounts").rglob("regr.json")
    contacts = json.loads(regr.read_text())["body"]["contact"]
    assert contacts == ["mailto:a@example.com", "mailto:b@example.com"]


def test_a_failed_preflight_leaves_no_account_behind(cli: Cli) -> None:  # noqa: F811
    name = unique_name("caa-noacct")
    cli.ca.add_a(name, [STANDALONE_IP])
    cli.ca.challtest(
        "/add-caa", {"host": name, "policies": [{"tag": "issue", "value": "otherca.example"}]}
    )
    shutil.rmtree(cli.config_dir / "accounts", ignore_errors=True)
    result = cli.run(*cli.standalone(name), preflight=True)
    assert result.returncode == 1
    assert "CAA" in result.stderr
    assert not (cli.config_dir / "accounts").exists()
