"""What a corpus line leaves behind, normalised so certbot's and certsmith's runs compare.

``snapshot(base, steps)`` reads one tool's folder after its steps: the exit class of each step,
the files under live/, archive/ and renewal/, every renewal conf (paths relative to the tool's
folder, account ids mapped, ``version`` dropped), the hook log, and the facts a script reads
from the output (saved paths, "not yet due", the ``certificates`` fields). ``differences(a, b)``
names each aspect that differs: ``status``, ``files``, ``conf``, ``hooks``, ``facts``.

``intended.toml`` entries: ``line`` (an id, a list of ids, or "*" for every line), ``aspect``
(one, or a list: the entry stands for each line and aspect), ``what``, ``why``;
"*" entries may list ``ignore_files`` (globs), ``ignore_conf_keys`` and ``default_conf_values``
(a key whose value is the default compares as a missing key).
"""

from __future__ import annotations

import datetime
import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from certsmith.errors import LineageCorrupt
from certsmith.storage import RenewalConf
from support.corpus import StepResult


@dataclass(frozen=True)
class Intended:
    line: str
    aspect: str
    what: str
    why: str


@dataclass(frozen=True)
class Rules:
    intended: tuple[Intended, ...]
    ignore_files: tuple[str, ...]
    ignore_conf_keys: frozenset[str]
    default_conf_values: dict[str, str]

    def listed(self, line: str) -> set[str]:
        return {i.aspect for i in self.intended if i.line == line}


def load_rules(path: Path) -> Rules:
    data = tomllib.loads(path.read_text())
    entries = data.get("difference", [])
    for entry in entries:
        assert {"line", "aspect", "what", "why"} <= set(entry), entry
    return Rules(
        intended=tuple(
            Intended(line, aspect, e["what"], e["why"])
            for e in entries
            for line in _as_list(e["line"])
            for aspect in _as_list(e["aspect"])
        ),
        ignore_files=tuple(f for e in entries for f in e.get("ignore_files", [])),
        ignore_conf_keys=frozenset(k for e in entries for k in e.get("ignore_conf_keys", [])),
        default_conf_values={
            k: v for e in entries for k, v in e.get("default_conf_values", {}).items()
        },
    )


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@dataclass
class Snapshot:
    status: list[str]
    files: list[str]
    confs: dict[str, dict[str, str]]
    hooks: list[str]
    facts: list[set[tuple[str, ...]]]
    versions: dict[str, int] = field(default_factory=dict)


def status_class(code: int) -> str:
    return "ok" if code == 0 else "timeout" if code < 0 else "error"


def snapshot(base: Path, steps: list[StepResult], rules: Rules) -> Snapshot:
    etc = base / "etc"
    hooks_log = base / "hooks.log"
    hooks = hooks_log.read_text().splitlines() if hooks_log.exists() else []
    return Snapshot(
        status=[status_class(s.returncode) for s in steps],
        files=tree(etc, rules),
        confs=read_confs(etc, base, rules),
        hooks=sorted(_norm(h, base) for h in hooks),
        facts=[facts(_norm(s.output, base), base) for s in steps],
        versions=versions(etc),
    )


def tree(etc: Path, rules: Rules) -> list[str]:
    found: list[str] = []
    for top in ("live", "archive", "renewal"):
        if (etc / top).exists():
            for path in (etc / top).rglob("*"):
                link = f" -> {os.readlink(path)}" if path.is_symlink() else ""
                found.append(f"{path.relative_to(etc)}{link}")
    return sorted(f for f in found if not any(fnmatch.fnmatch(f, g) for g in rules.ignore_files))


def read_confs(etc: Path, base: Path, rules: Rules) -> dict[str, dict[str, str]]:
    confs: dict[str, dict[str, str]] = {}
    for path in sorted((etc / "renewal").glob("*.conf")) if (etc / "renewal").exists() else []:
        try:
            conf = RenewalConf.parse(path.read_text())
        except LineageCorrupt as err:  # a conf certsmith cannot read is a difference
            confs[path.name] = {"unreadable": type(err).__name__}
            continue
        values: dict[str, str] = {}
        params = conf.renewalparams
        pairs = [*conf.root.values.items(), *params.values.items()]
        for section, sub in params.sections.items():
            pairs += [(f"{section}.{k}", v) for k, v in sub.values.items()]
        for key, value in pairs:
            if key == "version" or key in rules.ignore_conf_keys:
                continue
            if rules.default_conf_values.get(key) == str(value):
                continue  # written by one tool, implied by the other's missing key
            values[key] = "{account}" if key == "account" else _norm(str(value), base)
        confs[path.name] = values
    return confs


def versions(etc: Path) -> dict[str, int]:
    archive = etc / "archive"
    if not archive.exists():
        return {}
    return {d.name: len(list(d.glob("cert*.pem"))) for d in archive.iterdir() if d.is_dir()}


