"""What the engine needs from storage, as Protocols a file tree or a database can implement.

    Stores                  the three stores of one run, built once and injected
    ├─ LineageStorage       lineages: list, read, save a version atomically, delete, lock
    ├─ AccountStorage       ACME accounts per CA: list, load, save, delete
    ├─ RenewalStateCache    what `renew` needs to skip a lineage quickly, keyed by revision
    └─ HistoryStorage       one record per `renew` run, bounded (storage/history.py)

Two backends implement them: ``storage.files`` (certbot's ``/etc/letsencrypt`` layout, what
runs in production) and ``storage.memory`` (dicts; proves the interface is complete and keeps
unit tests off the disk). Nothing outside ``storage/`` builds ``live/``, ``archive/`` or
``renewal/`` paths.

The caller's duties (after certmagic's ``Storage``/``Locker``):

- **Lock, then re-check.** Take ``lock(name)`` around every read-decide-write sequence on one
  lineage. Another process may have done the work while you waited, so load the lineage again
  and decide again *after* the lock is held; never act on what you read before it.
- **Stale locks.** A lock dies with its holder: the file backend's ``flock`` is released by the
  kernel when the process ends, so a crash never leaves a lineage locked. A backend whose locks
  outlive processes (a database row) must give them a lease that expires, and must refuse work
  under a lease that has expired.
- **Long work.** An order can take minutes (DNS propagation, a slow CA). Call ``Lease.refresh()``
  between steps; it raises ``LockHeld`` when the lease was lost, and the caller must stop
  without saving.
- **Save whole versions.** ``save_version`` stores key, certificate, chain and fullchain as one
  version and deploys it as one step: a reader sees the old pair or the new pair, never a mix,
  and a crash half way is finished or undone by the next ``load``/``heal``.
- **Revisions are opaque.** ``revision(name)`` changes whenever the deployed certificate does;
  compare it for equality, never parse it. The cache is only valid for the revision it was
  saved with. ``conf_revision(name)`` changes with the settings and when a save begins; the
  quick check trusts an index entry only while both are what it was saved with.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from certsmith.crypto import PrivateKey
    from certsmith.storage.accounts import StoredAccount
    from certsmith.storage.history import HistoryStorage
    from certsmith.storage.lineage_model import Lineage
    from certsmith.storage.pending import PendingVersion
    from certsmith.storage.renewal_conf import RenewalConf, Value
    from certsmith.storage.renewal_state import QuickEntry, RenewalState

log = logging.getLogger(__name__)


class Lease(Protocol):
    """A held lock on one lineage; release it by leaving the ``with`` block."""

    @property
    def held(self) -> bool: ...

    def refresh(self) -> None:
        """Extend the lease during long work; LockHeld when it was lost (stop, save nothing)."""

    def release(self) -> None: ...

    def __enter__(self) -> Lease: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class LineageStorage(Protocol):
    """Certificate lineages: each a renewal conf plus numbered versions, one of them deployed."""

    def names(self) -> list[str]:
        """Every lineage, sorted."""

    def exists(self, name: str) -> bool: ...

    def read_conf(self, name: str) -> RenewalConf:
        """The lineage's settings, without healing; LineageCorrupt when missing or unreadable."""

    def load(self, name: str) -> Lineage:
        """The lineage as deployed, after finishing an interrupted update (hold the lock to
        write; reading without it is allowed). LineageCorrupt when nothing is deployable."""

    def heal(self, name: str) -> int:
        """Finish or undo an interrupted update; return the deployed version. Hold the lock."""

    def update_interrupted(self, name: str, conf: RenewalConf) -> bool:
        """Cheap: whether a save of this lineage stopped half way (heal before trusting it)."""

    def revision(
        self, name: str, conf: RenewalConf | None = None, *, locator: str | None = None
    ) -> str | None:
        """An opaque token that changes whenever the deployed certificate changes; None when
        the deployed certificate cannot be found. Cheap (no parse). ``locator`` (from
        ``revision_locator``, valid while ``conf_revision`` is unchanged) spares the conf read."""

    def revision_locator(self, name: str, conf: RenewalConf) -> str:
        """Where ``revision`` looks for the deployed certificate, as an opaque string."""

    def conf_revision(self, name: str) -> str | None:
        """An opaque token that changes whenever the lineage's settings are replaced *and
        whenever a save of a new version begins* (so a save stopped before it changed
        ``revision`` is noticed by the quick check too); None when missing. One stat."""

    def read_live_cert(self, name: str, conf: RenewalConf | None = None) -> bytes:
        """The deployed certificate's PEM, without healing. LineageCorrupt when unreadable."""

    def conf_path(self, name: str) -> Path:
        """Where the lineage's settings are kept, to show a user."""

    def live_paths(self, name: str) -> dict[str, Path]:
        """Where a web server reads the deployed files (cert, chain, fullchain, privkey)."""

    def new_conf(
        self, name: str, renewalparams: Mapping[str, Value | dict[str, str]]
    ) -> RenewalConf:
        """A renewal conf for a new lineage ``name`` with these ``[renewalparams]``."""

    def save_version(
        self,
        name: str,
        key_pem: bytes | None,
        cert_pem: bytes,
        chain_pem: bytes,
        fullchain_pem: bytes | None = None,
        conf: RenewalConf | None = None,
    ) -> Lineage:
        """Store and deploy a new version as one step (see the module's duties). ``key_pem``
        None keeps the deployed key. StorageError when key and certificate do not match.
        Hold the lock."""

    def write_conf(self, name: str, conf: RenewalConf) -> None:
        """Replace the settings without a new version. Hold the lock."""

    def delete(self, name: str) -> None:
        """Remove the lineage and every version (also one a killed delete left half-removed).
        Hold the lock."""

    def interrupted_deletions(self) -> list[str]:
        """Lineages no longer listed whose removal a killed run left unfinished."""

    def lock(self, name: str, *, blocking: bool = True, timeout: float = 60.0) -> Lease:
        """Lock one lineage (others stay free). LockHeld when busy (at once, or after
        ``timeout`` seconds when ``blocking``)."""

    def available_name(self, preferred: str) -> str:
        """``preferred``, or certbot's ``preferred-0001``... when it is taken."""


