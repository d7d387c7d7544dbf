"""A cache that lets ``renew`` skip lineages that are not due without parsing their
certificates or asking the CA: per lineage, the deployed certificate's dates and ARI certificate
id, keyed by the lineage's revision (see ``LineageStorage.revision``), and the last ARI answer
with its Retry-After. The file backend of ``interface.RenewalStateCache``.

It is also the index of the quick check (``quick``): beside the facts, each entry records the
renewal conf's revision, where the deployed certificate is found, and two moments worked out from
them (``due_at``: when the verdict turns to due; ``fetch_at``: when the CA may be asked again). A
lineage whose conf and certificate revisions are unchanged is decided from these columns and two
``stat`` calls, with no conf or certificate parsed; `renew`'s closing lines (certbot's "FULLCHAIN
expires on DATE (skipped)") come from two more columns: the conf's fullchain path and the
certificate's notAfter.

One file, ``<config_dir>/.certsmith-state/renewal-index.tsv``, one line per lineage:

    name  conf_revision  locator  revision  due_at  fetch_at  fullchain  not_after  {JSON}

(tab-separated; tab, newline, carriage return and backslash escaped in the text columns; the
JSON, the entry itself, is always the last column; its ``quick`` list holds the first five quick
columns, the two report columns are in the line alone: ~85 bytes a lineage, 8 MB in memory at
100,000). Lines written before ``fullchain`` and
``not_after`` lack those two columns and are still read; such an entry is completed from its conf
the next time the lineage is checked (check.quick_verdict). A version that predates the columns
still reads a new line's quick columns, but not its JSON: a lineage it cannot decide from the
columns alone it looks at in full (and indexes again in its own format). It is
read once and written once per run (creating a thousand small files costs more than the whole
check), to a temporary file renamed over the old one: a crash mid-write leaves the old index,
and a damaged line is skipped (that lineage gets one slow check). Writers merge their changes
into what is on disk, streaming it, so concurrent runs lose nothing but, at worst, one entry's
freshness. In memory each entry stays one string, decoded only when asked for (about 0.7 kB a
lineage). certbot ignores the file; the JSON ``cache.json`` of earlier versions is read once
when no index exists yet.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from certsmith.storage.files import ensure_dir
from certsmith.storage.renewal_conf import RenewalConf


def file_revision(path: Path | str) -> str | None:
    """The file backend's revision of a lineage: inode, mtime and size of what its live cert
    link points at (a new version is a new file). None when it cannot be read."""
    try:
        st = os.stat(path)  # noqa: PTH116 (no Path object per lineage: renew calls it 200,000 times)
    except OSError:
        return None
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


@dataclass(frozen=True)
class QuickEntry:
    """The index columns of one lineage: enough to decide an unchanged lineage without a parse.
    ``due_at``/``fetch_at`` are POSIX seconds (``math.inf``: never)."""

    conf_revision: str
    locator: str
    revision: str
    due_at: float
    fetch_at: float
    # What `renew` prints of a lineage not due: the conf's fullchain path ("": it names none)
    # and the certificate's notAfter in POSIX seconds. None in an entry written before them.
    fullchain: str | None = None
    not_after: float | None = None


@dataclass(frozen=True)
class RenewalState:
    revision: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    serial: int
    cert_id: str | None
    ari: dict[str, Any] | None = None
    revoked: bool = False  # revoked through certsmith: due at once, shown as revoked
    # The quick check's columns, set once the lineage was decided with its conf at hand.
    quick: QuickEntry | None = None

    def with_ari(self, ari: dict[str, Any] | None) -> RenewalState:
        return replace(self, ari=ari)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "revision": self.revision,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "serial": format(self.serial, "x"),
            "cert_id": self.cert_id,
            "ari": self.ari,
            "revoked": self.revoked,
        }
        if self.quick is not None:
            q = self.quick
            data["quick"] = [q.conf_revision, q.locator, q.revision, q.due_at, q.fetch_at]
            if q.fullchain is not None and q.not_after is not None:
                data["quick"] += [q.fullchain, q.not_after]
        return data

    @classmethod
    def from_json(cls, data: Any) -> RenewalState | None:
        try:
            return cls(
                revision=str(data["revision"]),
                not_before=datetime.datetime.fromisoformat(data["not_before"]),
                not_after=datetime.datetime.fromisoformat(data["not_after"]),
                serial=int(data["serial"], 16),
                cert_id=data.get("cert_id"),
                ari=data.get("ari") if isinstance(data.get("ari"), dict) else None,
                revoked=data.get("revoked") is True,
                quick=_quick_from_json(data.get("quick")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _quick_from_json(data: Any) -> QuickEntry | None:
    if not isinstance(data, list) or len(data) not in (5, 7):
        return None
    conf, locator, revision, due_at, fetch_at, *report = data
    if not all(isinstance(v, str) for v in (conf, locator, revision)):
        return None
    entry = QuickEntry(conf, locator, revision, float(due_at), float(fetch_at))
    if report and isinstance(report[0], str):  # the report's columns, since they exist
        return replace(entry, fullchain=report[0], not_after=float(report[1]))
    return entry


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def _escape(text: str) -> str:
    for raw, escaped in _ESCAPES.items():
        text = text.replace(raw, escaped)
    return text


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, chars = [], iter(text)
    for char in chars:
        out.append(_UNESCAPES.get(next(chars, ""), "") if char == "\\" else char)
    return "".join(out)


def _rest(entry: dict[str, Any]) -> str:
    """An index line after its name (no newline); the quick columns are empty when unknown."""
    q = _quick_from_json(entry.get("quick"))
    cols = (
        (_escape(q.conf_revision), _escape(q.locator), _escape(q.revision), repr(q.due_at),
         repr(q.fetch_at), _escape(q.fullchain or ""),
         "" if q.not_after is None else repr(q.not_after))
        if q else ("",) * 7
    )  # fmt: skip
    if q is not None and q.not_after is not None:  # the report columns: in the line alone
        entry = {**entry, "quick": entry["quick"][:5]}
    body = json.dumps(entry, separators=(",", ":"))
    return "\t".join((*cols, body))


def _quick_from_line(line: str) -> QuickEntry | None:
    """The quick columns of an index line: 5 (then the JSON), or 7 since the report's two."""
    cols = line.split("\t", 7)
    if len(cols) not in (6, 8) or not cols[0]:
        return None
    reported = len(cols) == 8 and bool(cols[6])
    try:
        return QuickEntry(
            _unescape(cols[0]), _unescape(cols[1]), _unescape(cols[2]), float(cols[3]),
            float(cols[4]), _unescape(cols[5]) if reported else None,
            float(cols[6]) if reported else None,
        )  # fmt: skip
    except ValueError:
        return None


