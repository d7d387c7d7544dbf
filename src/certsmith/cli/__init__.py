"""The command-line front: argument parsing (certbot-compatible), prompts and output.

This is the only layer that prints or prompts. ``certsmith.cli.args`` and
``certsmith.cli.options`` import only the standard library so ``certsmith --help`` stays fast;
keep httpx, cryptography and dnspython out of their import chain (and out of this file). The
names below are imported on first use (PEP 562): importing a submodule such as
``certsmith.cli.main`` must not load the option classes on the way.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOME = {
    "USAGE_EXIT_CODE": "certsmith.cli.args",
    "help_text": "certsmith.cli.args",
    "parse_args": "certsmith.cli.args",
    "Command": "certsmith.cli.options",
    "HelpRequest": "certsmith.cli.options",
    "IgnoredFlag": "certsmith.cli.options",
    "Verb": "certsmith.cli.options",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOME[name]), name)
