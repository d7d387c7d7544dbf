"""What one run works with: its stores, how it reaches CAs, its clock, and its events."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from certsmith.renewal.events import EngineEvents, QuietEvents
from certsmith.renewal.install import InstallerFactory
from certsmith.storage.interface import Stores

if TYPE_CHECKING:
    import httpx


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class RunEnvironment:
    """``config_dir`` holds what stays on this machine whatever the backend: the hook folders
    (renewal-hooks/). ``stores`` default to the file backend of ``config_dir``."""

    config_dir: Path
    transport: httpx.AsyncBaseTransport | None = None
    now: Callable[[], datetime.datetime] = _utc_now
    user_agent: str | None = None
    stores: Stores = field(default=None)  # type: ignore[assignment]  # filled in below
    events: EngineEvents = field(default_factory=QuietEvents)
    # Web-server installers (nginx, apache) by name; None: a lineage naming one fails clearly.
    installers: InstallerFactory | None = None
    # The manual authenticator fetches its own http-01 URL before telling the CA (certsmith's
    # --no-self-check turns it off for the run; --no-preflight does too, per order).
    manual_self_check: bool = True
    # False: do not check the CA's TLS certificate (certbot's --no-verify-ssl; a run setting,
    # never stored in a lineage's renewal conf).
    verify_tls: bool = True
    # certbot's --issuance-timeout: seconds to wait for the CA to issue after finalize (a run
    # setting; None: only the order's own deadline).
    issuance_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.stores is None:
            from certsmith.storage.filesystem import file_stores

            object.__setattr__(self, "stores", file_stores(self.config_dir))
