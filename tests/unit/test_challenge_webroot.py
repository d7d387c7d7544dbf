"""The webroot solver: file and directory modes, cleanup, confinement."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.webroot import WebrootSolver
from certsmith.errors import SolverError

TOKEN = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
KEY_AUTH = f"{TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


def task(name: str = "example.com", token: str = TOKEN) -> ChallengeTask:
    return ChallengeTask(Identifier.dns(name), "http-01", token, f"{token}.thumb")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def restore_umask() -> Iterator[None]:
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


@pytest.mark.parametrize("mask", [0o077, 0o000, 0o022])
@pytest.mark.usefixtures("restore_umask")
async def test_modes_under_any_umask(tmp_path: Path, mask: int) -> None:
    os.umask(mask)
    solver = WebrootSolver({"example.com": tmp_path})
    await solver.present(ChallengeTask(Identifier.dns("example.com"), "http-01", TOKEN, KEY_AUTH))
    challenge_file = tmp_path / ".well-known" / "acme-challenge" / TOKEN
    assert challenge_file.read_text() == KEY_AUTH
    assert mode(challenge_file) == 0o644
    assert mode(tmp_path / ".well-known") == 0o755
    assert mode(tmp_path / ".well-known" / "acme-challenge") == 0o755


async def test_cleanup_removes_file_and_created_dirs(tmp_path: Path) -> None:
    solver = WebrootSolver({"example.com": tmp_path})
    other = "B" * 43
    await solver.present(task())
    await solver.present(task(token=other))
    await solver.cleanup(task())
    challenge_dir = tmp_path / ".well-known" / "acme-challenge"
    assert not (challenge_dir / TOKEN).exists()
    assert (challenge_dir / other).exists()  # still in use: directories stay
    await solver.cleanup(task(token=other))
    assert list(tmp_path.iterdir()) == []
    await solver.cleanup(task())  # twice is harmless


async def test_existing_dirs_and_foreign_files_are_kept(tmp_path: Path) -> None:
    challenge_dir = tmp_path / ".well-known" / "acme-challenge"
    challenge_dir.mkdir(parents=True, mode=0o750)
    (tmp_path / ".well-known" / "security.txt").write_text("x")
    solver = WebrootSolver(default_webroot=tmp_path)
    await solver.present(task())
    await solver.cleanup(task())
    assert challenge_dir.is_dir()
    assert mode(challenge_dir) == 0o750  # not ours: mode untouched
    assert (tmp_path / ".well-known" / "security.txt").exists()


async def test_created_dir_with_foreign_content_is_left(tmp_path: Path) -> None:
    solver = WebrootSolver({"example.com": tmp_path})
    await solver.present(task())
    (tmp_path / ".well-known" / "acme-challenge" / "someone-elses").write_text("x")
    await solver.cleanup(task())
    assert (tmp_path / ".well-known" / "acme-challenge" / "someone-elses").exists()
    assert not (tmp_path / ".well-known" / "acme-challenge" / TOKEN).exists()


async def test_per_domain_webroots(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    solver = WebrootSolver({"a.example": first, "B.Example.": second})
    await solver.present(task("a.example"))
    await solver.present(task("b.example", token="C" * 43))
    assert (first / ".well-known/acme-challenge" / TOKEN).exists()
    assert (second / ".well-known/acme-challenge" / ("C" * 43)).exists()
    assert not (first / ".well-known/acme-challenge" / ("C" * 43)).exists()
    with pytest.raises(SolverError, match="no webroot"):
        await solver.present(task("c.example"))


@pytest.mark.parametrize(
    "token", ["../../evil", "..", "a/b", "a\\b", ".", "", "x" * 300, "tok%2e", "tök"]
)
async def test_hostile_tokens_are_refused(tmp_path: Path, token: str) -> None:
    solver = WebrootSolver({"example.com": tmp_path / "root"})
    (tmp_path / "root").mkdir()
    with pytest.raises(SolverError, match="unsafe"):
        await solver.present(ChallengeTask(Identifier.dns("example.com"), "http-01", token, "k"))
    assert list((tmp_path / "root").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]


async def test_symlinked_well_known_escaping_webroot_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / ".well-known").symlink_to(outside)
    solver = WebrootSolver({"example.com": root})
    with pytest.raises(SolverError, match="outside the webroot"):
        await solver.present(task())
    assert list(outside.iterdir()) == []


async def test_symlinked_acme_challenge_escaping_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / ".well-known").mkdir(parents=True)
    outside.mkdir()
    (root / ".well-known" / "acme-challenge").symlink_to(outside)
    solver = WebrootSolver({"example.com": root})
    with pytest.raises(SolverError, match="outside the webroot"):
        await solver.present(task())
    assert list(outside.iterdir()) == []


async def test_dangling_symlink_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / ".well-known").symlink_to(tmp_path / "nowhere")
    solver = WebrootSolver({"example.com": root})
    with pytest.raises(SolverError):
        await solver.present(task())
    assert not (tmp_path / "nowhere").exists()


async def test_symlink_inside_webroot_is_allowed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "shared").mkdir(parents=True)
    (root / ".well-known").symlink_to(root / "shared")
    solver = WebrootSolver({"example.com": root})
    await solver.present(task())
    assert (root / "shared" / "acme-challenge" / TOKEN).read_text() == f"{TOKEN}.thumb"


async def test_symlink_at_token_name_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    challenge_dir = root / ".well-known" / "acme-challenge"
    challenge_dir.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (challenge_dir / TOKEN).symlink_to(victim)
    solver = WebrootSolver({"example.com": root})
    with pytest.raises(SolverError):
        await solver.present(task())
    assert victim.read_text() == "precious"


async def test_missing_webroot_and_wildcard(tmp_path: Path) -> None:
    solver = WebrootSolver({"example.com": tmp_path / "missing", "*.example.com": tmp_path})
    with pytest.raises(SolverError, match="not a directory"):
        await solver.present(task())
    with pytest.raises(SolverError, match="wildcard"):
        await solver.present(task("*.example.com"))


async def test_present_is_idempotent_and_overwrites(tmp_path: Path) -> None:
    solver = WebrootSolver(default_webroot=tmp_path)
    await solver.present(task())
    await solver.present(task())
    assert (tmp_path / ".well-known/acme-challenge" / TOKEN).read_text() == f"{TOKEN}.thumb"
    await solver.cleanup(task())
    assert list(tmp_path.iterdir()) == []


async def test_planted_hard_link_at_token_name_is_neither_truncated_nor_chmodded(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    challenge_dir = root / ".well-known" / "acme-challenge"
    challenge_dir.mkdir(parents=True)
    victim = tmp_path / "shadow"
    victim.write_text("precious")
    victim.chmod(0o600)
    os.link(victim, challenge_dir / TOKEN)
    solver = WebrootSolver({"example.com": root})
    with pytest.raises(SolverError, match="something else has its name"):
        await solver.present(task())
    assert victim.read_text() == "precious" and mode(victim) == 0o600
    await solver.cleanup(task())
    assert (challenge_dir / TOKEN).samefile(victim)  # not ours: left in place
