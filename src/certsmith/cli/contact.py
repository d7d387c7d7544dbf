"""Contact addresses as ``--email`` and the e-mail prompt take them (standard library only)."""

from __future__ import annotations

import re

_EMAIL_LOCAL = re.compile(r"[^@\s,.\"]+(\.[^@\s,.\"]+)*")
_EMAIL_LABEL = re.compile(r"(?!-)[^\W_](?:[\w-]*[^\W_])?")


def is_email_address(text: str) -> bool:
    """``user@host.tld``: certbot's rule (no leading dot, no ``..``) and a domain of two or more
    labels (letters, digits, inner hyphens; IDN letters too), so ``a@``, ``a@b`` and
    ``a@example..com`` are refused here instead of by the CA."""
    local, at, domain = text.rpartition("@")
    labels = domain.split(".")
    return (
        bool(at)
        and _EMAIL_LOCAL.fullmatch(local) is not None
        and len(labels) >= 2
        and all(_EMAIL_LABEL.fullmatch(label) for label in labels)
    )
