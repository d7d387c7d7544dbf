"""HookRunner with a recording command runner: once-only, order, environment, failures, threads."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from certsmith.errors import UsageError
from certsmith.renewal.hooks import (
    CommandOutcome,
    HookKind,
    HookRunner,
    list_hook_dir,
    validate_hook,
)


class Recorder:
    """A CommandRunner that records calls; some commands fail, some are slow."""

    def __init__(self, *, fail: Mapping[str, int] | None = None, delay: float = 0.0) -> None:
        self.fail = dict(fail or {})
        self.delay = delay
        self.calls: list[tuple[str, dict[str, str], float]] = []
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def __call__(self, command: str, *, env: Mapping[str, str], timeout: float) -> CommandOutcome:
        with self.lock:
            self.calls.append((command, dict(env), timeout))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            if self.delay:
                time.sleep(self.delay)
            return CommandOutcome(self.fail.get(command, 0), f"ran {command}\n", "")
        finally:
            with self.lock:
                self.running -= 1

    def commands(self) -> list[str]:
        return [c for c, _, _ in self.calls]

    def env_of(self, command: str) -> list[dict[str, str]]:
        return [e for c, e, _ in self.calls if c == command]


def make_hook(config_dir: Path, kind: str, name: str, *, executable: bool = True) -> Path:
    folder = config_dir / "renewal-hooks" / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755 if executable else 0o644)
    return path


def deploy_from_threads(hooks: HookRunner, count: int, *, deploy_hook: str) -> None:
    """``hooks.deploy`` for lineages /l0 .. /l<count-1> (domain "x"), one thread each, at once."""
    threads = [
        threading.Thread(
            target=hooks.deploy,
            kwargs={"lineage_dir": f"/l{n}", "domains": ["x"], "deploy_hook": deploy_hook},
        )
        for n in range(count)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)


def test_pre_once_post_once_in_order(tmp_path: Path) -> None:
    pre_dir = make_hook(tmp_path, "pre", "10-stop")
    post_dir = make_hook(tmp_path, "post", "10-start")
    rec = Recorder()
    hooks = HookRunner(config_dir=tmp_path, runner=rec, base_env={"PATH": "/bin"}, timeout=7)
    first = hooks.before_renewal(pre_hook="stop-nginx", post_hook="start-nginx")
    hooks.before_renewal(pre_hook="stop-nginx", post_hook="start-nginx")  # same commands
    hooks.before_renewal(pre_hook="stop-apache", post_hook="start-nginx")  # one new pre hook
    assert [r.command for r in first] == [str(pre_dir), "stop-nginx"]
    assert rec.commands() == [shlex.quote(str(pre_dir)), "stop-nginx", "stop-apache"]
    hooks.deploy(lineage_dir="/etc/le/live/a", domains=["a.example"])
    post = hooks.finish()
    assert [r.command for r in post] == [str(post_dir), "start-nginx"]
    assert rec.commands()[-2:] == [shlex.quote(str(post_dir)), "start-nginx"]
    assert all(t == 7 for _, _, t in rec.calls)
    assert hooks.finish() == []  # once only
    with pytest.raises(RuntimeError):
        hooks.before_renewal()


def test_no_renewal_attempted_runs_no_hooks(tmp_path: Path) -> None:
    make_hook(tmp_path, "pre", "x")
    make_hook(tmp_path, "post", "y")
    rec = Recorder()
    hooks = HookRunner(config_dir=tmp_path, runner=rec)
    assert hooks.finish() == []
    assert rec.calls == []


def test_deploy_env_and_dir_hooks_first_without_duplicates(tmp_path: Path) -> None:
    d1 = make_hook(tmp_path, "deploy", "01-reload")
    d2 = make_hook(tmp_path, "deploy", "02-copy")
    rec = Recorder()
    hooks = HookRunner(config_dir=tmp_path, runner=rec, base_env={"KEEP": "1"})
    results = hooks.deploy(
        lineage_dir=tmp_path / "live" / "example.com",
        domains=["example.com", "www.example.com"],
        deploy_hook=str(d2),  # names a folder hook: must not run twice
    )
    assert [r.command for r in results] == [str(d1), str(d2)]
    assert all(r.kind is HookKind.DEPLOY and r.ok for r in results)
    for _, env, _ in rec.calls:
        assert env["RENEWED_LINEAGE"] == str(tmp_path / "live" / "example.com")
        assert env["RENEWED_DOMAINS"] == "example.com www.example.com"
        assert env["KEEP"] == "1"
        assert "FAILED_DOMAINS" not in env


def test_post_hook_gets_renewed_and_failed_domains_across_the_run() -> None:
    rec = Recorder()
    hooks = HookRunner(runner=rec, base_env={})
    hooks.before_renewal(post_hook="post")
    hooks.deploy(lineage_dir="/l/a", domains=["a.test", "www.a.test"], deploy_hook="dep")
    hooks.before_renewal(post_hook="post")
    hooks.record_failure(["b.test"])
    hooks.before_renewal(post_hook="post")
    hooks.deploy(lineage_dir="/l/c", domains=["c.test"], deploy_hook="dep")
    hooks.finish()
    (env,) = rec.env_of("post")
    assert env["RENEWED_DOMAINS"] == "a.test www.a.test c.test"
    assert env["FAILED_DOMAINS"] == "b.test"
    assert [e["RENEWED_LINEAGE"] for e in rec.env_of("dep")] == ["/l/a", "/l/c"]
    assert "RENEWED_LINEAGE" not in env


def test_post_env_is_limited_to_16k_each(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    hooks = HookRunner(runner=rec, base_env={})
    hooks.before_renewal(post_hook="post")
    hooks.record_failure([f"n{i:05d}.example" for i in range(3000)])
    with caplog.at_level(logging.WARNING):
        hooks.finish()
    (env,) = rec.env_of("post")
    assert len(env["FAILED_DOMAINS"]) == 16_000 and env["RENEWED_DOMAINS"] == ""
    assert "Limiting FAILED_DOMAINS" in caplog.text


def test_pre_hook_failure_is_reported_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder(fail={"stop": 3})
    hooks = HookRunner(runner=rec, base_env={})
    with caplog.at_level(logging.INFO):
        (result,) = hooks.before_renewal(pre_hook="stop", post_hook="start")
        assert hooks.before_renewal(pre_hook="stop") == []  # not retried in this run
    assert not result.ok and result.outcome.returncode == 3
    assert "Hook 'pre-hook' reported error code 3" in caplog.text
    assert "Pre-hook command already run, skipping: stop" in caplog.text
    assert "ran stop" in caplog.text  # stdout logged
    hooks.deploy(lineage_dir="/l/a", domains=["a"])
    assert [r.command for r in hooks.finish()] == ["start"]
    assert [r.command for r in hooks.failures] == ["stop"]


def test_deploy_failure_does_not_stop_other_lineages() -> None:
    rec = Recorder(fail={"deploy-a": 1})
    hooks = HookRunner(runner=rec, base_env={})
    bad = hooks.deploy(lineage_dir="/l/a", domains=["a"], deploy_hook="deploy-a")
    good = hooks.deploy(lineage_dir="/l/b", domains=["b"], deploy_hook="deploy-b")
    assert not bad[0].ok and good[0].ok
    assert [(r.command, r.lineage) for r in hooks.failures] == [("deploy-a", "/l/a")]


def test_a_raising_runner_becomes_a_failed_result() -> None:
    def broken(command: str, *, env: Mapping[str, str], timeout: float) -> CommandOutcome:
        raise OSError("no shell here")

    hooks = HookRunner(runner=broken, base_env={})
    (result,) = hooks.before_renewal(pre_hook="x")
    assert not result.ok and result.outcome.error == "no shell here"


def test_dry_run_skips_deploy_hooks_unless_asked(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    with caplog.at_level(logging.INFO):
        skipped = HookRunner(runner=rec, dry_run=True).deploy(
            lineage_dir="/l", domains=["a"], deploy_hook="dep"
        )
    assert skipped == [] and rec.calls == []
    assert "Dry run: skipping deploy hook command: dep" in caplog.text
    HookRunner(runner=rec, dry_run=True, run_deploy_hooks=True).deploy(
        lineage_dir="/l", domains=["a"], deploy_hook="dep"
    )
    assert rec.commands() == ["dep"]


def test_directory_hooks_can_be_disabled(tmp_path: Path) -> None:
    make_hook(tmp_path, "pre", "x")
    rec = Recorder()
    HookRunner(config_dir=tmp_path, directory_hooks=False, runner=rec).before_renewal(pre_hook="p")
    assert rec.commands() == ["p"]


def test_list_hook_dir_sorted_executables_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    b = make_hook(tmp_path, "pre", "b")
    a = make_hook(tmp_path, "pre", "a")
    make_hook(tmp_path, "pre", "c.disabled", executable=False)
    make_hook(tmp_path, "pre", "a~")
    (tmp_path / "renewal-hooks" / "pre" / "sub").mkdir()
    with caplog.at_level(logging.INFO):
        found = list_hook_dir(tmp_path / "renewal-hooks" / "pre")
    assert found == [a, b]
    assert "c.disabled: not executable" in caplog.text
    assert list_hook_dir(tmp_path / "nope") == []


# -- concurrency ---------------------------------------------------------------------------------


def test_parallel_renewals_pre_once_deploys_all_with_their_env() -> None:
    rec = Recorder(delay=0.002)
    slow_pre_done = threading.Event()

    def runner(command: str, *, env: Mapping[str, str], timeout: float) -> CommandOutcome:
        if command == "pre":
            time.sleep(0.1)
            slow_pre_done.set()
        return rec(command, env=env, timeout=timeout)

    hooks = HookRunner(runner=runner, base_env={})
    started_early: list[int] = []
    start = threading.Barrier(48)

    def lineage(n: int) -> None:
        start.wait(timeout=5)
        hooks.before_renewal(pre_hook="pre", post_hook="post")
        if not slow_pre_done.is_set():
            started_early.append(n)  # renewal would start while the pre hook still runs
        if n % 5 == 0:
            hooks.record_failure([f"f{n}.test"])
        else:
            hooks.deploy(lineage_dir=f"/live/l{n}", domains=[f"l{n}.test"], deploy_hook="dep")

    threads = [threading.Thread(target=lineage, args=(n,)) for n in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    hooks.finish()
    assert started_early == []
    assert rec.commands().count("pre") == 1 and rec.commands().count("post") == 1
    deploy_envs = rec.env_of("dep")
    assert len(deploy_envs) == 48 - 10
    assert all(e["RENEWED_LINEAGE"] == f"/live/{e['RENEWED_DOMAINS'][:-5]}" for e in deploy_envs)
    (post_env,) = rec.env_of("post")
    assert sorted(post_env["FAILED_DOMAINS"].split()) == sorted(
        f"f{n}.test" for n in range(0, 48, 5)
    )
    assert len(post_env["RENEWED_DOMAINS"].split()) == 38
    assert rec.max_running == 1  # deploy hooks are serialised by default
    assert len(hooks.results) == 40


def test_parallel_deploy_lets_hooks_overlap() -> None:
    rec = Recorder(delay=0.05)
    hooks = HookRunner(runner=rec, base_env={}, parallel_deploy=True)
    deploy_from_threads(hooks, 8, deploy_hook="d")
    assert len(rec.calls) == 8 and rec.max_running > 1


async def test_asyncio_renewals_share_one_runner() -> None:
    rec = Recorder(delay=0.005)
    hooks = HookRunner(runner=rec, base_env={})

    async def lineage(n: int) -> None:
        await hooks.before_renewal_async(pre_hook="pre", post_hook="post")
        await asyncio.sleep(0)
        await hooks.deploy_async(lineage_dir=f"/l/{n}", domains=[f"d{n}"], deploy_hook="dep")

    await asyncio.gather(*(lineage(n) for n in range(20)))
    post = await hooks.finish_async()
    assert rec.commands().count("pre") == 1 and len(post) == 1
    assert sorted(e["RENEWED_LINEAGE"] for e in rec.env_of("dep")) == sorted(
        f"/l/{n}" for n in range(20)
    )


# -- validation ----------------------------------------------------------------------------------


def test_validate_hook(tmp_path: Path) -> None:
    validate_hook(None, "pre")
    validate_hook("sh -c 'exit 0'", HookKind.PRE)
    script = tmp_path / "not-exec.sh"
    script.write_text("echo\n")
    with pytest.raises(UsageError, match="exists, but is not executable"):
        validate_hook(f"{script} --flag", "deploy")
    with pytest.raises(UsageError, match="Unable to find post-hook command"):
        validate_hook("certsmith-no-such-program-xyz arg", "post")
    script.chmod(0o755)
    validate_hook(str(script), "deploy")
    assert os.access(script, os.X_OK)


def test_one_lineages_deploy_hooks_are_not_interleaved_with_anothers(tmp_path: Path) -> None:
    make_hook(tmp_path, "deploy", "01-a")
    make_hook(tmp_path, "deploy", "02-b")
    rec = Recorder(delay=0.003)
    hooks = HookRunner(config_dir=tmp_path, runner=rec, base_env={})
    deploy_from_threads(hooks, 6, deploy_hook="user")
    lineages = [e["RENEWED_LINEAGE"] for _, e, _ in rec.calls]
    assert len(lineages) == 18
    blocks = [lineages[i : i + 3] for i in range(0, 18, 3)]
    assert all(len(set(b)) == 1 for b in blocks), lineages
    assert sorted(b[0] for b in blocks) == sorted(f"/l{n}" for n in range(6))
