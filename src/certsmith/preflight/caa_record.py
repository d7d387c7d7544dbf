"""CAA resource records (RFC 8659 section 4) and the ``issue`` property value grammar.

Two layers, both pure and total:

- ``CaaRecord``: flags, tag and value of one RR, read from wire RDATA (``parse_caa_wire``), from
  presentation form such as ``0 issue "letsencrypt.org"`` (``parse_caa_text``), or from a dnspython
  rdata (``CaaRecord.from_rdata``), and written back (``to_wire`` / ``to_text``).
- ``IssueValue``: the value of an ``issue`` / ``issuewild`` property split into the issuer domain
  name and its ``key=value`` parameters (``parse_issue_value``). It never raises: a value that
  does not follow the grammar comes back with ``malformed`` set to the reason, and the caller
  treats it as matching no CA (RFC 8659 section 4.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CRITICAL_FLAG = 128

_TAG_RE = re.compile(r"^[A-Za-z0-9]{1,15}$")
_WSP = " \t"
# RFC 8659 section 4.2: issuer-domain-name = label *("." label);
# label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)). Parameter tags share the label syntax.
_LABEL = r"[A-Za-z0-9](?:-*[A-Za-z0-9])*"
_DOMAIN_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_PARAM_TAG_RE = re.compile(rf"^{_LABEL}$")
_PARAM_VALUE_RE = re.compile(r"^[\x21-\x3a\x3c-\x7e]*$")


class CaaSyntaxError(ValueError):
    """A CAA record's wire or presentation form is not well formed."""


@dataclass(frozen=True)
class CaaRecord:
    """One CAA RR. ``tag`` keeps its case as published; compare with ``tag_lower``."""

    flags: int
    tag: str
    value: bytes

    @property
    def critical(self) -> bool:
        """The Issuer Critical flag (bit 0, value 128) of RFC 8659 section 4.1."""
        return bool(self.flags & CRITICAL_FLAG)

    @property
    def tag_lower(self) -> str:
        """Tags are matched case-insensitively (RFC 8659 section 4.1)."""
        return self.tag.lower()

    @property
    def value_text(self) -> str:
        """The value as text; bytes outside ASCII become U+FFFD (they can match nothing)."""
        return self.value.decode("ascii", errors="replace")

    def to_wire(self) -> bytes:
        """RDATA: flags octet, tag length octet, tag, value."""
        tag = self.tag.encode("ascii")
        return bytes([self.flags, len(tag)]) + tag + self.value

    def to_text(self) -> str:
        """Presentation form, ``<flags> <tag> "<value>"``, with RFC 1035 escapes."""
        out = []
        for byte in self.value:
            if byte in (0x22, 0x5C):
                out.append("\\" + chr(byte))
            elif 0x20 <= byte < 0x7F:
                out.append(chr(byte))
            else:
                out.append(f"\\{byte:03d}")
        return f'{self.flags} {self.tag} "{"".join(out)}"'

    @classmethod
    def from_rdata(cls, rdata: Any) -> CaaRecord:
        """From a dnspython ``CAA`` rdata (``flags`` int, ``tag`` and ``value`` bytes)."""
        tag = bytes(rdata.tag)
        if not _TAG_RE.match(tag.decode("ascii", errors="replace")):
            raise CaaSyntaxError(f"CAA tag {tag!r} is not 1 to 15 letters and digits")
        return cls(int(rdata.flags), tag.decode("ascii"), bytes(rdata.value))


def parse_caa_wire(rdata: bytes) -> CaaRecord:
    """Parse CAA RDATA (RFC 8659 section 4.1); raise ``CaaSyntaxError`` if it is malformed."""
    if len(rdata) < 2:
        raise CaaSyntaxError("CAA RDATA is shorter than two octets")
    flags, tag_len = rdata[0], rdata[1]
    if not 1 <= tag_len <= 15 or len(rdata) < 2 + tag_len:
        raise CaaSyntaxError(f"CAA tag length {tag_len} is invalid")
    tag = rdata[2 : 2 + tag_len].decode("ascii", errors="replace")
    if not _TAG_RE.match(tag):
        raise CaaSyntaxError(f"CAA tag {tag!r} is not letters and digits")
    return CaaRecord(flags, tag, bytes(rdata[2 + tag_len :]))