class AccountStorage(Protocol):
    """ACME accounts, per CA directory URL, identified by certbot's account id."""

    def ids(self, server: str, /) -> list[str]: ...

    def list(self, server: str, /) -> list[StoredAccount]:
        """Every readable account for ``server`` (unreadable ones are logged and skipped)."""

    def load(self, server: str, ident: str, /) -> StoredAccount:
        """One account; StorageError when missing or unreadable."""

    def save(
        self,
        server: str,
        key: PrivateKey,
        uri: str,
        body: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        /,
        *,
        now: datetime.datetime | None = None,
        hostname: str | None = None,
    ) -> str:
        """Store an account (its key is written once, never replaced); return its id."""

    def update_regr(
        self, server: str, ident: str, uri: str, body: dict[str, Any] | None = None, /
    ) -> None: ...

    def delete(self, server: str, ident: str, /) -> None: ...

    # A key rollover in flight (renewal/rollover.py): the new key is saved before the CA is
    # asked to switch; whoever next loads the account for use settles it first.
    def save_pending_key(self, server: str, ident: str, key: PrivateKey, /) -> None:
        """Store ``key`` durably as account ``ident``'s rollover key in flight."""

    def pending_key(self, server: str, ident: str, /) -> PrivateKey | None: ...

    def discard_pending_key(self, server: str, ident: str, /) -> None: ...


class RenewalStateCache(Protocol):
    """Per lineage: the deployed certificate's facts and the CA's last ARI answer.

    Losing it costs one slow run, never a wrong decision: an entry is only returned for the
    revision it was saved with. ``save``/``delete`` may be buffered until ``flush``.
    """

    def load(self, name: str, revision: str | None) -> RenewalState | None: ...

    def quick(self, name: str) -> QuickEntry | None:
        """The index columns saved with ``name``'s state (``RenewalState.quick``), cheaply:
        the quick check of an unchanged lineage reads nothing else."""

    def save(self, name: str, state: RenewalState) -> None: ...

    def delete(self, name: str) -> None: ...

    def entries(self, names: Sequence[str]) -> dict[str, Any]:
        """Raw entries changed here, to hand to another process (see ``merge``)."""

    def merge(self, entries: dict[str, Any]) -> None: ...

    def flush(self) -> None:
        """Make buffered changes durable; concurrent runs lose at most an entry's freshness."""


class PendingStorage(Protocol):
    """Certificates issued but not yet saved into their lineage (a full disk): kept so the next
    run installs them without a new order. Read and remove only under the lineage's lock."""

    def path(self, name: str) -> Path: ...

    def names(self) -> list[str]:
        """Lineages with a kept certificate (one directory listing, for `renew`)."""

    def save(self, name: str, version: PendingVersion) -> Path:
        """Keep ``version``; raises OSError when it cannot be written."""

    def load(self, name: str) -> PendingVersion | None: ...

    def discard(self, name: str) -> None: ...


@dataclass(frozen=True)
class Stores:
    """The stores of one run, built once (``storage.files.file_stores`` or
    ``storage.memory.memory_stores``) and passed down; nothing else constructs a store."""

    lineages: LineageStorage
    accounts: AccountStorage
    states: RenewalStateCache
    # Keeps other tools (certbot) out while this run may write; None: nothing to exclude.
    exclusive: Callable[[], AbstractContextManager[None]] | None = None
    pending: PendingStorage | None = None  # None: an issued certificate is not kept on failure
    history: HistoryStorage | None = None  # the run history (storage/history.py); None: none kept

    def guard(self) -> AbstractContextManager[None]:
        return self.exclusive() if self.exclusive is not None else nullcontext()


def find_account(
    accounts: AccountStorage, server: str, account_id: str | None = None
) -> StoredAccount | None:
    """The account to use at ``server``: ``account_id`` if stored, else the oldest one."""
    if account_id:
        if account_id in accounts.ids(server):
            return accounts.load(server, account_id)
        log.warning(
            "account %s named in the renewal conf is not stored; looking further", account_id
        )
    found: Iterable[StoredAccount] = accounts.list(server)
    return min(found, key=lambda a: str(a.meta.get("creation_dt", "")), default=None)
