"""The in-memory backend of ``interface``: dicts instead of files, for tests and to prove the
Protocols complete. Everything lives in the store instances; nothing survives the process.

Paths in a ``Lineage`` (live paths, archive dir, conf path) are virtual, under ``/memory``:
nothing is ever written there, but hooks see them as ``RENEWED_LINEAGE`` like real ones.
Locks are per lineage and per store instance; they order threads and asyncio tasks of this
process (a blocking ``lock`` from the event loop's thread blocks the loop while it waits, as
the file backend's does).
"""

from __future__ import annotations

import datetime
import itertools
import json
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from certsmith.errors import LineageCorrupt, LockHeld, StorageError, UsageError
from certsmith.storage.accounts import StoredAccount, account_id, server_folder
from certsmith.storage.archive import ALL_FOUR, check_pair
from certsmith.storage.history import MemoryHistory
from certsmith.storage.interface import Stores
from certsmith.storage.lineage import CONF_FORMAT_VERSION, MAX_NAME_SUFFIX
from certsmith.storage.lineage_model import Lineage, check_lineage_name
from certsmith.storage.renewal_conf import RenewalConf, Value
from certsmith.storage.renewal_state import QuickEntry, RenewalState
from certsmith.wording import said

if TYPE_CHECKING:  # `cryptography` is imported when a certificate is read, as in lineage.py
    from certsmith.crypto import PrivateKey

MEMORY_ROOT = Path("/memory")


@dataclass(frozen=True)
class _Version:
    key: bytes
    cert: bytes
    chain: bytes
    fullchain: bytes

    def read_key(self) -> bytes:
        return self.key


@dataclass(frozen=True)
class _Entry:
    """One lineage; replaced as a whole, so a reader sees one deployed version or the next."""

    conf_text: str  # serialized, so every reader parses its own copy, as from a file
    versions: tuple[_Version, ...] = ()  # version N is versions[N - 1]
    deployed: int = 0  # 0: a conf without any version yet
    revision: str | None = None
    conf_serial: int = 0  # store-wide counter at the last conf write or save


