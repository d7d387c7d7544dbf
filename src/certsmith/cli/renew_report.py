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
the deployed certificate's notAfter.

Both come from the quick index (``RenewalStateCache.quick``), so the block costs no file read:
every lineage `renew` reports not due was decided in this run either from its index entry, after
the two stats that show its conf and certificate unchanged (or a read of its conf), or by a look
that wrote the entry anew (renewal/check.py, renewal/due.py). A lineage whose entry lacks them
(its conf's revision could not be read) is read as before: its conf, then the renewal cache or
the certificate itself.
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
    """The not-due lineages ``names`` (decided in this run: see the module doc) as certbot lists
    them; unreadable ones are left out (the run already reported them)."""
    found: list[Skipped] = []
    for name in names:
        entry = stores.states.quick(name)
        if entry is not None and entry.fullchain and entry.not_after is not None:
            indexed = datetime.datetime.fromtimestamp(entry.not_after, datetime.UTC)
            found.append(Skipped(entry.fullchain, indexed))
            continue
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
        lines = []
        for entry in skipped:
            expires = entry.expires.strftime("%Y-%m-%d") if entry.expires else "?"
            lines.append(
                console.message("renew.certbot_skipped", fullchain=entry.fullchain, expires=expires)
            )
        console.say("\n".join(lines))  # one write: a line each is 100,000 writes in a fleet
    if not attempted:
        console.say(console.message("renew.certbot_none_attempted"))
        if hooks_given:
            console.say(console.message("renew.certbot_no_hooks"))
