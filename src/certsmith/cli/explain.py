"""One sentence and one next step for every error a person can meet.

``explain(error)`` never raises. It picks the catalogue entry (``certsmith/locale/<lang>.json``,
read through ``certsmith.preflight.messages.Catalogue``) in this order:

1. an ACME problem: ``error.type`` is a ``urn:ietf:params:acme:error:<suffix>`` URN (RFC 8555
   section 6.7); the suffix picks ``problem.<suffix>``. Problems are read by shape, not class,
   because a compound problem's subproblems and a challenge's error may be plain documents.
   Before that, the CA's ``detail`` is read for the cases one type does not tell apart: a paused
   account (``paused`` and an unpause URL) and a failure from the CA's other vantage points
   (``During secondary validation:``). ``compound`` gives one line per subproblem in ``detail``.
   An error that carries a ``problem`` (``ValidationFailed``) is explained by that problem.
2. otherwise the error's class: ``ERROR_KEYS`` maps exception classes to catalogue keys, and the
   first class of the error's MRO found there wins, so a subclass without its own entry (say
   ``HostPortError``) gets its parent's (``UsageError``);
3. otherwise ``error.unknown``.

``detail`` is what the CA or the exception said, for showing under the sentence.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from certsmith.acme.errors import (
    AcmeError,
    CertificateNotTrusted,
    NotAnAcmeDirectory,
    PollTimeout,
    ProtocolViolation,
    TransportError,
    ValidationFailed,
)
from certsmith.errors import (
    CertsmithError,
    FolderNotWritable,
    LineageCorrupt,
    LockHeld,
    ManualRenewalNeedsHook,
    PortInUse,
    PreflightFailed,
    SelfCheckFailed,
    SolverError,
    StorageError,
    UsageError,
)
from certsmith.preflight.messages import Catalogue
from certsmith.renewal.install import InstallError

_URN_PREFIXES = ("urn:ietf:params:acme:error:", "urn:acme:error:")
_URL_RE = re.compile(r"https?://[^\s\"'<>]+")
_RETRY_AFTER_RE = re.compile(r"retry after (\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:\s*UTC)?", re.I)
_SECONDARY_RE = re.compile(r"during secondary (validation|caa checking)", re.I)
_PAUSED_RE = re.compile(r"\bpaused\b|unpause", re.I)
# A problem about a whole order names no identifier; its detail usually does ("... for
# "www.example.com": ..." or "... certificates for www.example.com and ...").
_NAME_IN_DETAIL_RE = re.compile(
    r"\bfor \"?(\*?\.?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62})\b", re.I
)

# Exception class -> catalogue key of its sentence (the next step is key + ".next"). Looked up
# along the error's MRO, so only classes whose advice differs from their parent's are listed.
ERROR_KEYS: Mapping[type[BaseException], str] = MappingProxyType(
    {
        CertsmithError: "error.CertsmithError",
        AcmeError: "error.AcmeError",
        TransportError: "error.TransportError",
        CertificateNotTrusted: "error.CertificateNotTrusted",
        ProtocolViolation: "error.ProtocolViolation",
        NotAnAcmeDirectory: "error.NotAnAcmeDirectory",
        ValidationFailed: "error.ValidationFailed",
        PollTimeout: "error.PollTimeout",
        UsageError: "error.UsageError",
        ManualRenewalNeedsHook: "error.ManualRenewalNeedsHook",
        SolverError: "error.SolverError",
        InstallError: "error.InstallError",
        SelfCheckFailed: "error.SelfCheckFailed",
        PortInUse: "error.PortInUse",
        PreflightFailed: "error.PreflightFailed",
        StorageError: "error.StorageError",
        FolderNotWritable: "error.FolderNotWritable",
        LineageCorrupt: "error.LineageCorrupt",
        LockHeld: "error.LockHeld",
        OSError: "error.OSError",
        PermissionError: "error.PermissionError",
        ConnectionError: "error.ConnectionError",
        TimeoutError: "error.TimeoutError",
    }
)


def error_key(error: object) -> str | None:
    """The catalogue key for ``error``'s class or its nearest listed ancestor; None if none."""
    for cls in type(error).__mro__:
        key = ERROR_KEYS.get(cls)
        if key is not None:
            return key
    return None


