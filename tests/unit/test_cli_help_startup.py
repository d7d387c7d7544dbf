"""`certsmith --help` and `--version` load neither the option classes nor logging (figure 4)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LOADED = (
    "import json, sys; from certsmith.cli.main import main; main({argv!r}); "
    "print(json.dumps(sorted(sys.modules)))"
)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"], ["--version"]])
def test_help_and_version_import_little(argv: list[str]) -> None:
    code = LOADED.format(argv=argv)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    heavy = {
        "certsmith.cli.options",
        "certsmith.cli.option_types",
        "certsmith.cli.flags",
        "certsmith.cli.console",
        "logging",
        "httpx",
        "cryptography",
        "dns",
    }
    assert not heavy & loaded


def test_lazy_names_still_importable() -> None:
    from certsmith.cli import HelpRequest, Verb, parse_args
    from certsmith.cli.args import UNSUPPORTED_VERBS, read_config_file

    assert Verb.CERTONLY.value == "certonly" and UNSUPPORTED_VERBS == {}
    assert callable(parse_args) and callable(read_config_file)
    assert HelpRequest("x").text == "x"
    with pytest.raises(ImportError):
        from certsmith.cli import no_such_name  # noqa: F401
    import certsmith.cli

    with pytest.raises(AttributeError):
        _ = certsmith.cli.no_such_name
