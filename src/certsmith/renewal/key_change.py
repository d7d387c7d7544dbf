"""certbot's rule for ``certonly``/``run`` with a ``--key-type`` other than the existing
lineage's (certbot 5.8 main.py ``_handle_unexpected_key_type_migration``):

1. ``--key-type`` not given, or the same type as the deployed private key: nothing to decide
   (the lineage keeps its key type).
2. ``--key-type`` and ``--cert-name`` both given: the change is meant; go ahead.
3. Otherwise the intent is unclear: a person is asked (default no); unattended, or when the
   answer is no, the run stops before anything is ordered or written.

The type compared is the deployed private key's, as certbot's ``private_key_type``, not the
renewal conf's ``key_type`` (a hand-edited conf does not hide a change).
"""

from __future__ import annotations

import enum

from cryptography.hazmat.primitives.asymmetric import rsa

from certsmith import crypto

__all__ = ["KeyTypeChange", "key_type_change", "private_key_type"]


class KeyTypeChange(enum.Enum):
    NONE = "none"  # no change asked for
    CONFIRMED = "confirmed"  # --key-type with --cert-name: change it
    ASK = "ask"  # unclear: ask a person, refuse unattended


def private_key_type(key_pem: bytes) -> str:
    """``rsa`` or ``ecdsa``, as the renewal conf spells the key type."""
    key = crypto.load_private_key(key_pem)
    return "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ecdsa"


def key_type_change(current: str, requested: str | None, *, named: bool) -> KeyTypeChange:
    """What a command line asking for key type ``requested`` (None: not given) means for a
    lineage whose key is of type ``current``; ``named``: --cert-name was given."""
    if requested is None or requested.lower() == current.lower():
        return KeyTypeChange.NONE
    return KeyTypeChange.CONFIRMED if named else KeyTypeChange.ASK
