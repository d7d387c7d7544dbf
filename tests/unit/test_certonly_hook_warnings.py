"""A hook that fails during `certonly` is one warning line naming it and how it failed (certbot
logs it and exits 0; so does certsmith's certonly)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from certsmith.cli.cmd_certonly import say_hook_failures
from certsmith.cli.console import Console
from certsmith.preflight.messages import Catalogue
from certsmith.renewal.hooks import HookKind, HookResult
from certsmith.renewal.shell import CommandOutcome


@pytest.mark.parametrize(
    ("outcome", "how"),
    [
        (CommandOutcome(1), "exit code 1"),
        (CommandOutcome(None, timed_out=True), "timed out"),
        (CommandOutcome(None, error="No such file"), "could not start: No such file"),
    ],
)
def test_each_failed_hook_is_one_warning_with_its_command_and_how(
    outcome: CommandOutcome, how: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out=out, err=err, catalogue=Catalogue("en"))
    failed = HookResult(HookKind.DEPLOY, "systemctl reload nginx", "a.example", outcome)
    say_hook_failures(console, [failed])
    assert out.getvalue() == ""
    assert err.getvalue() == (
        f"Warning: the deploy hook `systemctl reload nginx` failed ({how}); certsmith went on, "
        "as certbot does. Its output is in the log.\n"
    )


def test_the_warning_reads_in_korean() -> None:
    err = io.StringIO()
    console = Console(out=io.StringIO(), err=err, catalogue=Catalogue("ko"))
    say_hook_failures(console, [HookResult(HookKind.POST, "false", None, CommandOutcome(2))])
    assert err.getvalue().startswith("경고: post 훅 `false` 실행이 실패했습니다(종료 코드 2).")


def test_renew_names_each_failed_hook_before_its_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`renew` exits 1 on a failed hook (its only alarm when unattended) and says which one."""
    from test_notify_alerts import _add_failing_lineage, _cli

    _add_failing_lineage(tmp_path / "c", "fails.example")
    code, out = _cli(tmp_path, capsys, "renew", "--no-random-sleep-on-renew", "--pre-hook", "false")
    assert code == 1
    named = out.index("The pre hook `false` failed (exit code 1); its output is in the log.")
    assert named < out.index("certsmith: error: 1 hook(s) failed; see the log.")
