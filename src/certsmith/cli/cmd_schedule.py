"""`certsmith schedule install | remove | status`: run `certsmith renew` twice a day.

The units, the cron line and the detection of certbot's own scheduler are monitor/schedule.py's;
this module words them (``schedule.*`` keys). ``SystemPaths`` is a parameter so tests run in a
temporary folder with a fake systemctl.
"""

from __future__ import annotations

import shutil
import socket
import sys
from datetime import datetime
from pathlib import Path

from certsmith.cli.args import default_dirs
from certsmith.cli.console import Console
from certsmith.cli.monitor_args import ScheduleOptions
from certsmith.monitor import schedule as sched
from certsmith.storage.filesystem import file_stores


def certsmith_path() -> str:
    """The absolute path of the running certsmith (a virtualenv's bin/certsmith works)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "certsmith" and argv0.exists():
        return str(argv0.absolute())
    return shutil.which("certsmith") or str(Path(sys.executable).with_name("certsmith"))


def schedule(
    options: ScheduleOptions,
    console: Console,
    paths: sched.SystemPaths | None = None,
    certsmith: str | None = None,
) -> int:
    paths = paths or sched.SystemPaths()
    if options.action == "remove":
        return _remove(console, paths)
    if options.action == "status":
        return _status(options, console, paths)
    config_dir = options.common.config_dir
    default = Path(default_dirs({}, True)["config_dir"])
    command = sched.renew_command(
        certsmith or certsmith_path(), None if config_dir == default else config_dir
    )
    plan = sched.plan_for(paths, command, socket.gethostname())
    if options.dry_run:
        for path, text in plan.files.items():
            console.data(f"# {path}\n{text}")
        return 0
    active = sched.certbot_active(paths)
    if active:
        how = [
            console.message("schedule.certbot.how.cron", path=a)
            if a.startswith("/")
            else console.message("schedule.certbot.how.timer", timer=a)
            for a in active
        ]
        console.error(
            console.message("schedule.certbot.active", which=", ".join(active), how="; ".join(how))
        )
        return 1
    changed = sched.install(paths, plan)
    if not changed:
        console.say(console.message("schedule.unchanged"))
        return 0
    where = ", ".join(str(p) for p in changed)
    console.say(console.message(f"schedule.installed.{plan.kind}", paths=where))
    return 0


def _remove(console: Console, paths: sched.SystemPaths) -> int:
    removed = sched.remove(paths)
    if not removed:
        console.say(console.message("schedule.nothing_removed"))
    else:
        console.say(console.message("schedule.removed", paths=", ".join(str(p) for p in removed)))
    return 0


def _status(options: ScheduleOptions, console: Console, paths: sched.SystemPaths) -> int:
    state = sched.status(paths, datetime.now().astimezone())
    if state.kind == "systemd":
        console.say(console.message("schedule.status.systemd", timer=sched.TIMER))
        if state.next_run:
            console.say(console.message("schedule.status.next", when=state.next_run))
    elif state.kind == "cron":
        console.say(console.message("schedule.status.cron", line=state.cron_line or ""))
        if state.next_run:
            console.say(console.message("schedule.status.next", when=state.next_run))
    else:
        console.say(console.message("schedule.status.none"))
    history = file_stores(options.common.config_dir).history
    records = history.recent(1) if history is not None else []
    if not records:
        console.say(console.message("schedule.status.last.none"))
        return 0 if state.kind else 1
    run = records[-1]
    when = f"{run.started:%Y-%m-%d %H:%M:%S %Z}"
    if run.ok:
        result = console.message(
            "schedule.result.ok", renewed=len(run.renewed), checked=run.checked
        )
    else:
        names = ", ".join(p.name for p in run.failed) or "; ".join(run.errors)
        result = console.message("schedule.result.failed", failed=len(run.failed), names=names)
    console.say(console.message("schedule.status.last", when=when, result=result))
    return 0 if state.kind and run.ok else 1
