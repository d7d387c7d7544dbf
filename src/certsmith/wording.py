"""Sentences the engine says, in English and as a catalogue key the CLI words them from.

The layers under the CLI do not print and do not import it, yet what they decide reaches the
user: a renewal policy's reason ("not yet due: ..."), a note of the engine ("using the CA's
default profile"). Such a sentence is a :class:`Said`: a ``str`` holding the English text, which
is what the log, ``--json``, the run history and the tests read, and that also carries the
catalogue ``key`` and ``values`` (``certsmith/locale/<lang>.json``) the CLI shows it with in the
user's language (:meth:`certsmith.cli.console.Console.words`).

The English here and the ``en.json`` template of the key must say the same thing; a test
renders every key used with English and compares (tests/unit/test_wording.py). An error's
sentence, whose values are many, is made by :func:`said` from the ``en.json`` template itself:
``raise UsageError(said("engine.other_names", name=..., old=...))``; the CLI shows the error's
message through the catalogue (``certsmith.cli.explain``, ``certsmith.cli.usage``).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["Said", "said"]


def _said(english: str, key: str, values: dict[str, Any]) -> Said:
    return Said(english, key, **values)


class Said(str):
    """English text with the catalogue ``key`` and ``values`` that word it in any language."""

    key: str
    values: dict[str, Any]

    def __new__(cls, english: str, key: str, /, **values: Any) -> Said:
        said = super().__new__(cls, english)
        said.key = key
        said.values = values
        return said

    def __reduce__(self) -> tuple[Any, ...]:
        # Verdicts cross a process boundary (renewal/helper_process.py) pickled.
        return (_said, (str(self), self.key, self.values))


class _KeepMissing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def said(key: str, /, **values: Any) -> Said:
    """The catalogue's sentence ``key`` filled with ``values``, its English read from
    ``locale/en.json`` (read at each call: errors are rare). A missing value stays ``{name}``
    and an unknown key is said as itself: building an error must not raise another."""
    text = resources.files("certsmith").joinpath("locale", "en.json").read_text("utf-8")
    template = json.loads(text).get(key)
    if not isinstance(template, str):
        return Said(key, key, **values)
    english = template.format_map(_KeepMissing({k: str(v) for k, v in values.items()}))
    return Said(english, key, **values)
