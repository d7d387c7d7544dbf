"""The command-line front: argument parsing (certbot-compatible), prompts and output.

This is the only layer that prints or prompts. ``certsmith.cli.args`` and
``certsmith.cli.options`` import only the standard library so ``certsmith --help`` stays fast;
keep httpx, cryptography and dnspython out of their import chain (and out of this file).
"""

from __future__ import annotations

from certsmith.cli.args import USAGE_EXIT_CODE, help_text, parse_args
from certsmith.cli.options import Command, HelpRequest, IgnoredFlag, Verb

__all__ = [
    "USAGE_EXIT_CODE",
    "Command",
    "HelpRequest",
    "IgnoredFlag",
    "Verb",
    "help_text",
    "parse_args",
]
