"""Would a CA's CAA check let it issue for this name? (RFC 8659, RFC 8657.)

``check_caa`` does what the CA does before issuing, with the same resolver the rest of certsmith
uses (``certsmith.dnsutil.make_resolver``):

1. Relevant RRset (RFC 8659 section 3): look up CAA at the name (``*.`` removed), then at each
   parent up to the TLD, and stop at the first non-empty RRset. The lookup follows CNAMEs as
   ordinary resolution does; the climb goes on with the *original* name's parents.
   NXDOMAIN and NODATA continue the climb; SERVFAIL, REFUSED or a timeout stop it with verdict
   ``"error"``, because the CA refuses to issue when it cannot get an answer (Let's Encrypt fails
   closed, also when the failure is above a name that has no records).
2. Evaluation (RFC 8659 section 4): an unknown tag with the critical flag forbids; a wildcard
   name uses ``issuewild`` properties when there are any, else ``issue``; a non-wildcard name
   ignores ``issuewild``; with no relevant property any CA may issue; otherwise one property must
   name our CA, and its RFC 8657 parameters (``accounturi``, ``validationmethods``) must fit.

Where Let's Encrypt (Boulder) is stricter than the RFC, ``LETSENCRYPT`` (the default policy)
follows it: flag bit 1 also counts as critical, the issuer domain name is compared exactly, a
parameter tag with a hyphen makes the property malformed. See docs/caa.md.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from certsmith.errors import UsageError
from certsmith.preflight.caa_record import CaaRecord, CaaSyntaxError, parse_issue_value
from certsmith.preflight.messages import Catalogue
from certsmith.wording import said

Verdict = Literal["allowed", "forbidden", "error"]

_METHOD_LABEL_RE = re.compile(r"^[A-Za-z0-9-]+$")
_RCODE_RE = re.compile(r"\b(SERVFAIL|REFUSED|FORMERR|NOTIMP|NOTAUTH|YXDOMAIN)\b")


@dataclass(frozen=True)
class CaaPolicy:
    """How strictly to read CAA: the RFC's letter, or a CA's stricter practice."""

    name: str
    critical_mask: int
    issuer_case_sensitive: bool
    hyphen_in_parameter_tag: bool
    known_tags: frozenset[str] = frozenset({"issue", "issuewild", "iodef"})


RFC8659 = CaaPolicy("rfc8659", 128, issuer_case_sensitive=False, hyphen_in_parameter_tag=True)
# Boulder treats flag bit 1 as an alias of the critical bit, compares the issuer domain name
# byte for byte and accepts only letters and digits in parameter tags.
LETSENCRYPT = CaaPolicy(
    "letsencrypt", 128 | 1, issuer_case_sensitive=True, hyphen_in_parameter_tag=False
)


@dataclass(frozen=True)
class CaaResult:
    """The verdict for one name. ``records`` are the relevant RRset in presentation form."""

    domain: str
    verdict: Verdict
    reason: str
    reason_key: str
    relevant_domain: str | None = None
    records: list[str] = field(default_factory=list)
    caveat: str | None = None
    canonical_name: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "allowed"

    def to_json(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "verdict": self.verdict,
            "reason": self.reason,
            "reason_key": self.reason_key,
            "relevant_domain": self.relevant_domain,
            "records": list(self.records),
            "caveat": self.caveat,
            "canonical_name": self.canonical_name,
        }


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one relevant RRset: verdict, message key and its values."""

    verdict: Verdict
    key: str
    values: dict[str, str]
    caveat_key: str | None = None


class _LookupFailed(Exception):
    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name, self.problem = name, problem


def _issuers(issuer: str | list[str]) -> list[str]:
    names = [issuer] if isinstance(issuer, str) else list(issuer)
    names = [n.strip().rstrip(".") for n in names if n.strip()]
    if not names:
        raise UsageError(said("caa.no_issuer"))
    return names


def _matches(listed: str, ours: list[str], policy: CaaPolicy) -> bool:
    if policy.issuer_case_sensitive:
        return listed in ours
    return listed.lower() in {o.lower() for o in ours}


