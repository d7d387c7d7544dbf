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


def _dispatch(command: object, console: Console) -> int:
    # Imported per command so that `--help` and parse errors stay fast.
    from certsmith.cli.options import CertonlyOptions, RenewOptions, Verb

    verb = getattr(command, "verb", None)
    if isinstance(command, CertonlyOptions):
        from certsmith.cli.cmd_certonly import certonly

        return certonly(command, console)
    if isinstance(command, RenewOptions):
        from certsmith.cli.cmd_renew import renew

        return renew(command, console)
    import certsmith.cli.cmd_account as cmd_account
    import certsmith.cli.cmd_checks as cmd_checks
    import certsmith.cli.cmd_manage as cmd_manage

    handlers: dict[Verb, Callable[[Any, Console], int]] = {
        Verb.CERTIFICATES: cmd_manage.certificates,
        Verb.REVOKE: cmd_manage.revoke,
        Verb.DELETE: cmd_manage.delete,
        Verb.REGISTER: cmd_account.register,
        Verb.SHOW_ACCOUNT: cmd_account.show_account,
        Verb.UPDATE_ACCOUNT: cmd_account.update_account,
        Verb.UNREGISTER: cmd_account.unregister,
        Verb.CAA_CHECK: cmd_checks.caa_check,
        Verb.DOCTOR: cmd_checks.doctor,
    }
    handler = handlers.get(verb) if isinstance(verb, Verb) else None
    if handler is None:
        raise UsageError(f"certsmith cannot run {verb!r}.")
    result: int = handler(command, console)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run certsmith with ``argv`` (default sys.argv[1:]); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = help_request_text(args)  # --help and --version: no option classes, no logging
    if text is not None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    import logging

    from certsmith.cli.args import parse_args
    from certsmith.cli.console import Console, setup_logging
    from certsmith.cli.options import HelpRequest

    log = logging.getLogger("certsmith")
    try:
        command = parse_args(args)
    except UsageError as err:
        sys.stderr.write(f"certsmith: error: {err}\n")
        return USAGE_EXIT_CODE
    if isinstance(command, HelpRequest):
        sys.stdout.write(command.text if command.text.endswith("\n") else command.text + "\n")
        return 0
    common = command.common
    console = Console(quiet=common.quiet, verbose=common.verbose)
    try:
        setup_logging(common.logs_dir, common.verbose, common.quiet)
        for ignored in common.ignored_flags:
            log.info("ignored: %s", ignored, extra={"on_screen": True})
            if common.verbose:
                console.note(f"Ignored {ignored}")
        return _dispatch(command, console)
    except UsageError as err:
        console.error(str(err))
        return USAGE_EXIT_CODE
    except CertsmithError as err:
        console.explain(err)
        return 1
    except KeyboardInterrupt:
        console.error("Interrupted; nothing half-done was deployed (live/ is unchanged).")
        return 130
    except Exception as exc:  # a bug: say so plainly, keep the traceback for the log
        log.exception("internal error")
        console.error(
            f"internal error ({type(exc).__name__}: {exc}); the traceback is in "
            f"{common.logs_dir}. Please report it."
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
