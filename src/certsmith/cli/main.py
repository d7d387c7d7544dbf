"""The `certsmith` command: parse, set up logging, dispatch, and turn every error into one
clear sentence plus what to do (never a traceback).

Exit codes: 0 success, 1 a command failed (any lineage failed for `renew`), 2 bad usage,
130 interrupted. `caa-check` has its own: 0 allowed, 1 forbidden, 2 error.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from certsmith.cli.args import USAGE_EXIT_CODE, help_request_text
from certsmith.errors import CertsmithError, UsageError

if TYPE_CHECKING:
    from certsmith.cli.console import Console


# Each command's handler, "module:function", imported only when that command runs (so `--help`
# and parse errors stay fast). Option classes with their own handler come first; the others are
# found by their verb.
_BY_OPTIONS = {
    "ScheduleOptions": "cmd_schedule:schedule",
    "CheckOptions": "cmd_check:check",
    "RunOptions": "cmd_run:run",
    "ReconfigureOptions": "cmd_run:reconfigure",
    "WebServerOptions": "cmd_run:web_server_command",
    "CertonlyOptions": "cmd_certonly:certonly",
    "RenewOptions": "cmd_renew:renew",
}
_BY_VERB = {
    "certificates": "cmd_manage:certificates",
    "revoke": "cmd_manage:revoke",
    "delete": "cmd_manage:delete",
    "register": "cmd_account:register",
    "show_account": "cmd_account:show_account",
    "update_account": "cmd_account:update_account",
    "unregister": "cmd_account:unregister",
    "caa-check": "cmd_checks:caa_check",
    "doctor": "cmd_checks:doctor",
    "persist-record": "cmd_persist:persist_record",
    "notify": "cmd_notify:notify",
    "report": "cmd_report:report",
}


def _dispatch(command: object, console: Console) -> int:
    from importlib import import_module

    verb = getattr(command, "verb", None)
    target = _BY_OPTIONS.get(type(command).__name__) or _BY_VERB.get(
        str(getattr(verb, "value", ""))
    )
    if target is None:
        from certsmith.cli.usage import usage_error

        raise usage_error("usage.cannot_run", verb=repr(verb))
    module, name = target.split(":")
    handler: Callable[[Any, Console], int] = getattr(import_module(f"certsmith.cli.{module}"), name)
    return handler(command, console)


def main(argv: Sequence[str] | None = None) -> int:
    """Run certsmith with ``argv`` (default sys.argv[1:]); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    from certsmith.cli.monitor_args import monitor_verb  # stdlib only

    monitor = monitor_verb(args) is not None  # `schedule` and `check` parse their own flags
    # --help and --version: no option classes, no logging
    text = None if monitor else help_request_text(args)
    if text is not None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    import logging

    from certsmith.cli.args import parse_args
    from certsmith.cli.console import Console, setup_logging
    from certsmith.cli.options import HelpRequest

    log = logging.getLogger("certsmith")
    try:
        if monitor:
            from certsmith.cli.monitor_args import parse_monitor

            command: Any = parse_monitor(args)
        else:
            command = parse_args(args)
    except UsageError as err:
        from certsmith.cli.usage import usage_text
        from certsmith.preflight.messages import Catalogue

        sys.stderr.write(f"certsmith: error: {usage_text(err, Catalogue())}\n")
        return USAGE_EXIT_CODE
    if isinstance(command, HelpRequest):
        sys.stdout.write(command.text if command.text.endswith("\n") else command.text + "\n")
        return 0
    common = command.common
    console = Console(quiet=common.quiet, verbose=common.verbose)
    try:
        setup_logging(common.logs_dir, common.verbose, common.quiet, common.max_log_backups)
        for ignored in common.ignored_flags:
            log.info("ignored: %s", ignored, extra={"on_screen": True})
            if common.verbose or ignored.announce:
                said = "flag.note" if ignored.announce else "flag.ignored"
                console.note(console.message(said, flag=ignored.said()))
        if not common.verify_tls:
            # certbot (urllib3) warns on every request; one line says it here.
            console.note(console.message("warning.no_verify_ssl"))
        code = _dispatch(command, console)
        sys.stdout.flush()  # a closed pipe shows here rather than at interpreter exit
        return code
    except BrokenPipeError as exc:
        if not _stdout_closed():
            return _internal_error(console, exc, common.logs_dir)
        return _pipe_closed()
    except UsageError as err:
        from certsmith.cli.usage import usage_text

        console.error(usage_text(err, console.catalogue))
        return USAGE_EXIT_CODE
    except CertsmithError as err:
        console.explain(err)
        return 1
    except KeyboardInterrupt:
        # One line; the run's cleanup (hooks, servers) already ran as the interrupt unwound it.
        console.error(console.message("interrupted"))
        return 130
    except OSError as exc:
        from certsmith.cli.folders import folder_error

        folder = folder_error(exc)
        if folder is None:
            return _internal_error(console, exc, common.logs_dir)
        log.debug("folder error", exc_info=True)
        console.explain(folder)
        return 1
    except Exception as exc:  # a bug: say so plainly, keep the traceback for the log
        return _internal_error(console, exc, common.logs_dir)


def _stdout_closed() -> bool:
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _pipe_closed() -> int:
    """The reader of stdout went away (``certsmith certificates | head -1``): stop quietly, as
    Python's documentation recommends (signal module, "Note on SIGPIPE"), with exit code 1 like
    a Python tool killed by EPIPE; nothing more is written and no traceback is logged."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the flush at exit must not fail again
    os.close(devnull)
    return 1


def _internal_error(console: Console, exc: Exception, logs_dir: object) -> int:
    import logging

    logging.getLogger("certsmith").exception("internal error")
    error = f"{type(exc).__name__}: {exc}"
    try:
        text = console.message("internal_error", error=error, logs_dir=logs_dir)
    except Exception:  # the catalogue itself may be what broke: say it in English
        text = f"internal error ({error}); the traceback is in {logs_dir}. Please report it."
    console.error(text)
    return 1


if __name__ == "__main__":
    sys.exit(main())
