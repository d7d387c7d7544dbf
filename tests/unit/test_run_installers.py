"""renewal.install.RunInstallers: options handed to installers, one reload per run, and no
deploy while another order's web-server challenge is published."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.renewal.install import RunInstallers
from certsmith.renewal.settings import LineageSettings


class FakeSolver:
    challenge_type = "http-01"

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def present(self, task: ChallengeTask) -> None:
        self.log.append(f"present {task.token}")
        await asyncio.sleep(0.01)

    async def settle(self, tasks: list[ChallengeTask]) -> None:
        await asyncio.sleep(0.01)

    async def cleanup(self, task: ChallengeTask) -> None:
        await asyncio.sleep(0.01)
        self.log.append(f"cleanup {task.token}")


class FakeInstaller:
    name = "nginx"

    def __init__(self, options: Mapping[str, str]) -> None:
        self.options = dict(options)
        self.log: list[str] = []
        self.reloads = 0

    def http01_solver(self) -> FakeSolver:
        return FakeSolver(self.log)

    def deploy(self, lineage: str, domains: Sequence[str], live: Mapping[str, Path]) -> None:
        self.log.append(f"deploy {lineage}")

    def enhance(self, domains: Sequence[str], enhancements: Sequence[str]) -> None:
        self.log.append(f"enhance {','.join(enhancements)}")

    def reload(self) -> None:
        self.reloads += 1


def _installers(tmp_path: Path) -> tuple[RunInstallers, dict[str, FakeInstaller]]:
    made: dict[str, FakeInstaller] = {}

    def factory(name: str, options: Mapping[str, str]) -> FakeInstaller:
        made[name] = FakeInstaller(options)
        return made[name]

    return RunInstallers(factory, tmp_path), made


def _task(token: str) -> ChallengeTask:
    return ChallengeTask(Identifier.dns("a.example"), "http-01", token, token + ".k")


NGINX = LineageSettings(
    authenticator="nginx", installer="nginx", http01_port=8080, extra={"nginx_ctl": "x"}
)


async def test_installer_gets_the_config_dir_the_http_port_and_its_stored_options(
    tmp_path: Path,
) -> None:
    installers, made = _installers(tmp_path)
    await installers.deploy(NGINX, "a", ["a.example"], {})
    assert made["nginx"].options == {
        "nginx_ctl": "x",
        "config_dir": str(tmp_path),
        "http01_port": "8080",
    }


async def test_no_installer_and_the_null_installer_deploy_nothing(tmp_path: Path) -> None:
    installers, made = _installers(tmp_path)
    assert not await installers.deploy(LineageSettings(), "a", ["a.example"], {})
    assert not await installers.deploy(LineageSettings(installer="null"), "a", ["a"], {})
    assert made == {}


async def test_each_server_reloads_once_however_many_lineages_were_deployed(
    tmp_path: Path,
) -> None:
    installers, made = _installers(tmp_path)
    for name in ("a", "b", "c"):
        await installers.deploy(NGINX, name, [f"{name}.example"], {}, ["redirect"])
    assert await installers.reload_all() == []
    assert made["nginx"].reloads == 1
    assert made["nginx"].log.count("enhance redirect") == 3


async def test_a_deploy_waits_until_another_orders_challenges_are_cleaned_up(
    tmp_path: Path,
) -> None:
    installers, made = _installers(tmp_path)
    solver = installers.web_server_solver(NGINX)

    async def order() -> None:
        for token in ("t1", "t2"):
            await solver.present(_task(token))
        await solver.settle([_task("t1"), _task("t2")])
        for token in ("t1", "t2"):
            await solver.cleanup(_task(token))

    async def deploy_soon() -> None:
        await asyncio.sleep(0.005)  # while the order's challenges are published
        await installers.deploy(NGINX, "other", ["other.example"], {})

    await asyncio.gather(order(), deploy_soon())
    log = made["nginx"].log
    assert log.index("deploy other") > log.index("cleanup t2"), log


async def test_a_failed_present_frees_the_server_for_the_next_edit(tmp_path: Path) -> None:
    installers, made = _installers(tmp_path)
    solver = installers.web_server_solver(NGINX)

    async def broken(task: ChallengeTask) -> None:
        raise RuntimeError("nginx -t failed")

    solver._inner.present = broken  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        await solver.present(_task("t1"))
    await solver.cleanup(_task("t1"))  # issuance cleans up what it tried to present
    await asyncio.wait_for(installers.deploy(NGINX, "a", ["a.example"], {}), timeout=1)
    assert "deploy a" in made["nginx"].log
