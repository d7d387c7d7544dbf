"""One lineage as found on disk (:class:`Lineage`) and the rule for lineage names; the files
behind them are :mod:`certsmith.storage.lineage`'s."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from certsmith.errors import UsageError
from certsmith.storage import archive as arc
from certsmith.storage.renewal_conf import RenewalConf
from certsmith.wording import said

if TYPE_CHECKING:
    from cryptography import x509

    from certsmith.acme.identifier import Identifier


@dataclass(frozen=True)
class Lineage:
    """One lineage as found on disk after healing."""

    name: str
    conf_path: Path
    conf: RenewalConf
    archive_dir: Path
    live_paths: dict[str, Path]
    deployed_version: int
    versions: tuple[int, ...]  # versions with all four files, newest first
    cert_pem: bytes
    identifiers: tuple[Identifier, ...]
    # Reads the deployed private key when asked (most callers never need it).
    read_key: Callable[[], bytes] = field(compare=False, repr=False, default=bytes)

    @property
    def live_dir(self) -> Path:
        return self.live_paths["cert"].parent

    def archive_path(self, kind: str, version: int | None = None) -> Path:
        """The archive file of ``kind`` for ``version`` (default: the deployed one)."""
        return arc.archive_file(self.archive_dir, kind, version or self.deployed_version)

    def certificate(self) -> x509.Certificate:
        from certsmith import crypto

        return crypto.load_certificates(self.cert_pem)[0]

    def private_key_pem(self) -> bytes:
        return self.read_key()


def check_lineage_name(name: str) -> None:
    """Raise UsageError unless ``name`` can be a lineage (one path component, not hidden)."""
    if not name or "/" in name or "\0" in name or name.startswith(".") or name.endswith(".conf"):
        raise UsageError(said("storage.bad_cert_name", name=repr(name)))