class MemoryLease:
    """A held per-lineage lock of a MemoryLineageStore."""

    def __init__(self, lock: threading.Lock, name: str) -> None:
        self._lock: threading.Lock | None = lock
        self.name = name

    @property
    def held(self) -> bool:
        return self._lock is not None

    def refresh(self) -> None:
        if self._lock is None:
            raise LockHeld(said("lock.released_certificate", name=repr(self.name)))

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def __enter__(self) -> MemoryLease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class MemoryLineageStore:
    """Lineages in a dict; the in-memory ``interface.LineageStorage``."""

    def __init__(self, root: Path = MEMORY_ROOT) -> None:
        self.renewal_dir = root / "renewal"
        self.archive_root = root / "archive"
        self.live_root = root / "live"
        self._lineages: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._counter = itertools.count(1)  # store-wide: a recreated lineage gets new revisions

    def _entry(self, name: str) -> _Entry:
        check_lineage_name(name)
        entry = self._lineages.get(name)
        if entry is None:
            raise LineageCorrupt(said("storage.no_certificate", name=repr(name)))
        return entry

    def _deployed(self, name: str) -> tuple[_Entry, _Version]:
        entry = self._entry(name)
        if not entry.deployed:
            raise LineageCorrupt(said("storage.no_complete_version", name=repr(name)))
        return entry, entry.versions[entry.deployed - 1]

    def names(self) -> list[str]:
        return sorted(self._lineages)

    def exists(self, name: str) -> bool:
        check_lineage_name(name)
        return name in self._lineages

    def read_conf(self, name: str) -> RenewalConf:
        return RenewalConf.parse(self._entry(name).conf_text)

    def load(self, name: str) -> Lineage:
        from certsmith import crypto

        entry, version = self._deployed(name)
        cert = crypto.load_certificates(version.cert)[0]
        return Lineage(
            name=name,
            conf_path=self.conf_path(name),
            conf=RenewalConf.parse(entry.conf_text),
            archive_dir=self.archive_root / name,
            live_paths=self.live_paths(name),
            deployed_version=entry.deployed,
            versions=tuple(range(len(entry.versions), 0, -1)),
            cert_pem=version.cert,
            identifiers=tuple(crypto.certificate_identifiers(cert)),
            read_key=version.read_key,
        )

    def heal(self, name: str) -> int:
        return self._deployed(name)[0].deployed

    def update_interrupted(self, name: str, conf: RenewalConf) -> bool:
        return False  # a version is deployed by one assignment: never half way

    def revision(
        self, name: str, conf: RenewalConf | None = None, *, locator: str | None = None
    ) -> str | None:
        entry = self._lineages.get(locator or name)
        return entry.revision if entry is not None else None

    def revision_locator(self, name: str, conf: RenewalConf) -> str:
        return name

    def conf_revision(self, name: str) -> str | None:
        entry = self._lineages.get(name)
        return f"conf:{entry.conf_serial}" if entry is not None else None

    def read_live_cert(self, name: str, conf: RenewalConf | None = None) -> bytes:
        return self._deployed(name)[1].cert

    def conf_path(self, name: str) -> Path:
        return self.renewal_dir / f"{name}.conf"

    def live_paths(self, name: str) -> dict[str, Path]:
        return {kind: self.live_root / name / f"{kind}.pem" for kind in ALL_FOUR}

    def new_conf(
        self, name: str, renewalparams: Mapping[str, Value | dict[str, str]]
    ) -> RenewalConf:
        live = self.live_paths(name)
        return RenewalConf.new(
            str(self.archive_root / name),
            {kind: str(path) for kind, path in live.items()},
            dict(renewalparams),
            CONF_FORMAT_VERSION,
        )

    def save_version(
        self,
        name: str,
        key_pem: bytes | None,
        cert_pem: bytes,
        chain_pem: bytes,
        fullchain_pem: bytes | None = None,
        conf: RenewalConf | None = None,
    ) -> Lineage:
        check_lineage_name(name)
        old = self._lineages.get(name)
        if key_pem is None:
            if old is None or not old.deployed:
                raise UsageError(said("storage.new_needs_key", name=repr(name)))
            key_pem = old.versions[old.deployed - 1].key
        fullchain_pem = fullchain_pem if fullchain_pem is not None else cert_pem + chain_pem
        check_pair(key_pem, cert_pem, fullchain_pem)
        if conf is not None:
            conf.root.set("archive_dir", str(self.archive_root / name))
            for kind, path in self.live_paths(name).items():
                conf.root.set(kind, str(path))
            if conf.root.get("version") is None:
                conf.root.set("version", CONF_FORMAT_VERSION)
            conf_text = conf.serialize()
        else:
            conf_text = old.conf_text if old is not None else self.new_conf(name, {}).serialize()
        versions = (old.versions if old is not None else ()) + (
            _Version(key_pem, cert_pem, chain_pem, fullchain_pem),
        )
        with self._guard:
            serial = next(self._counter)
        revision = f"mem:{name}:{serial}"
        self._lineages[name] = _Entry(conf_text, versions, len(versions), revision, serial)
        return self.load(name)

    def write_conf(self, name: str, conf: RenewalConf) -> None:
        check_lineage_name(name)
        text = conf.serialize()
        old = self._lineages.get(name)
        with self._guard:
            serial = next(self._counter)
        entry = replace(old, conf_text=text) if old else _Entry(text)
        self._lineages[name] = replace(entry, conf_serial=serial)

    def delete(self, name: str) -> None:
        check_lineage_name(name)
        self._lineages.pop(name, None)

    def interrupted_deletions(self) -> list[str]:
        return []  # a deletion here is one step

    def lock(self, name: str, *, blocking: bool = True, timeout: float = 60.0) -> MemoryLease:
        check_lineage_name(name)
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        if not lock.acquire(blocking, max(0.0, timeout) if blocking else -1):
            raise LockHeld(said("lock.task_busy", name=repr(name)))
        return MemoryLease(lock, name)

    def available_name(self, preferred: str) -> str:
        check_lineage_name(preferred)
        if preferred not in self._lineages:
            return preferred
        for count in range(1, MAX_NAME_SUFFIX + 1):
            candidate = f"{preferred}-{count:04d}"
            if candidate not in self._lineages:
                return candidate
        raise StorageError(said("storage.no_free_name", name=repr(preferred)))


