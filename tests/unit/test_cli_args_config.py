"""cli.ini defaults (certbot's syntax) under command-line flags."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from certsmith.cli.args import parse_args, read_config_file
from certsmith.cli.options import Authenticator
from certsmith.errors import UsageError


def parse(line: str, config_dir: Path) -> Any:
    argv = [*shlex.split(line), "--config-dir", str(config_dir)]
    return parse_args(argv, environ={"HOME": "/home/alice"}, is_root=False)


def write_ini(folder: Path, text: str, name: str = "cli.ini") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_config_syntax(tmp_path: Path) -> None:
    path = write_ini(
        tmp_path,
        "# comment\n; comment\n[section]\nrsa-key-size = 4096\nemail: a@b.org\n"
        "agree-tos\n--key-type rsa\ndomains = [a.com, b.com]\nserver = 'https://x/dir' # note\n",
    )
    assert read_config_file(path) == {
        "rsa-key-size": "4096",
        "email": "a@b.org",
        "agree-tos": "true",
        "key-type": "rsa",
        "domains": ["a.com", "b.com"],
        "server": "https://x/dir",
    }


def test_cli_ini_gives_defaults_and_flags_override(tmp_path: Path) -> None:
    write_ini(
        tmp_path,
        "key-type = rsa\nrsa-key-size = 4096\nemail = ini@b.org\nagree-tos = true\n"
        "authenticator = webroot\nwebroot-path = /var/www/html\nnon-interactive = false\n",
    )
    opts = parse("certonly -d a.com --rsa-key-size 3072 -m cli@b.org", tmp_path)
    assert opts.key.key_type == "rsa"
    assert opts.key.rsa_key_size == 3072
    assert opts.account.email == "cli@b.org"
    assert opts.account.agree_tos is True
    assert opts.common.non_interactive is False
    assert opts.challenge.authenticator is Authenticator.WEBROOT
    assert opts.challenge.webroot_for("a.com") == Path("/var/www/html")
    assert opts.common.config_files == (tmp_path / "cli.ini",)
    assert "rsa_key_size" in opts.common.set_on_command_line
    assert "key_type" not in opts.common.set_on_command_line


def test_command_line_authenticator_replaces_the_ini_one(tmp_path: Path) -> None:
    write_ini(tmp_path, "authenticator = webroot\n")
    assert parse("certonly --standalone -d a.com", tmp_path).challenge.authenticator is (
        Authenticator.STANDALONE
    )


def test_ini_domains_are_not_used_by_renew(tmp_path: Path) -> None:
    write_ini(tmp_path, "domains = a.com\nverbose-level = 1\nunknown-thing = 1\n")
    assert parse("certonly", tmp_path).domains == ("a.com",)
    renew = parse("renew", tmp_path)
    notes = {(i.flag, i.source) for i in renew.common.ignored_flags}
    ini = str(tmp_path / "cli.ini")
    assert notes == {("--unknown-thing", ini), ("--verbose-level", ini)}
    # certbot-only keys from cli.ini are accepted without complaint about the verb
    assert all(i.flag != "--domains" for i in renew.common.ignored_flags)


def test_explicit_config_file_wins_over_default(tmp_path: Path) -> None:
    write_ini(tmp_path, "email = default@b.org\nkey-type = rsa\n")
    extra = write_ini(tmp_path, "email = extra@b.org\n", name="extra.ini")
    opts = parse(f"certonly -c {extra} -d a.com", tmp_path)
    assert opts.account.email == "extra@b.org"
    assert opts.key.key_type == "rsa"


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        parse(f"certonly -c {tmp_path / 'missing.ini'}", tmp_path)
    write_ini(tmp_path, "agree-tos = maybe\n")
    with pytest.raises(UsageError, match="expected true or false"):
        parse("certonly", tmp_path)
    write_ini(tmp_path, "rsa-key-size = big\n")
    with pytest.raises(UsageError, match="not a whole number"):
        parse("certonly", tmp_path)


def test_certbot_snap_default_cli_ini(tmp_path: Path) -> None:
    write_ini(tmp_path, "# disable certbot's log rotation\nmax-log-backups = 0\n")
    opts = parse("certonly --standalone -d a.com", tmp_path)
    assert opts.common.ignored_flags == ()
    assert opts.common.max_log_backups == 0  # honoured, as certbot: the log never rotates
    assert parse("certonly --max-log-backups 3", tmp_path).common.max_log_backups == 3
