"""The account commands end to end against Pebble: register (also with External Account
Binding), show_account, update_account (contact and RFC 8555 section 7.3.5 key rollover) and
unregister. Helpers are in test_cli_e2e.py."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from pebble import EAB_KEYS, PebbleCA
from test_cli_e2e import Cli, cli, unique_name

from certsmith.acme import AcmeClient
from certsmith.acme.errors import AccountDoesNotExist, Unauthorized
from certsmith.storage import key_from_jwk, server_folder

pytestmark = pytest.mark.pebble

__all__ = ["cli"]  # the fixture, imported so pytest finds it here

EMAIL_A, EMAIL_B = "a@example.test", "b@example.test"


def account_dirs(cli: Cli) -> list[Path]:
    server = cli.config_dir / "accounts" / server_folder(cli.ca.directory_url)
    return sorted(p for p in server.iterdir() if p.is_dir()) if server.is_dir() else []


def only_account(cli: Cli) -> Path:
    dirs = account_dirs(cli)
    assert len(dirs) == 1, dirs
    return dirs[0]


def regr(folder: Path) -> dict[str, object]:
    data = json.loads((folder / "regr.json").read_text())
    assert isinstance(data, dict)
    return data


def register(cli: Cli, *extra: str) -> str:
    """Register with EMAIL_A; returns the account URL."""
    result = cli.run("register", "--email", EMAIL_A, "--agree-tos", *extra)
    assert result.returncode == 0, result.stderr
    url = str(regr(only_account(cli))["uri"])
    assert url in result.stdout
    return url


async def _find_account(ca: PebbleCA, jwk_file: Path) -> str:
    key = key_from_jwk(json.loads(jwk_file.read_text()))
    async with AcmeClient(ca.directory_url, key, ca_bundle=ca.ca_bundle) as client:  # type: ignore[arg-type]
        return (await client.find_account()).url


def find_account(ca: PebbleCA, jwk_file: Path) -> str:
    """The account URL Pebble holds for the key in ``jwk_file`` (onlyReturnExisting)."""
    return asyncio.run(_find_account(ca, jwk_file))


def show(cli: Cli) -> str:
    result = cli.run("show_account")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_register_stores_certbot_layout(cli: Cli) -> None:
    url = register(cli)
    folder = only_account(cli)
    assert re.fullmatch(r"[0-9a-f]{32}", folder.name)
    assert sorted(p.name for p in folder.iterdir()) == [
        "meta.json",
        "private_key.json",
        "regr.json",
    ]
    assert stat.S_IMODE((folder / "private_key.json").stat().st_mode) in (0o400, 0o600)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((cli.config_dir / "accounts").stat().st_mode) == 0o700
    body = regr(folder)["body"]
    assert isinstance(body, dict) and body["contact"] == [f"mailto:{EMAIL_A}"]
    assert url.startswith(f"https://127.0.0.1:{cli.ca.acme_port}/")
    meta = json.loads((folder / "meta.json").read_text())
    assert {"creation_dt", "creation_host"} <= set(meta)
    assert find_account(cli.ca, folder / "private_key.json") == url


def test_second_register_is_a_clear_error(cli: Cli) -> None:
    register(cli)
    before = account_dirs(cli)
    result = cli.run("register", "--email", EMAIL_B, "--agree-tos")
    assert result.returncode != 0
    assert "already exists" in result.stderr and "show_account" in result.stderr
    assert account_dirs(cli) == before


def test_show_account_prints_url_and_email(cli: Cli) -> None:
    url = register(cli)
    text = show(cli)
    assert url in text
    assert EMAIL_A in text
    assert "valid" in text


def test_commands_without_account_say_register(cli: Cli) -> None:
    for command in ("show_account", "unregister"):
        result = cli.run(command)
        assert result.returncode != 0
        assert "certsmith register" in result.stderr, result.stderr


def test_update_account_email(cli: Cli) -> None:
    url = register(cli)
    result = cli.run("update_account", "--email", EMAIL_B)
    assert result.returncode == 0, result.stderr
    text = show(cli)
    assert EMAIL_B in text and EMAIL_A not in text
    assert url in text
    body = regr(only_account(cli))["body"]
    assert isinstance(body, dict) and body["contact"] == [f"mailto:{EMAIL_B}"]


def test_update_account_without_change_is_usage_error(cli: Cli) -> None:
    register(cli)
    result = cli.run("update_account")
    assert result.returncode == 2
    assert "--email" in result.stderr and "--rollover-key" in result.stderr


def test_rollover_key(cli: Cli, tmp_path: Path) -> None:
    url = register(cli)
    name = unique_name("roll")
    cli.certonly(name)
    old_folder = only_account(cli)
    old_key = tmp_path / "old-key.json"
    old_key.write_bytes((old_folder / "private_key.json").read_bytes())
    conf = cli.config_dir / "renewal" / f"{name}.conf"
    assert f"account = {old_folder.name}" in conf.read_text()

    result = cli.run("update_account", "--rollover-key")
    assert result.returncode == 0, result.stderr
    assert url in result.stdout
    new_folder = only_account(cli)
    assert new_folder.name != old_folder.name
    assert (new_folder / "private_key.json").read_bytes() != old_key.read_bytes()
    assert stat.S_IMODE((new_folder / "private_key.json").stat().st_mode) in (0o400, 0o600)
    assert regr(new_folder)["uri"] == url
    assert url in show(cli)
    # Pebble knows the account by the new key only.
    assert find_account(cli.ca, new_folder / "private_key.json") == url
    with pytest.raises(AccountDoesNotExist):
        find_account(cli.ca, old_key)
    # The lineage follows the account to its new id, so renewing it needs no fallback.
    assert f"account = {new_folder.name}" in conf.read_text()
    renew = cli.run("renew", "--force-renewal", "--cert-name", name, "--no-random-sleep-on-renew")
    assert renew.returncode == 0, renew.stderr
    assert "not stored" not in renew.stderr
    assert "1 renewed" in renew.stdout + renew.stderr
    # A new certificate with the rolled key, on the same account.
    cli.certonly(unique_name("rolled"))
    assert [p.name for p in account_dirs(cli)] == [new_folder.name]


def test_rollover_shorthand(cli: Cli) -> None:
    url = register(cli)
    old = only_account(cli).name
    result = cli.run("rollover")
    assert result.returncode == 0, result.stderr
    assert only_account(cli).name != old
    assert regr(only_account(cli))["uri"] == url


def test_unregister_deactivates_and_forgets(cli: Cli, tmp_path: Path) -> None:
    url = register(cli)
    key_copy = tmp_path / "key.json"
    key_copy.write_bytes((only_account(cli) / "private_key.json").read_bytes())
    result = cli.run("unregister")
    assert result.returncode == 0, result.stderr
    assert "deactivated" in result.stdout.lower()
    assert account_dirs(cli) == []
    # Pebble refuses the deactivated account's key from now on.
    with pytest.raises(Unauthorized, match="deactivated"):
        find_account(cli.ca, key_copy)
    # The config dir works again: certonly registers a new account.
    cli.certonly(unique_name("after"))
    new_url = str(regr(only_account(cli))["uri"])
    assert new_url != url


def test_eab_register(pebble_factory: Callable[..., PebbleCA], tmp_path: Path) -> None:
    ca = pebble_factory(eab_required=True)
    eab_cli = Cli(ca, tmp_path / "eab")
    result = eab_cli.run(
        "register", "--eab-kid", "kid-1", "--eab-hmac-key", EAB_KEYS["kid-1"],
        "--agree-tos", "--register-unsafely-without-email",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder = only_account(eab_cli)
    assert str(regr(folder)["uri"]) in result.stdout

    plain = Cli(ca, tmp_path / "plain")
    result = plain.run("register", "--agree-tos", "--register-unsafely-without-email")
    assert result.returncode != 0
    assert "--eab-kid" in result.stderr, result.stderr
    assert account_dirs(plain) == []


def test_update_account_changes_nothing_while_certbot_runs(cli: Cli) -> None:
    from test_cli_revoke import certbot_running

    register(cli)
    with certbot_running(cli.config_dir):
        result = cli.run("update_account", "--email", EMAIL_B)
    assert result.returncode != 0 and "certbot" in result.stderr, result.stderr
    text = show(cli)
    assert EMAIL_A in text and EMAIL_B not in text
