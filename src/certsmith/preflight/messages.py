"""The message catalogue: every sentence the pre-flight checks and error explanations show.

The checks here turn their findings into sentences with it; ``certsmith.cli.explain`` (the CLI's
presentation of errors) reads its ``problem.*`` and ``error.*`` entries.

Messages live in ``certsmith/locale/<lang>.json`` (``en`` and ``ko``), one flat object of
``key -> template`` with ``{placeholders}``. The language comes from ``LC_ALL``, then
``LC_MESSAGES``, then ``LANG`` (the first one set and non-empty wins, as in POSIX); anything we do
not ship falls back to English, and a key missing from a translation falls back to the English
template, so a message is never lost.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Mapping
from importlib import resources
from typing import Any

from certsmith.preflight.josa import Word
from certsmith.wording import Said

SUPPORTED_LOCALES = ("en", "ko")
DEFAULT_LOCALE = "en"


def select_locale(environ: Mapping[str, str] | None = None) -> str:
    """The catalogue language for this environment: ``"ko"`` for ``ko_KR.UTF-8``, else ``"en"``."""
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            lang = value.split(".")[0].split("@")[0].split("_")[0].lower()
            return lang if lang in SUPPORTED_LOCALES else DEFAULT_LOCALE
    return DEFAULT_LOCALE


def load_templates(locale: str) -> dict[str, str]:
    """The raw ``key -> template`` mapping of one shipped locale."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"no catalogue for locale {locale!r}")
    text = resources.files("certsmith").joinpath("locale", f"{locale}.json").read_text("utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"catalogue {locale}.json is not an object of strings")
    return {str(k): v for k, v in data.items()}


def placeholders(template: str) -> set[str]:
    """The names of the ``{placeholders}`` in a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class _KeepMissing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return Word("{" + key + "}")


class Catalogue:
    """Looks up and fills message templates of one language (English as the fallback)."""

    def __init__(self, locale: str | None = None, environ: Mapping[str, str] | None = None):
        self.locale = locale if locale is not None else select_locale(environ)
        self._english = load_templates(DEFAULT_LOCALE)
        self._own = self._english if self.locale == "en" else load_templates(self.locale)

    def has(self, key: str) -> bool:
        """Whether ``key`` is a known message (in English, the reference catalogue)."""
        return key in self._english

    def get(self, key: str, /, **values: Any) -> str:
        """The filled template for ``key``; an unknown key returns the key itself.

        Missing placeholder values are left as ``{name}`` rather than raising: a message with a
        gap is better than a traceback in front of the user.
        """
        template = self._own.get(key) or self._english.get(key)
        if template is None:
            return key
        # Word: a Korean template may pick a particle for a value, e.g. {domain:을}.
        words = {k: Word(self.words(v)) for k, v in values.items()}
        return template.format_map(_KeepMissing(words))

    def words(self, text: object) -> str:
        """``text`` in this catalogue's language: a :class:`~certsmith.wording.Said` (what the
        engine says) through its key, anything else (and a Said of an unknown key) as it is."""
        if isinstance(text, Said) and self.has(text.key):
            return self.get(text.key, **text.values)
        return str(text)