class RenewalStateStore:
    """The cache of one config dir. ``save``/``delete`` change memory; ``flush`` writes.

    In memory: name -> the rest of its index line (a string; JSON decoded only by ``load``)."""

    HEADER = "certsmith-renewal-index 2"

    def __init__(self, config_dir: Path) -> None:
        self.root = Path(config_dir) / ".certsmith-state"
        self.path = self.root / "renewal-index.tsv"
        self.legacy_path = self.root / "cache.json"
        self._entries: dict[str, str] | None = None
        self._changed: set[str] = set()

    def _disk_lines(self) -> Iterator[tuple[str, str]]:
        """(name, rest of line) for every well-formed line on disk, streamed."""
        try:
            handle = self.path.open(encoding="utf-8", newline="\n")
        except FileNotFoundError:
            yield from self._legacy_lines()
            return
        except OSError:
            return
        with handle:
            try:
                if handle.readline().rstrip("\n") != self.HEADER:
                    return  # another format or a torn file: one slow run
                for line in handle:
                    name, tab, rest = line.rstrip("\n").partition("\t")
                    # A line cut short (a torn copy) lacks its JSON's closing brace.
                    if tab and name and rest.endswith("}") and rest.count("\t") >= 5:
                        yield _unescape(name), rest
            except (OSError, UnicodeDecodeError):
                return

    def _legacy_lines(self) -> Iterator[tuple[str, str]]:
        """Entries of the JSON cache earlier versions wrote (read once, then replaced)."""
        try:
            data = json.loads(self.legacy_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return
        for name, entry in data.items() if isinstance(data, dict) else ():
            if isinstance(name, str) and isinstance(entry, dict):
                yield name, _rest(entry)

    def _all(self) -> dict[str, str]:
        if self._entries is None:
            self._entries = dict(self._disk_lines())
        return self._entries

    def _decoded(self, name: str) -> dict[str, Any] | None:
        rest = self._all().get(name)
        if rest is None:
            return None
        try:
            data = json.loads(rest.rpartition("\t")[2])  # JSON: the last column (no raw tab)
        except (ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None

    def load(self, name: str, revision: str | None) -> RenewalState | None:
        """The cached state, or None when missing, unreadable or for another revision."""
        state = RenewalState.from_json(self._decoded(name))
        if state is None or revision is None or state.revision != revision:
            return None
        if state.quick is not None and state.quick.not_after is None:
            columns = self.quick(name)  # the report columns (see the module doc)
            if columns is not None and columns.not_after is not None:
                quick = replace(
                    state.quick, fullchain=columns.fullchain, not_after=columns.not_after
                )
                state = replace(state, quick=quick)
        return state

    def quick(self, name: str) -> QuickEntry | None:
        """The index columns of ``name``, without decoding its entry (see the module doc)."""
        rest = self._all().get(name)
        return _quick_from_line(rest) if rest is not None else None

    def save(self, name: str, state: RenewalState) -> None:
        self._all()[name] = _rest(state.to_json())
        self._changed.add(name)

    def entries(self, names: Sequence[str]) -> dict[str, Any]:
        """The raw entries of ``names`` this store changed (to hand to another process)."""
        return {n: self._all()[n] for n in names if n in self._changed and n in self._all()}

    def merge(self, entries: dict[str, Any]) -> None:
        """Take entries another process made (see ``entries``); ``flush`` writes them."""
        self._all().update(entries)
        self._changed.update(entries)

    def delete(self, name: str) -> None:
        self._all().pop(name, None)
        self._changed.add(name)
        self.flush()

    def flush(self) -> None:
        """Merge this store's changes into the file on disk, streaming the old file into a
        temporary one that is renamed over it (a cache needs no fsync: a torn or lost file only
        costs one slow run)."""
        if not self._changed:
            return
        mine = self._all()
        ensure_dir(self.root, 0o700)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(self.HEADER + "\n")
            for name, rest in self._disk_lines():
                if name not in self._changed:
                    handle.write(f"{_escape(name)}\t{rest}\n")
            for name in self._changed:
                if name in mine:
                    handle.write(f"{_escape(name)}\t{mine[name]}\n")
        temp.replace(self.path)
        self._changed.clear()
        self._remove_orphans()

    def _remove_orphans(self) -> None:
        """Temporary files of runs that died before their rename (named by their pid)."""
        for path in self.root.glob(".*.*.tmp"):
            pid = path.name.split(".")[-2]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                path.unlink(missing_ok=True)


def lineage_names(config_dir: Path) -> list[str]:
    """Names of all lineages (one per ``renewal/*.conf``), sorted."""
    try:  # os.listdir: no Path object per lineage (a tenth of the time at 100,000)
        found = os.listdir(Path(config_dir) / "renewal")  # noqa: PTH208
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n[: -len(".conf")] for n in found if n.endswith(".conf") and n != ".conf")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def update_interrupted(config_dir: Path, conf: RenewalConf) -> bool:
    """Whether a run stopped while writing a new version or switching the live links (the
    intent record says "writing" or "switching"): live/ may hold a mixed pair, and temporary
    files may lie around, until the lineage is healed."""
    from certsmith.storage.archive import BUSY_MARKER, read_state

    archive_dir = Path(conf.get("archive_dir") or "")
    # A cheap textual confinement (this runs for every lineage on every `renew`); what writes
    # to the lineage resolves symlinks too (confine.py).
    if archive_dir.parent != Path(config_dir) / "archive" or archive_dir.name in ("", ".", ".."):
        return False
    if not (archive_dir / BUSY_MARKER).exists():
        return False
    state = read_state(archive_dir)
    return state is None or state.state in ("writing", "switching")
