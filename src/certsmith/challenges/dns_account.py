"""dns-account-01 (draft-ietf-acme-dns-account-label): dns-01 at a name of the account's own.

The TXT value is dns-01's (base64url of the SHA-256 of the key authorization); only the owner
name changes, so several ACME accounts (a cluster, a CDN and its origin) can validate the same
name at the same time without overwriting each other's record::

    "_" || base32(SHA-256(<account URL>)[0:10]) || "._acme-challenge." || <name>

base32 is RFC 4648's, lowercased; ten bytes are 16 characters without padding. Pebble 2.10
computes the same label (va.validateDNSAccount01).
"""

from __future__ import annotations

import base64
import hashlib

CHALLENGE_TYPE = "dns-account-01"


def account_label(account_url: str) -> str:
    """The account's label, with its leading underscore (e.g. ``_ujmmovf2vn55tgye``)."""
    digest = hashlib.sha256(account_url.encode("utf-8")).digest()[:10]
    return "_" + base64.b32encode(digest).decode("ascii").lower()


def account_challenge_name(acme_challenge_name: str, account_url: str) -> str:
    """``_<label>._acme-challenge.<name>`` from dns-01's ``_acme-challenge.<name>``."""
    return f"{account_label(account_url)}.{acme_challenge_name}"
