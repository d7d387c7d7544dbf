"""certbot's closing block of `renew`, which scripts and monitoring grep for.

certbot 5.8.0 (``renewal._renew_describe_results``) ends a run with, in this order::

    Certificate not yet due for renewal                       (once per lineage not due)
    The following certificates are not due for renewal yet:
      FULLCHAIN expires on 2027-03-06 (skipped)                (FULLCHAIN: its path)
    No renewals were attempted.                               (when none was renewed or failed)
    No hooks were run.                                        (the same, when a hook was given)

certsmith prints the same facts in the same English words (once for the first line, not once per
lineage), in the catalogue's language otherwise, before its own one-line summary. The fullchain
path is the one the renewal conf names (certbot's ``renewal_candidate.fullchain``); the date is
the deployed certificate's notAfter, from the renewal cache when it holds the deployed revision,
else from the certificate itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from certsmith.cli.console import Console
from certsmith.errors import CertsmithError
from certsmith.storage.interface import Stores


@dataclass(frozen=True)
class Skipped:
    """A lineage `renew` left alone: where its full chain is, and when it expires."""

    fullchain: str
    expires: datetime.datetime | None  # None: the certificate could not be read


def skipped_lineages(stores: Stores, names: Sequence[str]) -> list[Skipped]:
    """The not-due lineages ``names`` as certbot lists them; unreadable ones are left out (the
    run already reported them)."""
    found: list[Skipped] = []
    for name in names:
        try:
            conf = stores.lineages.read_conf(name)
            fullchain = conf.path("fullchain")
        except CertsmithError:
            continue
        state = stores.states.load(name, stores.lineages.revision(name, conf))
        expires = state.not_after if state is not None else _read_expiry(stores, name)
        found.append(Skipped(fullchain, expires))
    return found


def _read_expiry(stores: Stores, name: str) -> datetime.datetime | None:
    from certsmith import crypto  # only when the cache lacks the deployed certificate

    try:
        pem = stores.lineages.read_live_cert(name)
        return crypto.load_certificates(pem)[0].not_valid_after_utc
    except (CertsmithError, ValueError):
        return None


def say_certbot_block(
    console: Console, skipped: Sequence[Skipped], *, attempted: bool, hooks_given: bool
) -> None:
    """certbot's lines (see the module doc). ``attempted``: a lineage was renewed or failed."""
    if skipped:
        console.say(console.message("renew.certbot_not_due"))
        console.say(console.message("renew.certbot_skipped_head"))
        for entry in skipped:
            expires = entry.expires.strftime("%Y-%m-%d") if entry.expires else "?"
            console.say(
                console.message("renew.certbot_skipped", fullchain=entry.fullchain, expires=expires)
            )
    if not attempted:
        console.say(console.message("renew.certbot_none_attempted"))
        if hooks_given:
            console.say(console.message("renew.certbot_no_hooks"))