def evaluate(
    records: list[CaaRecord],
    issuers: list[str],
    *,
    wildcard: bool,
    account_uri: str | None = None,
    method: str | None = None,
    policy: CaaPolicy = LETSENCRYPT,
) -> Evaluation:
    """Decide on a non-empty relevant RRset (RFC 8659 section 4, RFC 8657 sections 3-4)."""
    for rec in records:
        if rec.flags & policy.critical_mask and rec.tag_lower not in policy.known_tags:
            return Evaluation("forbidden", "caa.forbidden.critical", {"tag": rec.tag})
    issue = [r for r in records if r.tag_lower == "issue"]
    issuewild = [r for r in records if r.tag_lower == "issuewild"]
    prop, relevant = ("issuewild", issuewild) if wildcard and issuewild else ("issue", issue)
    base = {"property": prop, "issuer": issuers[0]}
    if not relevant:
        return Evaluation("allowed", "caa.allowed.unrestricted", base)

    # Reasons a property did not authorise us, most specific first.
    misses: dict[str, dict[str, str]] = {}
    listed: list[str] = []
    conditional: str | None = None
    for rec in relevant:
        value = parse_issue_value(rec.value_text)
        if value.issuer:
            listed.append(value.issuer)
        problem = value.malformed
        if problem is None and not policy.hyphen_in_parameter_tag:
            problem = next((f"parameter tag {k!r}" for k, _ in value.parameters if "-" in k), None)
        if not value.issuer:
            continue
        if not _matches(value.issuer, issuers, policy):
            if _matches(value.issuer, issuers, RFC8659):
                misses.setdefault("case", {**base, "listed": value.issuer})
            continue
        if problem is not None:
            misses.setdefault("malformed", {**base, "problem": problem})
            continue
        accounts = value.parameter_values("accounturi")
        methods = value.parameter_values("validationmethods")
        if len(accounts) > 1 or len(methods) > 1:
            misses.setdefault("malformed", {**base, "problem": "a parameter appears twice"})
            continue
        needs: str | None = None
        if accounts:
            if account_uri is None:
                needs = "caa.caveat.account"
            elif accounts[0] != account_uri:
                misses.setdefault(
                    "account", {**base, "allowed": accounts[0], "account": account_uri}
                )
                continue
        if methods:
            labels = methods[0].split(",")
            if not all(_METHOD_LABEL_RE.match(m) for m in labels):
                misses.setdefault(
                    "malformed", {**base, "problem": f"validationmethods={methods[0]}"}
                )
                continue
            if method is None:
                needs = needs or "caa.caveat.method"
            elif method not in labels:
                misses.setdefault("method", {**base, "methods": methods[0], "method": method})
                continue
        if needs is None:
            return Evaluation("allowed", "caa.allowed.listed", base)
        conditional = conditional or needs
    if conditional is not None:
        return Evaluation("allowed", "caa.allowed.listed", base, caveat_key=conditional)
    for kind in ("account", "method", "case", "malformed"):
        if kind in misses:
            return Evaluation("forbidden", f"caa.forbidden.{kind}", misses[kind])
    if not listed:
        return Evaluation("forbidden", "caa.forbidden.nobody", base)
    return Evaluation(
        "forbidden", "caa.forbidden.not_listed", {**base, "listed": ", ".join(listed)}
    )


def _problem_of(exc: dns.exception.DNSException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "timeout"
    found = _RCODE_RE.search(str(exc))
    return found.group(1) if found else type(exc).__name__


async def lookup_caa(
    resolver: dns.asyncresolver.Resolver, name: str
) -> tuple[list[CaaRecord], str | None]:
    """The CAA RRset at ``name`` after CNAMEs, and the canonical name if a CNAME was followed.

    Empty for NXDOMAIN and NODATA; raises ``_LookupFailed`` for SERVFAIL, REFUSED, timeouts.
    """
    qname = dns.name.from_text(name)
    try:
        answer = await resolver.resolve(qname, "CAA", raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return [], None
    except dns.exception.DNSException as exc:
        raise _LookupFailed(name, _problem_of(exc)) from exc
    canonical = answer.canonical_name
    alias = canonical.to_text(omit_final_dot=True) if canonical != qname else None
    if answer.rrset is None or answer.rrset.rdtype != dns.rdatatype.CAA:
        return [], alias
    records = []
    for rdata in answer.rrset:
        try:
            records.append(CaaRecord.from_rdata(rdata))
        except CaaSyntaxError:
            records.append(CaaRecord(rdata.flags, "invalid", bytes(rdata.value)))
    return records, alias


def _climb(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


async def check_caa(
    domain: str,
    issuer: str | list[str],
    *,
    resolver: dns.asyncresolver.Resolver,
    account_uri: str | None = None,
    method: str | None = None,
    policy: CaaPolicy = LETSENCRYPT,
    catalogue: Catalogue | None = None,
) -> CaaResult:
    """Predict the CA's CAA decision for ``domain`` (may be ``*.name``) and CA ``issuer``.

    ``issuer`` is the CA's CAA identity (``"letsencrypt.org"``) or several of them.
    ``account_uri`` and ``method`` (``"http-01"``, ``"dns-01"``...) are checked against RFC 8657
    parameters; when a parameter is present but the value is not known the verdict is
    ``"allowed"`` with a ``caveat`` saying what could not be checked. Raises ``UsageError`` for a
    name that is not a DNS name; never raises for DNS failures (verdict ``"error"``).
    """
    cat = catalogue or Catalogue()
    issuers = _issuers(issuer)
    name = domain.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return CaaResult(domain, "allowed", cat.get("caa.ip", domain=domain), "caa.ip")
    wildcard = name.startswith("*.")
    lookup_name = name[2:] if wildcard else name
    try:
        dns.name.from_text(lookup_name)
    except dns.exception.DNSException as exc:
        raise UsageError(said("caa.bad_name_because", name=repr(domain), reason=exc)) from None
    if not lookup_name or "*" in lookup_name:
        raise UsageError(said("caa.bad_name", name=repr(domain)))

    for candidate in _climb(lookup_name):
        try:
            records, alias = await lookup_caa(resolver, candidate)
        except _LookupFailed as failure:
            key = "caa.error.lookup"
            text = cat.get(key, name=failure.name, problem=failure.problem)
            return CaaResult(domain, "error", text, key, relevant_domain=failure.name)
        if not records:
            continue
        ev = evaluate(
            records, issuers, wildcard=wildcard, account_uri=account_uri, method=method,
            policy=policy,
        )  # fmt: skip
        values = {**ev.values, "domain": domain, "relevant": candidate}
        caveat = None
        if ev.caveat_key:
            caveat = cat.get(ev.caveat_key, **values)
        return CaaResult(
            domain,
            ev.verdict,
            cat.get(ev.key, **values),
            ev.key,
            relevant_domain=candidate,
            records=sorted(r.to_text() for r in records),
            caveat=caveat,
            canonical_name=alias,
        )
    key = "caa.none"
    return CaaResult(domain, "allowed", cat.get(key, domain=domain), key)
