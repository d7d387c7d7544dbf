"""argparse's own complaints ("expected one argument", "invalid choice") as catalogue sentences.

argparse words its errors in English (its gettext domain ships no Korean). The parser
(:mod:`certsmith.cli.args`) is built with ``exit_on_error=False``, so an
:class:`argparse.ArgumentError` reaches :func:`usage_of` whole: the flag it names and argparse's
message, which is matched against the few sentences argparse says (the same in Python 3.11 to
3.13) and worded from ``usage.argparse.*``. A value type or action of ours
(:mod:`certsmith.cli.flag_actions`) says why with a :class:`~certsmith.wording.Said`, found as
the message or as the ``ArgumentTypeError`` argparse raised from. Anything else keeps
argparse's English, so the English line is the same as before either way. Standard library only.
"""

from __future__ import annotations

import argparse
import re

from certsmith.cli.usage import usage_error
from certsmith.errors import UsageError
from certsmith.wording import Said

# argparse's sentence -> catalogue key; the named groups are the key's values besides ``flag``.
_SENTENCES = (
    (re.compile(r"expected one argument"), "usage.argparse.one_value"),
    (re.compile(r"expected at most one argument"), "usage.argparse.at_most_one"),
    (re.compile(r"expected at least one argument"), "usage.argparse.at_least_one"),
    (
        re.compile(r"invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)", re.S),
        "usage.argparse.choice",
    ),
    (re.compile(r"ignored explicit argument (?P<value>.*)", re.S), "usage.argparse.no_value"),
    (re.compile(r"not allowed with argument (?P<other>.*)", re.S), "usage.argparse.not_with"),
    (re.compile(r"invalid (?P<type>\S+) value: (?P<value>.*)", re.S), "usage.argparse.bad_type"),
)
_WHOLE = (
    (
        re.compile(r"ambiguous option: (?P<flag>\S+) could match (?P<names>.*)", re.S),
        "usage.argparse.ambiguous",
    ),
    (
        re.compile(r"the following arguments are required: (?P<names>.*)", re.S),
        "usage.argparse.required",
    ),
    (re.compile(r"unrecognized arguments: (?P<names>.*)", re.S), "usage.argparse.unrecognized"),
)


def _english(text: str) -> UsageError:
    """argparse's line as certsmith has always shown it: no "argument " prefix, one full stop."""
    return UsageError(text.removeprefix("argument ").rstrip(".") + ".")


def usage_of(error: argparse.ArgumentError) -> UsageError:
    """``error`` as a UsageError worded from the catalogue when its sentence is known."""
    flag = error.argument_name or ""
    why = error.message
    cause = error.__context__
    if not isinstance(why, Said) and isinstance(cause, argparse.ArgumentTypeError):
        why = cause.args[0] if cause.args else why
    if isinstance(why, Said) and flag:
        return usage_error("usage.flag_value", flag=flag, why=why)
    for pattern, key in _SENTENCES:
        found = pattern.fullmatch(str(why).rstrip("."))
        if found and flag:
            return usage_error(key, flag=flag, **found.groupdict())
    return _english(str(error))


def usage_of_message(message: str) -> UsageError:
    """What ``ArgumentParser.error(message)`` was told (argparse's few direct complaints)."""
    text = message.rstrip(".")
    for pattern, key in _WHOLE:
        found = pattern.fullmatch(text)
        if found:
            return usage_error(key, **found.groupdict())
    if text.startswith("argument ") and ": " in text:
        flag, _, why = text.removeprefix("argument ").partition(": ")
        for pattern, key in _SENTENCES:
            found = pattern.fullmatch(why)
            if found:
                return usage_error(key, flag=flag, **found.groupdict())
    return _english(message)
