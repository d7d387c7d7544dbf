"""Which authenticator/installer flags go together, side by side with certbot 5.8.0: certbot
decides before any network call, so each line runs against an unreachable CA and the verdict is
read from what certbot says ("Too many flags ..." or not); certsmith's comes from parse_args."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from certsmith.cli.args import parse_args
from certsmith.errors import UsageError
from support.certbot_peer import CERTBOT, folder_args

pytestmark = [
    pytest.mark.certbot,
    pytest.mark.skipif(not CERTBOT.exists(), reason="certbot interop venv missing"),
]

LINES = [
    "certonly -a standalone -a manual",  # the later -a wins
    "certonly -a standalone -a webroot -w /tmp",
    "certonly --standalone --manual",  # conflicting shortcuts
    "certonly -a standalone --manual",
    "certonly -a manual --manual",
    "certonly --standalone --standalone",
    "certonly --standalone -i nginx",
    "run --webroot -w /tmp -i nginx --nginx",
    "run --nginx -i apache",
    "run --nginx -a nginx",
    "certonly --configurator nginx -a standalone",
    "run -i nginx -i apache --standalone",  # the later -i wins
]


def _certbot_conflict(line: str, base: Path) -> bool:
    args = [*shlex.split(line), "-d", "a.example", "-n", "--agree-tos",
            "--register-unsafely-without-email", "--server", "https://127.0.0.1:9/dir"]  # fmt: skip
    result = subprocess.run(
        [str(CERTBOT), *args, *folder_args(base)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode != 0  # nothing can succeed against port 9
    return "Too many flags setting" in result.stdout + result.stderr


def _certsmith_conflict(line: str) -> bool:
    try:
        parse_args([*shlex.split(line), "-d", "a.example"], environ={"HOME": "/h"}, is_root=False)
    except UsageError as err:
        return "Too many flags setting" in str(err)
    return False


@pytest.mark.parametrize("line", LINES)
def test_plugin_flags_conflict_exactly_when_certbot_says_so(line: str, tmp_path: Path) -> None:
    assert _certsmith_conflict(line) == _certbot_conflict(line, tmp_path)
