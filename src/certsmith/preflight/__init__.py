"""Checks before ordering (CAA per RFC 8659/8657, DNS, reachability), and the message catalogue.

Public surface::

    check_caa(domain, issuer, *, resolver, account_uri=None, method=None) -> CaaResult
    run_preflight(identifiers, method, ca_identities, *, resolver, ...) -> list[CheckResult]
    Catalogue(locale=None)            the en/ko message catalogue (check results; the CLI's
                                      certsmith.cli.explain reads its error sentences from it)
"""

from __future__ import annotations

from certsmith.preflight.caa import LETSENCRYPT, RFC8659, CaaPolicy, CaaResult, check_caa
from certsmith.preflight.caa_record import CaaRecord, parse_caa_text, parse_caa_wire
from certsmith.preflight.checks import CheckResult, run_preflight
from certsmith.preflight.messages import Catalogue, select_locale

__all__ = [
    "LETSENCRYPT",
    "RFC8659",
    "CaaPolicy",
    "CaaRecord",
    "CaaResult",
    "Catalogue",
    "CheckResult",
    "check_caa",
    "parse_caa_text",
    "parse_caa_wire",
    "run_preflight",
    "select_locale",
]
