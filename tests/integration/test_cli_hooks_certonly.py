"""Hooks of `certsmith certonly` and of dry runs against Pebble, as certbot 5.8 runs them.

certbot's `certonly` runs the pre hooks (folder hooks, then --pre-hook) before it asks for the
certificate and the post hooks (with RENEWED_DOMAINS and an empty FAILED_DOMAINS) afterwards, even
when the request failed; deploy hooks run after a new lineage is saved. In a dry run deploy hooks
are skipped unless --run-deploy-hooks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_e2e import STANDALONE_IP, Cli, cli, unique_name

pytestmark = pytest.mark.pebble

__all__ = ["cli"]  # the fixture, imported so pytest finds it here

RECORD = 'echo "{kind} lineage=${{RENEWED_LINEAGE-unset}} renewed=${{RENEWED_DOMAINS-unset}} failed=${{FAILED_DOMAINS-unset}}" >> {log}'  # noqa: E501


def _hooks(log: Path) -> tuple[str, ...]:
    return (
        "--pre-hook", RECORD.format(kind="pre", log=log),
        "--post-hook", RECORD.format(kind="post", log=log),
        "--deploy-hook", RECORD.format(kind="deploy", log=log),
    )  # fmt: skip


def _folder_hook(cli: Cli, kind: str, log: Path) -> None:
    folder = cli.config_dir / "renewal-hooks" / kind
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "record.sh"
    script.write_text(f"#!/bin/sh\necho folder-{kind} >> {log}\n")
    script.chmod(0o755)


def test_certonly_runs_pre_deploy_and_post_hooks_in_order(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    for kind in ("pre", "deploy", "post"):
        _folder_hook(cli, kind, log)
    name = unique_name("hooks")
    cli.certonly(name, extra=_hooks(log))
    live = cli.config_dir / "live" / name
    assert log.read_text().splitlines() == [
        "folder-pre",
        "pre lineage=unset renewed=unset failed=unset",
        "folder-deploy",
        f"deploy lineage={live} renewed={name} failed=unset",
        "folder-post",
        f"post lineage=unset renewed={name} failed=",
    ]


def test_certonly_runs_post_hook_after_a_failure(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    name = unique_name("fails")
    cli.ca.add_a(name, ["127.0.0.9"])  # nothing answers there: validation fails
    result = cli.run(*cli.standalone(name, extra=_hooks(log)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert log.read_text().splitlines() == [
        "pre lineage=unset renewed=unset failed=unset",
        "post lineage=unset renewed= failed=",
    ]


def test_certonly_not_due_runs_no_hook(cli: Cli, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    name = unique_name("keep")
    cli.certonly(name)
    result = cli.run(*cli.standalone(name, extra=("--keep-until-expiring", *_hooks(log))))
    assert result.returncode == 0, result.stderr
    assert "no action taken" in result.stdout
    assert not log.exists()


@pytest.mark.parametrize("run_deploy_hooks", [False, True])
def test_dry_run_deploy_hooks_only_with_run_deploy_hooks(
    cli: Cli, tmp_path: Path, run_deploy_hooks: bool
) -> None:
    log = tmp_path / "hooks.log"
    name = unique_name("dry")
    cli.certonly(name)
    extra = ("--run-deploy-hooks",) if run_deploy_hooks else ()
    live = cli.config_dir / "live" / name

    result = cli.run(*cli.standalone(name, extra=("--dry-run", *extra, *_hooks(log))))
    assert result.returncode == 0, result.stderr
    deploy = f"deploy lineage={live} renewed={name} failed=unset"
    lines = log.read_text().splitlines()
    assert lines[0].startswith("pre ") and lines[-1].startswith("post ")
    assert (deploy in lines) is run_deploy_hooks
    log.unlink()

    result = cli.run("renew", "--no-random-sleep-on-renew", "--dry-run", *extra, *_hooks(log))
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    assert lines[0].startswith("pre ") and lines[-1].startswith("post ")
    assert (deploy in lines) is run_deploy_hooks


def test_a_failing_deploy_hook_warns_but_certonly_exits_0_as_certbot(cli: Cli) -> None:
    name = unique_name("hookfail")
    cli.ca.add_a(name, [STANDALONE_IP])
    result = cli.run(*cli.standalone(name, extra=("--deploy-hook", "false")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning: the deploy hook `false` failed (exit code 1)" in result.stderr
    assert (cli.config_dir / "live" / name / "fullchain.pem").is_file()
