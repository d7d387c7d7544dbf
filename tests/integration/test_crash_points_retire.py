"""Crash points of `revoke` and `delete` (tests/support/crash_points.py, RETIRE_POINTS).

``revoke`` killed after the CA revoked the certificate and before certsmith wrote that down:
the next plain ``renew`` replaces the revoked certificate, and until then ``certificates``
does not call it valid. ``delete`` killed midway through the removal (after the conf, after
live/NAME/cert.pem, after the first archive file): the lineage is gone after the next command
(``delete`` again, or ``renew``), no file of it is left under live/ or archive/, and certbot
5.8.0 still lists the tree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_cli_e2e import Cli
from test_crash_kill import RUN_TIMEOUT, check_lineage
from test_crash_points import (
    KILLED,
    Wrapped,
    check_conf,
    cli,
    lineage,
    listed,
    served_serial,
    wrapped,
)

from support.crash_points import RETIRE_POINTS

pytestmark = pytest.mark.pebble

__all__ = ["cli", "lineage", "wrapped"]  # fixtures, imported for pytest

CERTBOT = Path(__file__).resolve().parents[2] / ".venv-certbot" / "bin" / "certbot"
DELETE_POINTS = [p for p in RETIRE_POINTS if p.startswith("delete-")]


def certbot_lists(config_dir: Path, work: Path) -> str:
    """`certbot certificates` on the tree; asserts it exits 0."""
    result = subprocess.run(
        [str(CERTBOT), "certificates", "--config-dir", str(config_dir),
         "--work-dir", str(work / "work"), "--logs-dir", str(work / "logs")],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def lineage_files(config_dir: Path, name: str) -> list[str]:
    found = [config_dir / "renewal" / f"{name}.conf", config_dir / "live" / name]
    found.append(config_dir / "archive" / name)
    return [str(p) for p in found if p.exists() or p.is_symlink()]


def test_revoke_killed_after_the_ca_revoked_is_replaced_by_the_next_renew(
    cli: Cli, wrapped: Wrapped, lineage: str
) -> None:
    config, name = cli.config_dir, lineage
    before = served_serial(config, name)
    killed = wrapped.run(
        "revoke", "--cert-name", name, "--no-delete-after-revoke", crash_at="revoke-ca-revoked"
    )
    assert killed.returncode == KILLED, f"never reached:\n{killed.output}"
    assert listed(wrapped)[name] != "valid", "a revoked certificate is listed as valid"

    renewed = wrapped.run("renew", "--no-random-sleep-on-renew")
    assert renewed.finished and renewed.returncode == 0, renewed.output
    assert wrapped.orders() == 1, "the revoked certificate was not replaced"
    assert served_serial(config, name) != before
    assert check_lineage(config, name) == 2
    check_conf(config, name)
    assert listed(wrapped) == {name: "valid"}


# Each point once, each with another next command (a person's delete, the timer's renew, a
# person's certonly of the same name): the time of six runs is not spent on three.
@pytest.mark.parametrize(
    ("point", "then"),
    [("delete-conf-removed", "delete"), ("delete-live-midway", "renew"),
     ("delete-archive-midway", "certonly")],
)  # fmt: skip
def test_delete_killed_midway_is_finished_by_the_next_command(
    cli: Cli, wrapped: Wrapped, lineage: str, tmp_path: Path, point: str, then: str
) -> None:
    config, name = cli.config_dir, lineage
    assert point in DELETE_POINTS
    killed = wrapped.run("delete", "--cert-name", name, crash_at=point)
    assert killed.returncode == KILLED, f"{point} was never reached:\n{killed.output}"
    assert listed(wrapped) == {}  # the conf goes first: never listed half-deleted
    certbot_lists(config, tmp_path / "certbot")

    if then == "delete":
        again = wrapped.run("delete", "--cert-name", name)
    elif then == "renew":
        again = wrapped.run("renew", "--no-random-sleep-on-renew")
    else:
        again = wrapped.run(*cli.standalone(name))
    assert again.finished and again.returncode == 0, again.output
    if then == "certonly":  # a new lineage, made of nothing the deleted one left
        assert check_lineage(config, name) == 1
        archive = (config / "archive" / name).glob("*.pem")
        assert sorted(p.name for p in archive) == [
            "cert1.pem", "chain1.pem", "fullchain1.pem", "privkey1.pem",
        ]  # fmt: skip
        assert listed(wrapped) == {name: "valid"}
        assert name in certbot_lists(config, tmp_path / "certbot")
        return
    assert lineage_files(config, name) == [], f"{then} left the half-deleted lineage"
    assert listed(wrapped) == {}
    assert "No certificates found." in certbot_lists(config, tmp_path / "certbot")
    assert wrapped.orders() == 0
