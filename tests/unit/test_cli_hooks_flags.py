"""Hook flags as certbot reads them: --run-deploy-hooks is honoured, and hook commands are
checked before anything is done (certbot's hook validation, --disable-hook-validation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from certsmith.cli.args import parse_args
from certsmith.cli.main import main
from certsmith.cli.options import CertonlyOptions, RenewOptions

pytestmark = pytest.mark.usefixtures("cli_main")


def _dirs(tmp_path: Path) -> list[str]:
    return [
        "--config-dir", str(tmp_path / "config"),
        "--work-dir", str(tmp_path / "work"),
        "--logs-dir", str(tmp_path / "logs"),
        "--server", "https://127.0.0.1:9/dir",
        "-n",
    ]  # fmt: skip


@pytest.mark.parametrize("verb", ["certonly", "renew"])
def test_run_deploy_hooks_is_honoured(verb: str) -> None:
    argv = [verb, "--dry-run", "--run-deploy-hooks", "--standalone", "-d", "a.example"]
    options = parse_args(argv[:3] if verb == "renew" else argv, environ={}, is_root=True)
    assert isinstance(options, CertonlyOptions | RenewOptions)
    assert options.hooks.run_deploy_hooks is True
    assert not any("run-deploy-hooks" in note for note in options.common.ignored_flags)
    plain = parse_args([verb, "--dry-run"], environ={}, is_root=True)
    assert isinstance(plain, CertonlyOptions | RenewOptions)
    assert plain.hooks.run_deploy_hooks is False


@pytest.mark.parametrize("kind", ["pre", "post", "deploy"])
def test_certonly_refuses_a_missing_hook_before_doing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    missing = str(tmp_path / "no-such-script.sh")
    argv = ["certonly", "--standalone", "-d", "a.example", f"--{kind}-hook", f"{missing} --x"]
    code = main([*argv, *_dirs(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"Unable to find {kind}-hook command {missing}" in err
    assert "--disable-hook-validation" in err
    assert "Traceback" not in err
    assert not (tmp_path / "config" / "renewal").exists()
    assert not (tmp_path / "config" / "accounts").exists()


def test_renew_refuses_a_hook_that_is_not_executable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "reload.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    code = main(["renew", "--deploy-hook", str(script), *_dirs(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"deploy-hook command {script} exists, but is not executable" in err


def test_disable_hook_validation_skips_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no-such-script.sh")
    argv = ["renew", "--deploy-hook", missing, "--disable-hook-validation", *_dirs(tmp_path)]
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0
    assert "No certificates found." in out
