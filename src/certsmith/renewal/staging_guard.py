"""Test certificates never silently replace real ones, nor the other way round.

certbot (``_internal/renewal.py`` ``_avoid_invalidating_lineage``) refuses to renew or replace a
lineage of a production CA with a certificate from a staging CA unless ``--break-my-certs``;
certsmith does the same, and also refuses the reverse (an explicit ``--server`` of a production
CA on a lineage of test certificates, which would start spending that CA's rate limits on it).
A dry run is exempt, as in certbot: it never saves what it gets.
"""

from __future__ import annotations

from collections.abc import Sequence

from certsmith.acme.identifier import Identifier
from certsmith.ca_urls import LETSENCRYPT_STAGING
from certsmith.errors import UsageError
from certsmith.wording import said

__all__ = ["check_staging_switch", "is_staging"]


def is_staging(server: str) -> bool:
    """Whether ``server`` is a test CA: certbot's rule (util.is_staging), so both tools agree."""
    return server == LETSENCRYPT_STAGING or "staging" in server


def check_staging_switch(
    lineage_server: str,
    new_server: str,
    identifiers: Sequence[Identifier],
    *,
    break_my_certs: bool,
    dry_run: bool,
) -> None:
    """Raise UsageError when a certificate from ``new_server`` would replace a lineage whose
    certificates come from ``lineage_server`` and exactly one of the two is a test CA."""
    if break_my_certs or dry_run or is_staging(new_server) == is_staging(lineage_server):
        return
    names = ", ".join(i.value for i in identifiers)
    if is_staging(new_server):  # certbot's message, word for word
        raise UsageError(said("engine.staging_replaces_real", names=names))
    raise UsageError(said("engine.real_replaces_staging", names=names, server=new_server))