def _norm(text: str, base: Path) -> str:
    """The tool's folder as {base}, the line's (webroots, CSR, hooks) as {line}."""
    return text.replace(str(base), "{base}").replace(str(base.parent), "{line}")


SAVED = re.compile(r"^(Certificate|Key|Full certificate chain|Chain) is saved at:\s+(\S+)", re.M)
RENEW_LINE = re.compile(r"^\s+(\S+/fullchain\.pem) expires on \S+ \((\w+)\)", re.M)
FIELD = re.compile(r"^\s+([A-Z][A-Za-z ]+): (.*)$")
MARKERS = (
    "Certificate not yet due for renewal",
    "No certificates found.",
    "The dry run was successful.",
    "No renewals were attempted.",
)


def facts(output: str, base: Path) -> set[tuple[str, ...]]:
    """What a script reads from certbot's output, as comparable tuples."""
    found: set[tuple[str, ...]] = {("saved", kind, path) for kind, path in SAVED.findall(output)}
    found |= {("renew", path, word) for path, word in RENEW_LINE.findall(output)}
    found |= {("marker", m) for m in MARKERS if m in output}
    found |= {("email", e.strip()) for e in re.findall(r"Email contacts?: (.*)", output)}
    found |= _listing(output, base)
    return found


def _listing(output: str, base: Path) -> set[tuple[str, ...]]:
    """`certificates` entries: name, identifiers, paths, and whether the expiry is the file's."""
    entries: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in output.splitlines():
        match = FIELD.match(line)
        if not match:
            continue
        key, value = match.groups()
        if key == "Certificate Name":
            current = entries.setdefault(value, {})
        elif current is not None:
            current[key] = value
    found: set[tuple[str, ...]] = set()
    for name, entry in entries.items():
        names = entry.get("Identifiers") or entry.get("Domains") or ""
        expiry = entry.get("Expiry Date", "")
        found.add(
            ("listed", name, names, entry.get("Certificate Path", ""),
             entry.get("Private Key Path", ""), _expiry_is_files(expiry, entry, base))
        )  # fmt: skip
    return found


def _expiry_is_files(expiry: str, entry: dict[str, str], base: Path) -> str:
    path = entry.get("Certificate Path", "").replace("{base}", str(base))
    try:
        cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
        shown = datetime.datetime.fromisoformat(expiry.split(" (")[0])
    except (OSError, ValueError):
        return "expiry unreadable"
    valid = "VALID" in expiry and "INVALID" not in expiry
    return f"expiry={'file' if shown == cert.not_valid_after_utc else shown} valid={valid}"


def differences(certbot: Snapshot, certsmith: Snapshot) -> dict[str, str]:
    """Each aspect where certsmith's run differs from certbot's, with what differs."""
    found: dict[str, str] = {}
    if certbot.status != certsmith.status:
        found["status"] = f"certbot {certbot.status}, certsmith {certsmith.status}"
    if certbot.files != certsmith.files:
        only_b = sorted(set(certbot.files) - set(certsmith.files))
        only_s = sorted(set(certsmith.files) - set(certbot.files))
        found["files"] = f"only certbot {only_b}, only certsmith {only_s}"
    if certbot.confs != certsmith.confs:
        found["conf"] = _conf_diff(certbot.confs, certsmith.confs)
    if certbot.hooks != certsmith.hooks:
        found["hooks"] = f"certbot {certbot.hooks}, certsmith {certsmith.hooks}"
    missing = [sorted(b - s) for b, s in zip(certbot.facts, certsmith.facts, strict=True)]
    if any(missing):
        found["facts"] = f"certsmith does not say {missing}"
    return found


def _conf_diff(theirs: dict[str, dict[str, str]], ours: dict[str, dict[str, str]]) -> str:
    parts: list[str] = []
    for name in sorted(set(theirs) | set(ours)):
        b, s = theirs.get(name, {}), ours.get(name, {})
        for key in sorted(set(b) | set(s)):
            if b.get(key) != s.get(key):
                parts.append(f"{name}:{key} certbot={b.get(key)!r} certsmith={s.get(key)!r}")
    return "; ".join(parts)


def cross_result(before: Snapshot, after: Snapshot, step: StepResult) -> dict[str, Any]:
    """One tool's `renew --force-renewal` over the other's folder: what it did to it."""
    kept = {
        name: sorted(k for k in conf if after.confs.get(name, {}).get(k) != conf[k])
        for name, conf in before.confs.items()
    }
    return {
        "status": status_class(step.returncode),
        "renewed": sorted(n for n, v in after.versions.items() if v > before.versions.get(n, 0)),
        "changed_keys": {n: k for n, k in kept.items() if k},
    }
