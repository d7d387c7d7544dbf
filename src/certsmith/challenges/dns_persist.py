"""dns-persist-01 (draft-ietf-acme-dns-persist, as Pebble 2.10 implements it): the record.

One TXT record at ``_validation-persist.<name>`` authorizes a CA (by its issuer domain name)
and one ACME account (by its URL) to validate ``<name>``, for as long as it stays published::

    _validation-persist.example.org. IN TXT "pebble.letsencrypt.org; accounturi=https://ca/acct/1"

The value is an RFC 8659 issue-value: the issuer domain name, then ``tag=value`` parameters
separated by ``;`` (tags compared case-insensitively):

- ``accounturi`` (mandatory): the ACME account URL, exactly as the CA's Location header gave it;
- ``policy=wildcard`` (optional): the record also covers ``*.<name>`` and names below it;
- ``persistUntil`` (optional): a Unix time after which the CA no longer accepts the record.

Nothing here touches the network: ``persist_owner`` and ``PersistRecord.to_text`` build the
record, ``evaluate`` says whether the TXT values found at an owner name would let this CA and
this account validate a name (the pre-flight and the solver's last check both use it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from certsmith.acme.identifier import Identifier
from certsmith.errors import SolverError
from certsmith.wording import said

CHALLENGE_TYPE = "dns-persist-01"
OWNER_LABEL = "_validation-persist"
_HOST_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_WSP = " \t"


def _is_value_char(char: str) -> bool:
    # RFC 8659 section 4.2 `value`: %x21-3A / %x3C-7E (printable ASCII but ";" and space).
    code = ord(char)
    return 0x21 <= code <= 0x3A or 0x3C <= code <= 0x7E


def persist_owner(identifier: Identifier | str) -> str:
    """``_validation-persist.<name>``: a wildcard's ``*.`` is dropped (the record at the base
    name covers it with ``policy=wildcard``). Anything but an LDH host name raises
    ``SolverError``: a record written elsewhere would authorize another name."""
    value = identifier.value if isinstance(identifier, Identifier) else identifier
    if isinstance(identifier, Identifier) and identifier.type != "dns":
        kind = "dns-persist-01"
        why = said("challenge.identifier_type", kind=kind, type=identifier.type, value=value)
        raise SolverError(why)
    name = value.removeprefix("*.").removesuffix(".").lower()
    if len(name) > 253 or not all(_HOST_LABEL_RE.fullmatch(x) for x in name.split(".")):
        raise SolverError(
            said("challenge.not_dns_name", name=repr(value[:300]), kind="dns-persist-01")
        )
    return f"{OWNER_LABEL}.{name}"


@dataclass(frozen=True)
class PersistRecord:
    """One dns-persist-01 TXT value."""

    issuer: str
    account_uri: str
    wildcard: bool = False
    persist_until: int | None = None  # Unix seconds

    def __post_init__(self) -> None:
        if not self.issuer or any(c in self.issuer for c in "; \t"):
            raise ValueError(f"{self.issuer!r} is not an issuer domain name")
        if not self.account_uri or not all(_is_value_char(c) for c in self.account_uri):
            raise ValueError(f"{self.account_uri!r} cannot be written as an accounturi value")

    def to_text(self) -> str:
        """The TXT value, ready for a zone file (in quotes) or a DNS provider's form."""
        parts = [self.issuer, f"accounturi={self.account_uri}"]
        if self.wildcard:
            parts.append("policy=wildcard")
        if self.persist_until is not None:
            parts.append(f"persistUntil={self.persist_until}")
        return "; ".join(parts)

    @classmethod
    def parse(cls, text: str) -> PersistRecord:
        """Read a TXT value as the CA does; ``ValueError`` names what is malformed.

        As the draft says (and Pebble does): an unknown ``policy`` value counts as no policy,
        unknown tags are ignored, a repeated tag or an empty parameter is malformed.
        """
        issuer, *params = text.split(";")
        issuer = issuer.strip(_WSP)
        if not issuer:
            raise ValueError("no issuer domain name")
        seen: dict[str, str] = {}
        for raw in params:
            param = raw.strip(_WSP)
            if not param:
                raise ValueError("an empty parameter (a stray ';')")
            tag, sep, value = param.partition("=")
            tag, value = tag.strip(_WSP), value.strip(_WSP)
            if not sep or not tag:
                raise ValueError(f"{param!r} is not a tag=value pair")
            if tag.lower() in seen:
                raise ValueError(f"the tag {tag!r} appears twice")
            if not all(_is_value_char(c) for c in value):
                raise ValueError(f"the value of {tag!r} has a space or a character not allowed")
            seen[tag.lower()] = value
        account = seen.get("accounturi", "")
        if not account:
            raise ValueError("no accounturi")
        until = seen.get("persistuntil")
        if until is not None and not re.fullmatch(r"-?[0-9]{1,19}", until):
            raise ValueError(f"persistUntil={until!r} is not a Unix time")
        return cls(
            issuer,
            account,
            wildcard=seen.get("policy", "").lower() == "wildcard",
            persist_until=int(until) if until is not None else None,
        )


