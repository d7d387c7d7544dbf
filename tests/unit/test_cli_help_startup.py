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


def test_the_message_catalogue_imports_neither_httpx_nor_dnspython() -> None:
    """Every printing command reads the catalogue; a quiet `renew` over a fleet none due must
    not pay for the pre-flight checks' HTTP and DNS libraries (about 0.1 s)."""
    code = (
        "import json, sys; from certsmith.preflight.messages import Catalogue; "
        "Catalogue('ko').get('renew.certbot_not_due'); print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not {"httpx", "dns", "cryptography"} & loaded


def test_the_preflight_package_still_offers_its_names() -> None:
    import certsmith.preflight as preflight
    from certsmith.preflight import Catalogue, check_caa, run_preflight

    assert callable(check_caa) and callable(run_preflight) and Catalogue("en").locale == "en"
    with pytest.raises(AttributeError):
        _ = preflight.no_such_name
