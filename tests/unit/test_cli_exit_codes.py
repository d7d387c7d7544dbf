"""Failure paths of the commands without a CA: one sentence that says what to do, no traceback,
the exit code docs/cli.md gives; -q keeps success quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from certsmith.cli.main import main

pytestmark = pytest.mark.usefixtures("cli_main")


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w")]
    code = main([*argv, *dirs, "--logs-dir", str(tmp_path / "l"), "-n"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("verb", ["revoke", "delete", "renew"])
def test_unknown_cert_name_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    code, _, err = _run(tmp_path, capsys, verb, "--cert-name", "nope.example")
    assert code == 2, err
    assert "No certificate named 'nope.example'" in err
    assert "certsmith certificates" in err
    assert len(err.strip().splitlines()) == 1


def test_quiet_renew_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(tmp_path, capsys, "renew", "-q")
    assert (code, out, err) == (0, "", "")
    code, out, _ = _run(tmp_path, capsys, "renew")
    assert code == 0 and "No certificates found." in out


def test_a_closed_stdout_pipe_ends_quietly_with_exit_1(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`| head -1`) is gone before certsmith writes
    try:
        certsmith = str(Path(sys.executable).parent / "certsmith")
        argv = [certsmith, "certificates", "--config-dir",
                str(tmp_path / "etc"), "--work-dir", str(tmp_path / "w"),
                "--logs-dir", str(tmp_path / "log")]  # fmt: skip
        done = subprocess.run(
            argv, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, check=False
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == ""
    log = "".join(p.read_text() for p in (tmp_path / "log").glob("*"))
    assert "Traceback" not in log and "internal error" not in log


def test_every_command_handler_named_in_the_dispatch_table_exists() -> None:
    from importlib import import_module

    from certsmith.cli import main as cli_main

    targets = [*cli_main._BY_OPTIONS.values(), *cli_main._BY_VERB.values()]
    for target in targets:
        module, name = target.split(":")
        assert callable(getattr(import_module(f"certsmith.cli.{module}"), name)), target
