"""Hooks through a real /bin/sh: environment written to files, folder hooks, timeouts."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from certsmith.renewal.hooks import HookRunner, run_shell
from certsmith.renewal.shell import OUTPUT_LIMIT

pytestmark = pytest.mark.skipif(not Path("/bin/sh").exists(), reason="needs /bin/sh")

ENV = {"PATH": "/usr/bin:/bin"}


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_a_whole_run_writes_the_expected_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    log = out / "order"
    cfg = tmp_path / "cfg"
    hooks_dir = cfg / "renewal-hooks"
    script(hooks_dir / "pre" / "01 first", f'echo "pre-dir-1" >> "{log}"\n')
    script(hooks_dir / "pre" / "02-second", f'echo "pre-dir-2" >> "{log}"\n')
    (hooks_dir / "pre" / "03-off").write_text(f'#!/bin/sh\necho off >> "{log}"\n')  # not +x
    script(
        hooks_dir / "deploy" / "deploy.sh",
        f'printf "%s|%s\\n" "$RENEWED_LINEAGE" "$RENEWED_DOMAINS" >> "{out}/dir-deploy"\n',
    )
    hooks = HookRunner(config_dir=cfg, base_env=ENV, timeout=10)
    pre = f'echo "pre-flag" >> "{log}"'
    post = f'echo "post $RENEWED_DOMAINS|$FAILED_DOMAINS" >> "{log}"'
    deploy = f'env > "{out}/env-$(basename "$RENEWED_LINEAGE")"'

    hooks.before_renewal(pre_hook=pre, post_hook=post)
    hooks.deploy(
        lineage_dir=cfg / "live" / "a.test", domains=["a.test", "b.test"], deploy_hook=deploy
    )
    hooks.before_renewal(pre_hook=pre, post_hook=post)
    hooks.record_failure(["c.test"])
    hooks.before_renewal(pre_hook=pre, post_hook=post)
    hooks.deploy(lineage_dir=cfg / "live" / "d.test", domains=["d.test"], deploy_hook=deploy)
    hooks.finish()

    assert log.read_text().splitlines() == [
        "pre-dir-1",
        "pre-dir-2",
        "pre-flag",
        "post a.test b.test d.test|c.test",
    ]
    env_a = dict(
        line.split("=", 1) for line in (out / "env-a.test").read_text().splitlines() if "=" in line
    )
    assert env_a["RENEWED_LINEAGE"] == str(cfg / "live" / "a.test")
    assert env_a["RENEWED_DOMAINS"] == "a.test b.test"
    assert (out / "env-d.test").exists()
    assert (out / "dir-deploy").read_text().splitlines() == [
        f"{cfg}/live/a.test|a.test b.test",
        f"{cfg}/live/d.test|d.test",
    ]
    assert hooks.failures == ()


def test_exit_code_and_output_are_captured_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    hooks = HookRunner(base_env=ENV, timeout=10)
    with caplog.at_level(logging.INFO):
        (res,) = hooks.before_renewal(pre_hook="echo to-out; echo to-err >&2; exit 4")
    assert res.outcome.returncode == 4 and not res.ok
    assert res.outcome.stdout == "to-out\n" and res.outcome.stderr == "to-err\n"
    assert "reported error code 4" in caplog.text
    assert "ran with output:\n to-out" in caplog.text
    assert "ran with error output:\n to-err" in caplog.text


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    # the shell forks `sleep`, which keeps the output pipe open unless it is killed too
    command = f'sleep 30 & echo $! > "{pidfile}"; wait; echo never'
    began = time.monotonic()
    outcome = run_shell(command, env=ENV, timeout=0.5)
    elapsed = time.monotonic() - began
    assert outcome.timed_out and "never" not in outcome.stdout
    assert elapsed < 5
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.02)
    assert not _alive(child)


def test_timeout_is_reported_as_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    hooks = HookRunner(base_env=ENV, timeout=0.3)
    with caplog.at_level(logging.ERROR):
        (res,) = hooks.deploy(lineage_dir="/l", domains=["a"], deploy_hook="sleep 20")
    assert res.outcome.timed_out and not res.ok
    assert "timed out and was killed" in caplog.text
    assert hooks.failures == (res,)


def test_hooks_get_no_stdin() -> None:
    outcome = run_shell("cat; echo done", env=ENV, timeout=5)
    assert outcome.returncode == 0 and outcome.stdout == "done\n"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead


def test_endless_hook_output_is_capped_and_the_rest_dropped() -> None:
    # 40 MB on stdout and on stderr: kept at OUTPUT_LIMIT each, the hook still runs to its end.
    command = "head -c 40000000 /dev/zero; head -c 40000000 /dev/zero >&2; echo end >&2; exit 3"
    outcome = run_shell(command, env=ENV, timeout=30)
    assert outcome.returncode == 3 and not outcome.timed_out
    assert len(outcome.stdout) < OUTPUT_LIMIT + 100 and len(outcome.stderr) < OUTPUT_LIMIT + 100
    assert f"[{40_000_000 - OUTPUT_LIMIT} more bytes of output dropped]" in outcome.stdout


def test_a_background_child_holding_the_output_open_is_stopped_at_the_timeout(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    outcome = run_shell("echo started; sleep 30 &", env=ENV, timeout=0.5)
    assert outcome.timed_out and outcome.stdout == "started\n"
    assert time.monotonic() - began < 5
