"""The webroot solver when the web server's user rearranges the webroot between our steps."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges import webroot
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.webroot import WebrootSolver
from certsmith.errors import SolverError

TOKEN = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"


def task(token: str = TOKEN) -> ChallengeTask:
    return ChallengeTask(Identifier.dns("example.com"), "http-01", token, f"{token}.thumb")


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    (outside / "acme-challenge").mkdir(parents=True)
    (outside / "acme-challenge" / TOKEN).write_text("not ours")
    return root, outside


async def test_cleanup_does_not_follow_a_well_known_swapped_for_a_symlink(
    layout: tuple[Path, Path],
) -> None:
    root, outside = layout
    solver = WebrootSolver(default_webroot=root)
    await solver.present(task())
    shutil.rmtree(root / ".well-known")
    (root / ".well-known").symlink_to(outside)
    await solver.cleanup(task())
    assert (outside / "acme-challenge" / TOKEN).read_text() == "not ours"
    assert (outside / "acme-challenge").is_dir()


async def test_cleanup_does_not_rmdir_outside_after_a_swap(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    (outside / "acme-challenge").mkdir(parents=True)  # empty: rmdir would succeed
    solver = WebrootSolver(default_webroot=root)
    await solver.present(task())
    shutil.rmtree(root / ".well-known")
    (root / ".well-known").symlink_to(outside)
    await solver.cleanup(task())
    assert (outside / "acme-challenge").is_dir()
    assert (root / ".well-known").is_symlink()  # not ours any more: left alone


async def test_cleanup_leaves_a_file_that_replaced_ours(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    solver = WebrootSolver(default_webroot=root)
    await solver.present(task())
    path = root / ".well-known" / "acme-challenge" / TOKEN
    path.unlink()
    victim = tmp_path / "victim"
    victim.write_text("precious")
    path.symlink_to(victim)  # a symlink at our name: removing the link is harmless
    await solver.cleanup(task())
    assert victim.read_text() == "precious"


async def test_directory_swapped_between_check_and_open_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``.well-known`` becomes a symlink out of the webroot right after it was created."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    (outside / "acme-challenge").mkdir(parents=True)
    real_mkdir = os.mkdir
    swapped = []

    def mkdir_then_swap(path: object, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        real_mkdir(path, mode, dir_fd=dir_fd)  # type: ignore[arg-type]
        if str(path).endswith(".well-known") and not swapped:
            swapped.append(True)
            os.rename(root / ".well-known", tmp_path / "moved")
            (root / ".well-known").symlink_to(outside)

    monkeypatch.setattr(webroot.os, "mkdir", mkdir_then_swap)
    solver = WebrootSolver(default_webroot=root)
    with pytest.raises(SolverError):
        await solver.present(task())
    monkeypatch.undo()
    assert swapped
    assert list((outside / "acme-challenge").iterdir()) == []