def _json_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A deep copy holding only what the file backend could store."""
    copied: dict[str, Any] = json.loads(json.dumps(data))
    return copied


class MemoryAccountStore:
    """Accounts in a dict keyed by (server folder, account id); ``interface.AccountStorage``."""

    def __init__(self) -> None:
        self._accounts: dict[tuple[str, str], StoredAccount] = {}
        self._pending: dict[tuple[str, str], PrivateKey] = {}

    def ids(self, server: str) -> list[str]:
        folder = server_folder(server)
        return sorted(ident for where, ident in self._accounts if where == folder)

    def list(self, server: str) -> list[StoredAccount]:
        return [self.load(server, ident) for ident in self.ids(server)]

    def load(self, server: str, ident: str) -> StoredAccount:
        account = self._accounts.get((server_folder(server), ident))
        if account is None:
            raise StorageError(said("storage.no_account", ident=ident, server=server))
        return replace(account, body=_json_copy(account.body), meta=_json_copy(account.meta))

    def save(
        self,
        server: str,
        key: PrivateKey,
        uri: str,
        body: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        *,
        now: datetime.datetime | None = None,
        hostname: str | None = None,
    ) -> str:
        ident = account_id(key)
        old = self._accounts.get((server_folder(server), ident))
        if meta is None and old is not None:
            meta = old.meta  # saving again keeps the original creation data
        if meta is None:
            when = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
            meta = {
                "creation_dt": when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "creation_host": hostname or socket.gethostname(),
            }
        key = old.key if old is not None else key  # the key is written once, never replaced
        self._accounts[server_folder(server), ident] = StoredAccount(
            ident, key, uri, _json_copy(body or {}), _json_copy(meta)
        )
        return ident

    def update_regr(
        self, server: str, ident: str, uri: str, body: dict[str, Any] | None = None
    ) -> None:
        old = self.load(server, ident)
        self._accounts[server_folder(server), ident] = replace(
            old, uri=uri, body=_json_copy(body or {})
        )

    def delete(self, server: str, ident: str) -> None:
        if self._accounts.pop((server_folder(server), ident), None) is None:
            raise StorageError(said("storage.no_account", ident=ident, server=server))
        self._pending.pop((server_folder(server), ident), None)

    def save_pending_key(self, server: str, ident: str, key: PrivateKey) -> None:
        self.load(server, ident)
        self._pending[server_folder(server), ident] = key

    def pending_key(self, server: str, ident: str) -> PrivateKey | None:
        return self._pending.get((server_folder(server), ident))

    def discard_pending_key(self, server: str, ident: str) -> None:
        self._pending.pop((server_folder(server), ident), None)


class MemoryStateCache:
    """``interface.RenewalStateCache`` in a dict (entries kept as JSON, like the file's)."""

    def __init__(self) -> None:
        self._entries: dict[str, Any] = {}
        self._changed: set[str] = set()

    def load(self, name: str, revision: str | None) -> RenewalState | None:
        state = RenewalState.from_json(self._entries.get(name))
        if state is None or revision is None or state.revision != revision:
            return None
        return state

    def quick(self, name: str) -> QuickEntry | None:
        state = RenewalState.from_json(self._entries.get(name))
        return state.quick if state is not None else None

    def save(self, name: str, state: RenewalState) -> None:
        self._entries[name] = state.to_json()
        self._changed.add(name)

    def delete(self, name: str) -> None:
        self._entries.pop(name, None)
        self._changed.add(name)

    def entries(self, names: Sequence[str]) -> dict[str, Any]:
        return {n: self._entries[n] for n in names if n in self._changed and n in self._entries}

    def merge(self, entries: dict[str, Any]) -> None:
        self._entries.update(entries)
        self._changed.update(entries)

    def flush(self) -> None:
        self._changed.clear()  # nothing to make durable


def memory_stores() -> Stores:
    """Fresh, empty in-memory stores (typed fields: mypy checks each class's Protocol here)."""
    return Stores(
        lineages=MemoryLineageStore(),
        accounts=MemoryAccountStore(),
        states=MemoryStateCache(),
        history=MemoryHistory(),
    )
