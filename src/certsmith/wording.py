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
from typing import Any, ClassVar, Self

__all__ = ["Said", "SaidTail", "said"]


def _said(english: str, key: str, values: dict[str, Any]) -> Said:
    return Said(english, key, **values)


class Said(str):
    """English text with the catalogue ``key`` and ``values`` that word it in any language.

    Each one holds a dict of its own (about 0.5 kB with its values): a sentence said once per
    lineage of a large `renew` is a constant (one shared object, e.g. renewal/policy.py's
    reasons without a value) or a :class:`SaidTail`."""

    key: str
    _values: dict[str, Any]

    def __new__(cls, english: str, key: str, /, **values: Any) -> Said:
        said = super().__new__(cls, english)
        said.key = key
        said._values = values
        return said

    @property
    def values(self) -> dict[str, Any]:
        return self._values

    def __reduce__(self) -> tuple[Any, ...]:
        # Verdicts cross a process boundary (renewal/helper_process.py) pickled.
        return (_said, (str(self), self.key, self.values))


class SaidTail(Said):
    """A sentence whose one value ends it, after a fixed ``head`` (``renewal.reason.ari.wait``:
    "not yet due: ARI suggests renewing at {at}"), holding nothing but its text: the key, the
    head and the value's ``name`` are the subclass's, the value is read back from the text.
    For a reason `renew` keeps per lineage (100,000 in a fleet): it costs a str (~0.1 kB), where
    a :class:`Said` with its dicts costs ~0.8 kB."""

    head: ClassVar[str]
    name: ClassVar[str]

    def __new__(cls, value: object) -> Self:
        return str.__new__(cls, f"{cls.head}{value}")

    @property
    def values(self) -> dict[str, Any]:
        return {self.name: self[len(self.head) :]}

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self[len(self.head) :],))


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
