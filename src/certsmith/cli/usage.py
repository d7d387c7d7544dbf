"""Usage errors worded from the message catalogue.

``usage_error("usage.email_invalid", email=...)`` is a :class:`~certsmith.errors.UsageError`
whose message is the English sentence (what logs and tests read) and whose ``wording`` lets
:func:`usage_text` show it in the user's language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from certsmith.errors import UsageError
from certsmith.wording import Said

if TYPE_CHECKING:
    from certsmith.preflight.messages import Catalogue


def usage_error(key: str, /, **values: object) -> UsageError:
    """A UsageError saying the catalogue's ``key`` filled with ``values``."""
    from certsmith.preflight.messages import Catalogue  # read only when there is an error

    return UsageError(Catalogue("en").get(key, **values), wording=(key, values))


def said_of(error: UsageError) -> str:
    """``error``'s message, as a :class:`~certsmith.wording.Said` when it was worded from the
    catalogue (to be part of another sentence that is)."""
    wording = getattr(error, "wording", None)
    if wording is None:
        return str(error)  # a Said message stays one (CertsmithError.__str__)
    key, values = wording
    return Said(str(error), key, **values)


def usage_text(error: UsageError, catalogue: Catalogue) -> str:
    """What to show for ``error``: its catalogue wording in ``catalogue``'s language, else its
    message (a :class:`~certsmith.wording.Said` in that language too)."""
    wording = getattr(error, "wording", None)
    if wording is None or not catalogue.has(wording[0]):
        return catalogue.words(str(error))
    key, values = wording
    return catalogue.get(key, **values)
