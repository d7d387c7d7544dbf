"""cli.ini keys abbreviated as certbot 5.8.0 reads them: certbot hands a key it does not know in
full to argparse as ``--key=value``, so the one long flag a key begins is set (``rsa-key = 3072``);
a key that begins several flags is refused naming them, and so is a shortened on/off flag
(``agree = true``: argparse's "ignored explicit argument"). An unknown key stays a Note."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from certsmith.cli.args import parse_args
from certsmith.errors import UsageError


def parse(line: str, config_dir: Path) -> Any:
    argv = [*shlex.split(line), "--config-dir", str(config_dir)]
    return parse_args(argv, environ={"HOME": "/home/alice"}, is_root=False)


def write_ini(folder: Path, text: str) -> Path:
    path = folder / "cli.ini"
    path.write_text(text)
    return path


def test_a_unique_prefix_sets_its_flag(tmp_path: Path) -> None:
    write_ini(tmp_path, "rsa-key = 3072\ncert-n = mycert\npreferred-chal = http\n")
    opts = parse("certonly -d a.example", tmp_path)
    assert opts.key.rsa_key_size == 3072
    assert opts.cert_name == "mycert"
    assert opts.common.ignored_flags == ()


def test_the_command_line_still_overrides_an_abbreviated_key(tmp_path: Path) -> None:
    write_ini(tmp_path, "rsa-key = 3072\n")
    assert parse("certonly -d a.example --rsa-key-size 4096", tmp_path).key.rsa_key_size == 4096
    assert parse("certonly -d a.example --rsa-key 2048", tmp_path).key.rsa_key_size == 2048


def test_a_prefix_of_several_flags_is_refused_naming_them(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "key = rsa\n")
    with pytest.raises(UsageError) as caught:
        parse("certonly -d a.example", tmp_path)
    assert str(caught.value) == (
        f"{ini}: key could be any of --key-type, --key-path; write the setting in full."
    )
    write_ini(tmp_path, "dom = a.example\n")  # two spellings of one flag: argparse refuses too
    with pytest.raises(UsageError, match="--domains, --domain"):
        parse("certonly", tmp_path)


@pytest.mark.parametrize("line", ["agree = true", "agree", "agree = false", "quie = yes"])
def test_a_shortened_on_off_flag_is_refused_as_certbot_refuses_it(
    tmp_path: Path, line: str
) -> None:
    ini = write_ini(tmp_path, line + "\n")
    key, full = line.split(" ")[0], {"agree": "agree-tos", "quie": "quiet"}[line.split(" ")[0]]
    with pytest.raises(UsageError) as caught:
        parse("certonly -d a.example", tmp_path)
    assert str(caught.value) == (
        f"{ini}: {key} is short for the on/off flag --{full}; write it in full "
        f"({full} = true), as certbot requires."
    )


def test_on_off_flags_spelled_in_full_still_work(tmp_path: Path) -> None:
    write_ini(tmp_path, "agree-tos = true\nforce-renewal\nquiet = false\n")
    opts = parse("certonly -d a.example", tmp_path)
    assert opts.account.agree_tos is True
    assert opts.issuance.force_renewal is True
    assert opts.common.quiet is False


def test_a_key_that_begins_no_flag_is_still_a_note(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "no-such-option = 1\nrsa-key = 3072\n")
    opts = parse("certonly -d a.example", tmp_path)
    assert [(i.flag, i.source, i.announce) for i in opts.common.ignored_flags] == [
        ("--no-such-option", str(ini), True)
    ]
    assert opts.key.rsa_key_size == 3072


def test_an_abbreviated_ignored_flag_is_noted_under_its_full_name(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "verbose-lev = 2\n")
    opts = parse("certonly -d a.example", tmp_path)
    assert [(i.flag, i.source) for i in opts.common.ignored_flags] == [
        ("--verbose-level", str(ini))
    ]