def _unquote(text: str) -> bytes:
    """Decode a <character-string> in presentation form (RFC 1035 section 5.1)."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        body, quoted = text[1:-1], True
    else:
        body, quoted = text, False
    out = bytearray()
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            if body[i + 1 : i + 4].isdigit() and len(body[i + 1 : i + 4]) == 3:
                code = int(body[i + 1 : i + 4])
                if code > 255:
                    raise CaaSyntaxError(f"escape \\{code} is out of range")
                out.append(code)
                i += 4
                continue
            if i + 1 >= len(body):
                raise CaaSyntaxError("dangling backslash in CAA value")
            char = body[i + 1]
            i += 1
        elif char == '"' or (not quoted and char in _WSP):
            raise CaaSyntaxError("unescaped quote or space in CAA value")
        if ord(char) > 0x7E:
            raise CaaSyntaxError("non-ASCII character in CAA value")
        out.append(ord(char))
        i += 1
    return bytes(out)


def parse_caa_text(text: str) -> CaaRecord:
    """Parse ``<flags> <tag> <value>`` (value quoted or not); raise ``CaaSyntaxError``."""
    parts = text.strip().split(None, 2)
    if len(parts) != 3:
        raise CaaSyntaxError(f"{text!r} is not '<flags> <tag> <value>'")
    flags_text, tag, value_text = parts
    if not flags_text.isdigit() or int(flags_text) > 255:
        raise CaaSyntaxError(f"CAA flags {flags_text!r} is not a number from 0 to 255")
    if not _TAG_RE.match(tag):
        raise CaaSyntaxError(f"CAA tag {tag!r} is not 1 to 15 letters and digits")
    return CaaRecord(int(flags_text), tag, _unquote(value_text))


@dataclass(frozen=True)
class IssueValue:
    """An ``issue``/``issuewild`` value. ``issuer`` is ``""`` when no CA is named (``;``)."""

    issuer: str
    parameters: tuple[tuple[str, str], ...]
    malformed: str | None = None

    def parameter_values(self, tag: str) -> list[str]:
        """Every value of parameter ``tag`` (tags compare case-insensitively)."""
        return [value for key, value in self.parameters if key.lower() == tag.lower()]


def parse_issue_value(value: str) -> IssueValue:
    """Split an issue value per the RFC 8659 section 4.2 ABNF; never raises.

    ``issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]`` with
    ``parameter = tag *WSP "=" *WSP value`` and parameters separated by ``;``.
    """
    head, sep, rest = value.partition(";")
    issuer = head.strip(_WSP)
    if issuer and not _DOMAIN_RE.match(issuer):
        return IssueValue(issuer, (), f"issuer domain name {issuer!r} is not a valid domain name")
    if not sep or not rest.strip(_WSP):
        return IssueValue(issuer, ())
    params: list[tuple[str, str]] = []
    for raw in rest.split(";"):
        key, eq, val = raw.partition("=")
        key, val = key.strip(_WSP), val.strip(_WSP)
        if not eq or not _PARAM_TAG_RE.match(key):
            return IssueValue(issuer, tuple(params), f"parameter {raw.strip()!r} is not tag=value")
        if not _PARAM_VALUE_RE.match(val):
            return IssueValue(issuer, tuple(params), f"parameter value {val!r} has spaces")
        params.append((key, val))
    return IssueValue(issuer, tuple(params))


def format_issue_value(issuer: str, parameters: tuple[tuple[str, str], ...] = ()) -> str:
    """The inverse of ``parse_issue_value`` for well-formed input: ``issuer; k=v; k2=v2``."""
    if not parameters:
        return issuer if issuer else ";"
    return f"{issuer}; " + "; ".join(f"{k}={v}" for k, v in parameters)
