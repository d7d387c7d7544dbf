"""Named crash points: run certsmith's own ``main()`` with one of them armed.

Run as a script (``python tests/support/crash_points.py ARGV...``) in certsmith's venv. The
environment says what to do:

* ``CRASH_AT``: a name of :data:`POINTS` (empty: none). The function the point names is
  wrapped so that the process SIGKILLs itself (``os.kill(os.getpid(), SIGKILL)``, as a power
  cut or the OOM killer would) just before or just after the real call, the first time the call
  matches. Nothing in certsmith knows about the points: they are patched from outside.
* ``CRASH_ORDERS``: a file; one line is appended for every newOrder the run sends (so a test
  can count orders across runs: the CA itself cannot be asked).
* ``CRASH_ISSUED``: a file; the certificate PEM of every order the CA issued in the run is
  appended right after it arrives, before certsmith stores anything (the witness of what the
  CA handed out, independent of certsmith's files).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import re
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Point:
    """Where a crash point sits: ``when`` ("before"/"after") a call of ``module.attribute``
    (``Class.method`` allowed) whose first path argument's name matches ``file`` (if set)."""

    module: str
    attribute: str
    when: str
    file: str | None = None


_LINEAGE, _ACCOUNTS = "certsmith.storage.lineage", "certsmith.storage.accounts"

# Issuance and renewal, in the order a run passes them (renewal/issue.py, storage/lineage.py
# save_version, storage/links.py, renewal/engine.py _deploy).
ISSUANCE_POINTS: dict[str, Point] = {
    "key-generated": Point("certsmith.renewal.issue", "_new_key_pem", "after"),
    "certificate-kept": Point("certsmith.storage.pending", "PendingStore.save", "after"),
    "archive-privkey": Point(_LINEAGE, "create_private_file", "after", r"privkey[0-9]+\.pem"),
    "archive-cert": Point(_LINEAGE, "atomic_write", "after", r"cert[0-9]+\.pem"),
    "archive-chain": Point(_LINEAGE, "atomic_write", "after", r"chain[0-9]+\.pem"),
    "archive-fullchain": Point(_LINEAGE, "atomic_write", "after", r"fullchain[0-9]+\.pem"),
    "live-switch-before": Point("certsmith.storage.links", "_switch_directory", "before"),
    "live-switch-after": Point("certsmith.storage.links", "_switch_directory", "after"),
    "conf-rewrite-before": Point(_LINEAGE, "LineageStore._write_conf", "before"),
    "conf-rewrite-after": Point(_LINEAGE, "LineageStore._write_conf", "after"),
    "deploy-hook-after": Point("certsmith.renewal.hooks", "HookRunner.deploy", "after"),
}

# Account key rollover (renewal/rollover.py): pending key -> keyChange -> promote.
ROLLOVER_POINTS: dict[str, Point] = {
    "rollover-pending-key": Point(_ACCOUNTS, "AccountStore.save_pending_key", "after"),
    "rollover-key-change": Point("certsmith.acme.client", "AcmeClient.rollover_key", "after"),
    "rollover-new-account-saved": Point(_ACCOUNTS, "AccountStore.save", "after"),
    "rollover-confs-moved": Point("certsmith.renewal.rollover", "move_lineages", "after"),
}

# The nginx installer's deploy (installers/nginx/installer.py): the edit is written under a
# checkpoint, tested (nginx -t) and committed; the reload comes once at the run's end.
_NGINX = "certsmith.installers.nginx.installer"
INSTALLER_POINTS: dict[str, Point] = {
    # The test of a deploy (its note: "deploy NAME for ..."), not of the challenge's edit.
    "nginx-config-edited": Point(_NGINX, "NginxInstaller.test", "before", r"deploy .*"),
    "nginx-reload-before": Point(_NGINX, "NginxInstaller.reload", "before"),
    "nginx-reload-after": Point(_NGINX, "NginxInstaller.reload", "after"),
}

# `revoke` (the CA revoked, certsmith has not recorded it) and `delete` (storage/removal.py:
# the conf first, then live/NAME's files, then archive/NAME).
RETIRE_POINTS: dict[str, Point] = {
    "revoke-ca-revoked": Point("certsmith.acme.client", "AcmeClient.revoke", "after"),
    "delete-conf-removed": Point("certsmith.storage.removal", "is_child_dir", "before"),
    "delete-live-midway": Point("os", "unlink", "after", r"cert\.pem"),
    "delete-archive-midway": Point("os", "unlink", "after", r"[a-z]+1\.pem"),
}

POINTS = {**ISSUANCE_POINTS, **ROLLOVER_POINTS, **INSTALLER_POINTS, **RETIRE_POINTS}


def die(name: str = "") -> None:
    """SIGKILL this process; ``name`` and the call stack go to stderr first (the run's log), so
    a failing test shows where the kill landed."""
    if name:
        print(f"crash point {name}: SIGKILL at", file=sys.stderr)
        traceback.print_stack(sys._getframe(2), limit=8, file=sys.stderr)
        sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _owner_and_name(point: Point) -> tuple[Any, str]:
    owner: Any = importlib.import_module(point.module)
    *path, name = point.attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name


def _matches(point: Point, args: tuple[Any, ...]) -> bool:
    if point.file is None:
        return True
    paths = [a for a in args if isinstance(a, str | Path)]
    return bool(paths) and re.fullmatch(point.file, Path(paths[0]).name) is not None


def arm(point: Point, label: str = "") -> None:
    """Wrap the function ``point`` names so the process dies at the point."""
    owner, name = _owner_and_name(point)
    real = getattr(owner, name)

    def crash_if(stage: str, args: tuple[Any, ...]) -> None:
        if stage == point.when and _matches(point, args):
            die(label)

    if inspect.iscoroutinefunction(real):

        @functools.wraps(real)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            crash_if("before", args)
            result = await real(*args, **kwargs)
            crash_if("after", args)
            return result

        setattr(owner, name, wrapped_async)
        return

    @functools.wraps(real)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        crash_if("before", args)
        result = real(*args, **kwargs)
        crash_if("after", args)
        return result

    setattr(owner, name, wrapped)


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def record_orders_and_certificates(orders: str | None, issued: str | None) -> None:
    """Witnesses for the test: every newOrder sent, every certificate the CA issued."""
    from certsmith.acme.client import AcmeClient
    from certsmith.renewal import issue

    real_order = AcmeClient.new_order
    names = vars(issue)  # obtain_certificate is a name issue.py imported: patched where it is used
    real_obtain = names["obtain_certificate"]

    async def new_order(self: AcmeClient, *args: Any, **kwargs: Any) -> Any:
        if orders:
            _append(orders, f"newOrder pid={os.getpid()}\n")
        return await real_order(self, *args, **kwargs)

    async def obtain_certificate(*args: Any, **kwargs: Any) -> Any:
        result = await real_obtain(*args, **kwargs)
        if issued:
            _append(issued, result.cert_pem)
        return result

    AcmeClient.new_order = new_order  # type: ignore[method-assign]
    names["obtain_certificate"] = obtain_certificate


def main(argv: list[str]) -> int:
    record_orders_and_certificates(os.environ.get("CRASH_ORDERS"), os.environ.get("CRASH_ISSUED"))
    at = os.environ.get("CRASH_AT", "")
    if at:
        arm(POINTS[at], at)
    from certsmith.cli.main import main as certsmith_main

    return certsmith_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