class Finding(StrEnum):
    """What the TXT values at an owner name mean for one CA, account and name (best first)."""

    OK = "ok"
    MALFORMED = "malformed"  # a record for this CA the CA would reject as malformed
    OTHER_ACCOUNT = "other_account"
    NO_WILDCARD = "no_wildcard"
    EXPIRED = "expired"
    OTHER_CA = "other_ca"  # TXT values, none for this CA
    MISSING = "missing"  # no TXT value at all


@dataclass(frozen=True)
class Verdict:
    finding: Finding
    record: PersistRecord | None = None  # the record the finding is about
    detail: str = ""  # the parse error (MALFORMED), the issuers found (OTHER_CA)

    @property
    def ok(self) -> bool:
        return self.finding is Finding.OK


_RANK = list(Finding)


def evaluate(
    values: Iterable[str],
    issuers: Iterable[str],
    account_uri: str | None,
    *,
    wildcard: bool,
    now: datetime,
) -> Verdict:
    """Whether one of ``values`` lets a CA known by ``issuers`` validate a name for
    ``account_uri`` (``wildcard``: for ``*.<name>``) at ``now``; else the nearest miss.

    Records of other CAs are skipped, as the CA skips them; issuer names compare without case
    and trailing dot. ``account_uri`` None (no account yet) matches no record.
    """
    wanted = {i.lower().rstrip(".") for i in issuers}
    texts = list(values)
    best = Verdict(Finding.MISSING)
    others: list[str] = []
    for text in texts:
        issuer = text.split(";", 1)[0].strip(_WSP)
        if issuer.lower().rstrip(".") not in wanted:
            others.append(issuer or "(no issuer)")
            continue
        verdict = _one(text, account_uri, wildcard, now)
        if verdict.ok:
            return verdict
        if _RANK.index(verdict.finding) < _RANK.index(best.finding):
            best = verdict
    if best.finding is Finding.MISSING and others:
        return Verdict(Finding.OTHER_CA, detail=", ".join(sorted(set(others))))
    return best


def _one(text: str, account_uri: str | None, wildcard: bool, now: datetime) -> Verdict:
    try:
        record = PersistRecord.parse(text)
    except ValueError as exc:
        return Verdict(Finding.MALFORMED, detail=str(exc))
    if record.account_uri != account_uri:
        return Verdict(Finding.OTHER_ACCOUNT, record)
    if wildcard and not record.wildcard:
        return Verdict(Finding.NO_WILDCARD, record)
    if record.persist_until is not None and now.timestamp() > record.persist_until:
        return Verdict(Finding.EXPIRED, record)
    return Verdict(Finding.OK, record)


def until_text(record: PersistRecord | None) -> str:
    """``persistUntil`` of ``record`` as an ISO 8601 UTC time, for messages."""
    if record is None or record.persist_until is None:
        return ""
    try:
        moment = datetime.fromtimestamp(record.persist_until, UTC)
    except (OverflowError, OSError, ValueError):
        return str(record.persist_until)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