@dataclass(frozen=True)
class Explanation:
    """What went wrong (one sentence), what to do next, and the raw detail."""

    sentence: str
    next_step: str
    detail: str
    key: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "sentence": self.sentence,
            "next_step": self.next_step,
            "detail": self.detail,
            "key": self.key,
        }


def _attr(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def problem_suffix(error: Any) -> str | None:
    """``"caa"`` for ``urn:ietf:params:acme:error:caa``; None if not an ACME problem type."""
    kind = _attr(error, "type")
    if not isinstance(kind, str):
        return None
    for prefix in _URN_PREFIXES:
        if kind.startswith(prefix) and len(kind) > len(prefix):
            return kind[len(prefix) :]
    return None


def _identifier_text(error: Any, cat: Catalogue) -> str:
    ident = _attr(error, "identifier")
    if isinstance(ident, str) and ident:
        return ident
    value = _attr(ident, "value") if ident is not None else None
    if value:
        return str(value)
    named = _NAME_IN_DETAIL_RE.search(_detail(error))
    return named.group(1) if named else cat.get("identifier.unknown")


# Python's spelling of things leaking into a message: ConnectError('All attempts failed'),
# b'<html>...', OSError(111, 'Connection refused').
_REPR_CALL_RE = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception|Timeout)\((['\"])(.*?)\1\)")
_REPR_ERRNO_RE = re.compile(r"\b[A-Z][A-Za-z]*Error\(\d+, (['\"])(.*?)\1\)")
_BYTES_RE = re.compile(r"\bb(['\"])(.*?)\1")


def sanitize(text: str) -> str:
    """``text`` without Python reprs: an exception's repr becomes its message, a bytes literal
    its content (escapes such as ``\\n`` as spaces)."""
    text = _REPR_CALL_RE.sub(lambda m: m.group(2), text)
    text = _REPR_ERRNO_RE.sub(lambda m: m.group(2), text)
    text = _BYTES_RE.sub(lambda m: '"' + re.sub(r"\\[nrt]", " ", m.group(2)) + '"', text)
    return text


def _detail(error: Any, cat: Catalogue | None = None) -> str:
    wording = getattr(error, "wording", None)  # a UsageError worded from the catalogue
    if cat is not None and isinstance(wording, tuple) and cat.has(wording[0]):
        return sanitize(cat.get(wording[0], **wording[1]))
    if cat is not None and isinstance(error, TransportError) and cat.has(f"transport.{error.code}"):
        return sanitize(_transport_detail(error, cat))
    detail = _attr(error, "detail")
    if isinstance(detail, str) and detail:
        return sanitize(detail)
    if isinstance(error, BaseException):  # a Said message (certsmith.wording) in cat's language
        return sanitize(cat.words(str(error)) if cat is not None else str(error))
    return ""


def _transport_detail(error: TransportError, cat: Catalogue) -> str:
    """The failure the ACME core names by its code (acme/retry.py), in ``cat``'s language."""
    key = "transport.detail"
    if error.attempts > 1:
        key = "transport.detail.gave_up"
    elif error.not_resent:
        key = "transport.detail.not_resent"
    what = cat.get(f"transport.{error.code}")
    return cat.get(key, request=error.request, what=what, tries=error.attempts, raw=error.raw)


def _values(error: Any) -> dict[str, Any]:
    """The placeholders an error carries for its sentence (``error.values``), if any."""
    values = getattr(error, "values", None)
    if isinstance(values, Mapping):
        return {str(k): v for k, v in values.items()}
    return {}


def _lift_time(error: Any, detail: str, now: dt.datetime) -> dt.datetime | None:
    retry_after = _attr(error, "retry_after")
    if isinstance(retry_after, dt.datetime):
        return retry_after if retry_after.tzinfo else retry_after.replace(tzinfo=dt.UTC)
    if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
        return now + dt.timedelta(seconds=max(0.0, float(retry_after)))
    if isinstance(retry_after, dt.timedelta):
        return now + retry_after
    found = _RETRY_AFTER_RE.search(detail)
    if found:
        parsed = dt.datetime.fromisoformat(found.group(1).replace(" ", "T"))
        return parsed.replace(tzinfo=dt.UTC)
    return None


def _pair(cat: Catalogue, key: str, detail: str, **values: Any) -> Explanation:
    return Explanation(cat.get(key, **values), cat.get(key + ".next", **values), detail, key)


def _explain_problem(
    error: Any, suffix: str, cat: Catalogue, now: dt.datetime, depth: int, outer: Any = None
) -> Explanation:
    detail = _detail(error)
    has_own = _attr(error, "identifier") is not None or outer is None
    ident = _identifier_text(error if has_own else outer, cat)
    url = _URL_RE.search(detail)
    if _PAUSED_RE.search(detail) and url:
        return _pair(cat, "problem.paused", detail, identifier=ident, url=url.group(0))
    # A serverInternal "During secondary validation" is the CA's own RPC failing, not ours.
    if _SECONDARY_RE.search(detail) and suffix != "serverInternal":
        return _pair(cat, "problem.secondary", detail, identifier=ident)
    if suffix == "compound" or (_attr(error, "subproblems") and depth == 0):
        return _explain_compound(error, cat, now, detail)
    if suffix == "rateLimited":
        lifts = _lift_time(error, detail, now)
        if lifts is None:
            return _pair(cat, "problem.rateLimited.unknown", detail)
        when = lifts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return _pair(cat, "problem.rateLimited", detail, when=when)
    if suffix == "userActionRequired":
        link = (
            _attr(error, "instance") or _attr(error, "tos_url") or (url.group(0) if url else None)
        )
        if link:
            return _pair(cat, "problem.userActionRequired", detail, url=link)
        return _pair(cat, "problem.userActionRequired.nourl", detail)
    key = f"problem.{suffix}"
    if cat.has(key) and cat.has(key + ".next") and suffix != "compound":
        return _pair(cat, key, detail, identifier=ident)
    return _pair(cat, "problem.other", detail, type=_attr(error, "type"))


def _explain_compound(error: Any, cat: Catalogue, now: dt.datetime, detail: str) -> Explanation:
    subs = list(_attr(error, "subproblems") or [])[:100]
    lines = []
    for sub in subs:
        suffix = problem_suffix(sub) or "other"
        inner = _explain_problem(sub, suffix, cat, now, depth=1)
        line = cat.get(
            "problem.compound.line", identifier=_identifier_text(sub, cat), sentence=inner.sentence
        )
        lines.append(f"{line} {inner.next_step}")
    text = "\n".join(lines) if lines else detail
    if lines and detail:
        text = f"{detail}\n{text}"
    return _pair(cat, "problem.compound", text, count=len(subs))


def explain(
    error: BaseException | Any,
    *,
    catalogue: Catalogue | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> Explanation:
    """Explain ``error`` in one sentence with a next step; never raises.

    ``now`` (UTC) turns a ``retry_after`` given in seconds into the time a rate limit lifts.
    """
    cat = catalogue or Catalogue()
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    try:
        suffix = problem_suffix(error)
        inner = _attr(error, "problem")
        if suffix is None and inner is not None and problem_suffix(inner) is not None:
            # A challenge's error object names no identifier; the wrapping error does.
            suffix = problem_suffix(inner) or "other"
            return _explain_problem(inner, suffix, cat, clock(), 0, outer=error)
        if suffix is not None:
            return _explain_problem(error, suffix, cat, clock(), 0)
        detail = _detail(error, cat)
        key = error_key(error)
        chosen = getattr(error, "catalogue_key", None)  # a variant of the class's sentence
        if isinstance(chosen, str) and cat.has(chosen):
            key = chosen
        if key is not None:
            values = {"identifier": _identifier_text(error, cat), **_values(error)}
            return _pair(cat, key, detail, **values)
        return _pair(cat, "error.unknown", detail)
    except Exception:  # explaining must never be the thing that fails
        return Explanation(
            cat.get("error.unknown"), cat.get("error.unknown.next"), "", "error.unknown"
        )
