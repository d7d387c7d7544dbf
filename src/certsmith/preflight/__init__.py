"""Checks before ordering (CAA per RFC 8659/8657, DNS, reachability), and the message catalogue.

Public surface::

    check_caa(domain, issuer, *, resolver, account_uri=None, method=None) -> CaaResult
    run_preflight(identifiers, method, ca_identities, *, resolver, ...) -> list[CheckResult]
    Catalogue(locale=None)            the en/ko message catalogue (check results; the CLI's
                                      certsmith.cli.explain reads its error sentences from it)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Imported on first use (PEP 562): the message catalogue is read by every command that prints,
# and must not pull in httpx and dnspython for the checks (0.1 s of a quiet `renew`).
_WHERE = {
    "LETSENCRYPT": "caa", "RFC8659": "caa", "CaaPolicy": "caa", "CaaResult": "caa",
    "check_caa": "caa", "CaaRecord": "caa_record", "parse_caa_text": "caa_record",
    "parse_caa_wire": "caa_record", "CheckResult": "checks", "run_preflight": "checks",
    "Catalogue": "messages", "select_locale": "messages",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"certsmith.preflight.{_WHERE[name]}"), name)
