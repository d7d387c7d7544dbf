"""Command lines of `certsmith schedule` and `certsmith check` (certsmith's own commands, which
certbot has not: they take their own flags plus the folders, -v and -q). Stdlib only.

    certsmith schedule install [--dry-run] | remove | status
    certsmith check [HOST:PORT ...] [--server-name NAME] [--warn-days N] [--json]
                    [--prometheus FILE]
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from certsmith.errors import UsageError

if TYPE_CHECKING:
    from certsmith.cli.option_types import CommonOptions, HelpRequest

VERBS = ("schedule", "check")
_VALUED = {
    "--config-dir",
    "--work-dir",
    "--logs-dir",
    "--server-name",
    "--warn-days",
    "--prometheus",
}


@dataclass(frozen=True)
class ScheduleOptions:
    common: CommonOptions
    action: str  # install, remove, status
    dry_run: bool = False


@dataclass(frozen=True)
class CheckOptions:
    common: CommonOptions
    endpoints: tuple[tuple[str, int], ...] = ()
    server_name: str | None = None
    warn_days: float | None = None
    json: bool = False
    prometheus: Path | None = None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        from certsmith.cli.arg_errors import usage_of_message

        raise usage_of_message(message)


def monitor_verb(args: Sequence[str]) -> str | None:
    """``schedule`` or ``check`` when it is the command of ``args`` (the first word, after
    only the folder flags, -v or -q), else None: certbot's command lines are left alone."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _VALUED:
            skip = True
        elif arg.split("=", 1)[0] in _VALUED or re.fullmatch(r"-v+|-q|--verbose|--quiet", arg):
            continue
        else:
            return arg if arg in VERBS else None
    return None


def _parser(verb: str) -> _Parser:
    parser = _Parser(prog=f"certsmith {verb}", add_help=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("--config-dir")
    parser.add_argument("--work-dir")
    parser.add_argument("--logs-dir")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("-q", "--quiet", action="store_true")
    if verb == "schedule":
        parser.add_argument("action", choices=("install", "remove", "status"))
        parser.add_argument("--dry-run", action="store_true", help="print, change nothing")
    else:
        parser.add_argument("endpoints", nargs="*", metavar="HOST:PORT")
        parser.add_argument("--server-name", metavar="NAME", help="SNI to send")
        parser.add_argument("--warn-days", type=float, metavar="N")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--prometheus", metavar="FILE")
    return parser


def parse_monitor(
    args: Sequence[str], environ: Mapping[str, str] | None = None, is_root: bool | None = None
) -> ScheduleOptions | CheckOptions | HelpRequest:
    from certsmith.cli.args import default_dirs
    from certsmith.cli.option_types import CommonOptions, HelpRequest

    verb = monitor_verb(args)
    assert verb is not None, "called for a schedule or check command line only"
    rest = list(args)
    rest.remove(verb)
    parser = _parser(verb)
    if "-h" in rest or "--help" in rest:
        return HelpRequest(parser.format_help())
    ns = parser.parse_args(rest)
    env = os.environ if environ is None else environ
    defaults = default_dirs(env, os.geteuid() == 0 if is_root is None else is_root)

    def folder(value: str | None, name: str) -> Path:
        return Path(value or defaults[name]).expanduser().absolute()

    common = CommonOptions(
        config_dir=folder(ns.config_dir, "config_dir"),
        work_dir=folder(ns.work_dir, "work_dir"),
        logs_dir=folder(ns.logs_dir, "logs_dir"),
        verbose=ns.verbose,
        quiet=ns.quiet,
        non_interactive=True,
    )
    if verb == "schedule":
        return ScheduleOptions(common, ns.action, ns.dry_run)
    if ns.warn_days is not None and ns.warn_days < 0:
        raise UsageError(_message("monitor.usage.warn_days"))
    endpoints = tuple(parse_endpoint(e) for e in ns.endpoints)
    prometheus = Path(ns.prometheus).absolute() if ns.prometheus else None
    return CheckOptions(common, endpoints, ns.server_name, ns.warn_days, ns.json, prometheus)


def _message(key: str, **values: object) -> str:
    from certsmith.preflight.messages import Catalogue

    return Catalogue().get(key, **values)


def parse_endpoint(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port``, or a bare host or IPv6 address (port 443)."""
    host, port_text = text, "443"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") or "443"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(_message("monitor.usage.endpoint", endpoint=text))
    return host, int(port_text)
