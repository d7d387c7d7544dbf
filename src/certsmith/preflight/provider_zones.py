"""Zones whose owners hand out names to others: dynamic-DNS providers and public suffixes.

Someone on ``home.iptime.org`` cannot add a record to ``iptime.org``. When the CAA record that
blocks issuance sits on such a zone, the advice must name the real ways out (another provider,
a domain of one's own) and must not suggest adding a record or skipping the check.

Two sources, both offline: the short list below of dynamic-DNS zones people meet (some, such as
iptime.org, are missing from the Public Suffix List), and the Public Suffix List itself when
the system has it (Debian's ``publicsuffix`` package: /usr/share/publicsuffix/).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# Dynamic-DNS zones whose names are handed to customers (the zone apex is the provider's).
KNOWN_DDNS_ZONES = frozenset(
    {
        "iptime.org",  # ipTIME routers (Korea)
        "duckdns.org",
        "ddns.net", "hopto.org", "zapto.org", "sytes.net", "servebeer.com",  # No-IP
        "no-ip.org", "no-ip.biz", "no-ip.info", "no-ip.net", "myftp.org", "serveftp.com",
        "dynu.net", "dynu.com", "freeddns.org", "mywire.org", "ddnsfree.com",  # Dynu
        "dyndns.org", "dynalias.com", "homeip.net", "dnsalias.net",  # Dyn
        "afraid.org", "mooo.com", "chickenkiller.com",  # FreeDNS
        "ddns.me", "myds.me", "synology.me", "diskstation.me",  # Synology
        "asuscomm.com", "tplinkdns.com", "myqnapcloud.com", "dnsupdater.de",
        "dedyn.io", "duia.us", "nsupdate.info", "spdns.de", "ipv64.net",
    }
)  # fmt: skip

PUBLIC_SUFFIX_FILES = (
    Path("/usr/share/publicsuffix/public_suffix_list.dat"),
    Path("/usr/share/publicsuffix/effective_tld_names.dat"),
)


def read_public_suffixes(lines: Iterable[str]) -> set[str]:
    """The plain rules of a Public Suffix List (comments, wildcards and exceptions skipped:
    a CAA record on a wildcard rule's parent is rare enough not to matter here)."""
    rules = set()
    for line in lines:
        rule = line.strip().split(" ", 1)[0].lower()
        if rule and not rule.startswith(("//", "*", "!")):
            rules.add(rule.encode("idna").decode("ascii") if not rule.isascii() else rule)
    return rules


def _system_suffixes(files: Iterable[Path]) -> set[str]:
    for path in files:
        try:
            with path.open(encoding="utf-8") as text:
                return read_public_suffixes(text)
        except (OSError, UnicodeError):
            continue
    return set()


def provider_zone(
    domain: str,
    record_at: str | None,
    *,
    suffix_files: Iterable[Path] = PUBLIC_SUFFIX_FILES,
) -> str | None:
    """``record_at`` when it is a zone the owner of ``domain`` cannot control (a dynamic-DNS
    zone or a public suffix strictly above ``domain``); else None."""
    if not record_at:
        return None
    zone = record_at.rstrip(".").lower()
    name = domain.removeprefix("*.").rstrip(".").lower()
    if name == zone or not name.endswith("." + zone):
        return None
    if zone in KNOWN_DDNS_ZONES or zone in _system_suffixes(suffix_files):
        return zone
    return None
