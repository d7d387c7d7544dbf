"""Placeholder entry point (the lead replaces this file): parse, print help, map errors.

Contract the real ``main`` keeps: a UsageError prints ``certsmith: error: <message>`` on stderr
(no traceback) and returns USAGE_EXIT_CODE (2); a HelpRequest prints its text and returns 0.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from certsmith.cli.args import USAGE_EXIT_CODE, parse_args
from certsmith.cli.options import HelpRequest
from certsmith.errors import UsageError


def main(argv: Sequence[str] | None = None) -> int:
    """Run certsmith with ``argv`` (default sys.argv[1:]); return the exit code."""
    try:
        command = parse_args(argv)
    except UsageError as err:
        sys.stderr.write(f"certsmith: error: {err}\n")
        return USAGE_EXIT_CODE
    if isinstance(command, HelpRequest):
        sys.stdout.write(command.text if command.text.endswith("\n") else command.text + "\n")
        return 0
    sys.stderr.write(f"certsmith: '{command.verb}' is not wired to the engine yet.\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
