"""`certsmith schedule`: a systemd timer where systemd runs, else a cron entry, for `renew`.

    SystemPaths     where units, cron entries and systemctl are (injected: tests use tmp)
    plan_for        what `install` would write (units or a cron line), from the command to run
    certbot_active  certbot's own scheduler, when it would still run (certbot.timer,
                    snap.certbot.renew.timer, /etc/cron.d/certbot)
    install/remove  idempotent; return what they changed
    status          which scheduler is installed and when it runs next

Facts only, no sentences: cli/cmd_schedule.py words them. Every subprocess has a timeout.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from certsmith.monitor.cron import next_cron_run
from certsmith.storage.files import atomic_write

log = logging.getLogger(__name__)

SERVICE = "certsmith-renew.service"
TIMER = "certsmith-renew.timer"
CRON_FILE = "certsmith"
CERTBOT_TIMERS = ("certbot.timer", "snap.certbot.renew.timer")
CERTBOT_CRON = "certbot"
SYSTEMCTL_TIMEOUT = 20.0  # seconds per systemctl call
# Debian's /etc/cron.d/certbot runs only where systemd does not (its timer does the work there).
_SYSTEMD_GUARD = re.compile(r"!\s*-d\s+/run/systemd/system")


@dataclass(frozen=True)
class SystemPaths:
    unit_dir: Path = Path("/etc/systemd/system")
    cron_dir: Path = Path("/etc/cron.d")
    systemd_marker: Path = Path("/run/systemd/system")  # exists while systemd is PID 1
    systemctl: tuple[str, ...] = ("systemctl",)

    @property
    def systemd(self) -> bool:
        return self.systemd_marker.is_dir()


@dataclass(frozen=True)
class Plan:
    """What `install` writes: file path -> content (two units, or one cron file)."""

    kind: str  # "systemd" or "cron"
    files: dict[Path, str] = field(default_factory=dict)


def renew_command(certsmith: str, config_dir: Path | None) -> list[str]:
    """The command the scheduler runs: quiet, with the config dir when it is not the default."""
    argv = [certsmith, "renew", "-q"]
    if config_dir is not None:
        argv += ["--config-dir", str(config_dir)]
    return argv


def service_text(command: Sequence[str]) -> str:
    return (
        "[Unit]\n"
        "Description=Renew certificates with certsmith\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={shlex.join(command)}\n"
    )


def timer_text() -> str:
    return (
        "[Unit]\n"
        "Description=Run certsmith renew twice a day\n"
        "\n"
        "[Timer]\n"
        "OnCalendar=*-*-* 00,12:00:00\n"
        "RandomizedDelaySec=1h\n"
        "Persistent=true\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def cron_line(command: Sequence[str], seed: str) -> str:
    """Every twelve hours at a minute and hour drawn once per machine (``seed``: its name), so
    machines do not reach the CA at the same moment; `renew` adds its own random sleep."""
    digest = hashlib.sha256(seed.encode()).digest()
    minute, hour = digest[0] % 60, digest[1] % 12
    return f"{minute} {hour},{hour + 12} * * * root {shlex.join(command)}\n"


def plan_for(paths: SystemPaths, command: Sequence[str], seed: str) -> Plan:
    if paths.systemd:
        return Plan(
            "systemd",
            {paths.unit_dir / SERVICE: service_text(command), paths.unit_dir / TIMER: timer_text()},
        )
    header = "# certsmith renew, installed by `certsmith schedule install`\n"
    return Plan("cron", {paths.cron_dir / CRON_FILE: header + cron_line(command, seed)})


def _systemctl(paths: SystemPaths, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            [*paths.systemctl, *args],
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("systemctl %s: %s", " ".join(args), exc)
        return None


def _cron_active(path: Path, systemd: bool) -> bool:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#") or re.match(r"^[A-Z_]+=", text):
            continue
        if systemd and _SYSTEMD_GUARD.search(text):
            continue  # inert while systemd runs
        return True
    return False


def certbot_active(paths: SystemPaths) -> list[str]:
    """certbot's schedulers that would still run `certbot renew` (empty: none)."""
    found = []
    if paths.systemd:
        for timer in CERTBOT_TIMERS:
            done = _systemctl(paths, "is-enabled", timer)
            enabled = done is not None and done.stdout.strip() in ("enabled", "enabled-runtime")
            done = _systemctl(paths, "is-active", timer)
            if enabled or (done is not None and done.stdout.strip() == "active"):
                found.append(timer)
    cron = paths.cron_dir / CERTBOT_CRON
    if _cron_active(cron, paths.systemd):
        found.append(str(cron))
    return found


def _write(path: Path, text: str) -> bool:
    """Write ``text`` atomically unless it is already there; whether anything changed."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode(), 0o644)
    return True


def install(paths: SystemPaths, plan: Plan) -> list[Path]:
    """Write the plan's files (the changed ones are returned) and, for systemd, enable the
    timer. Run ``certbot_active`` first: this does not look."""
    changed = [p for p, text in plan.files.items() if _write(p, text)]
    if plan.kind == "systemd":
        if changed:
            _systemctl(paths, "daemon-reload")
        _systemctl(paths, "enable", "--now", TIMER)
    return changed


def remove(paths: SystemPaths) -> list[Path]:
    """Disable and delete what `install` wrote (either kind); the removed files."""
    units = [paths.unit_dir / SERVICE, paths.unit_dir / TIMER]
    if paths.systemd and units[1].exists():
        _systemctl(paths, "disable", "--now", TIMER)
    removed = []
    for path in [*units, paths.cron_dir / CRON_FILE]:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    if paths.systemd and any(p in units for p in removed):
        _systemctl(paths, "daemon-reload")
    return removed


@dataclass(frozen=True)
class ScheduleStatus:
    kind: str | None  # "systemd", "cron", or None: not installed
    next_run: str | None = None  # as systemctl shows it, or computed from the cron line
    cron_line: str | None = None


def status(paths: SystemPaths, now: datetime) -> ScheduleStatus:
    """What is installed; ``now`` (aware, local time as cron reads it) dates a cron line's
    next run."""
    if (paths.unit_dir / TIMER).exists():
        next_run = None
        if paths.systemd:
            done = _systemctl(paths, "show", TIMER, "-p", "NextElapseUSecRealtime", "--value")
            if done is not None and done.returncode == 0 and done.stdout.strip():
                next_run = done.stdout.strip()
        return ScheduleStatus("systemd", next_run)
    cron = paths.cron_dir / CRON_FILE
    if cron.exists():
        lines = [
            ln
            for ln in cron.read_text(encoding="utf-8", errors="replace").splitlines()
            if ln.strip() and not ln.startswith("#")
        ]
        line = lines[0] if lines else None
        when = next_cron_run(line, now) if line else None
        next_run = f"{when:%Y-%m-%d %H:%M %Z}".strip() if when else None
        return ScheduleStatus("cron", next_run, cron_line=line)
    return ScheduleStatus(None)
