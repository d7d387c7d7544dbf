"""Parts of the engine's sentences that the catalogue words too (issue 8): the reason of an
operating-system error, and a list of sentences said together.

Both build :class:`~certsmith.wording.Said` values whose English is what the message said
before (logs, ``--json`` and tests read it byte for byte); a Said given as a value to another
one is worded with it (``Catalogue.get`` words every value).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

from certsmith.wording import Said

__all__ = ["joined", "os_reason"]

_SEPARATORS = {"; ": "text.join.semicolon", " ": "text.join.space"}


def os_reason(exc: OSError) -> str:
    """Why ``exc`` happened, in one clause: its ``strerror`` (the C library's English; else its
    text) with the key ``os.error.<ERRNO NAME>``. A cause the catalogue does not word stays
    English."""
    english = exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno or 0, "unknown")
    return Said(english, f"os.error.{name}")


def joined(parts: Sequence[str], separator: str = "; ") -> str:
    """``separator.join(parts)``, each part worded in the user's language when it is a Said.
    ``separator`` is ``"; "`` or ``" "``."""
    if not parts:
        return ""
    key = _SEPARATORS[separator]
    text = parts[-1]
    for part in reversed(parts[:-1]):
        text = Said(f"{part}{separator}{text}", key, first=part, rest=text)
    return text
