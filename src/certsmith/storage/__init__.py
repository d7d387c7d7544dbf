"""Lineages and accounts on disk, in certbot's layout: the only code that touches those files.

LineageStore(config_dir)   renewal/, archive/, live/ (crash-safe versions, per-lineage locks)
AccountStore(config_dir)   accounts/<server>/<id>/{private_key,regr,meta}.json
RenewalConf                renewal/<name>.conf (configobj subset, round-trips unknown keys)
RenewalStateStore          .certsmith-state/renewal-index.tsv (what lets `renew` skip quickly)

The names are loaded on first use (PEP 562), so `renew` can read renewal confs and its cache
without importing `cryptography` when nothing is due.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certsmith.storage.accounts import (
        AccountStore as AccountStore,
        StoredAccount as StoredAccount,
        account_id as account_id,
        key_from_jwk as key_from_jwk,
        private_jwk as private_jwk,
        server_folder as server_folder,
    )
    from certsmith.storage.archive import (
        ALL_FOUR as ALL_FOUR,
        DeployState as DeployState,
    )
    from certsmith.storage.files import (
        atomic_write as atomic_write,
        create_private_file as create_private_file,
        ensure_dir as ensure_dir,
        replace_symlink as replace_symlink,
    )
    from certsmith.storage.lineage import LineageStore as LineageStore
    from certsmith.storage.lineage_model import (
        Lineage as Lineage,
        check_lineage_name as check_lineage_name,
    )
    from certsmith.storage.locks import (
        LineageLock as LineageLock,
    )
    from certsmith.storage.renewal_conf import (
        ConfSection as ConfSection,
        RenewalConf as RenewalConf,
    )
    from certsmith.storage.renewal_state import (
        RenewalState as RenewalState,
        RenewalStateStore as RenewalStateStore,
    )

_WHERE = {
    "AccountStore": "accounts",
    "StoredAccount": "accounts",
    "account_id": "accounts",
    "key_from_jwk": "accounts",
    "private_jwk": "accounts",
    "server_folder": "accounts",
    "ALL_FOUR": "archive",
    "DeployState": "archive",
    "atomic_write": "files",
    "create_private_file": "files",
    "ensure_dir": "files",
    "replace_symlink": "files",
    "Lineage": "lineage_model",
    "LineageStore": "lineage",
    "check_lineage_name": "lineage_model",
    "LineageLock": "locks",
    "ConfSection": "renewal_conf",
    "RenewalConf": "renewal_conf",
    "RenewalState": "renewal_state",
    "RenewalStateStore": "renewal_state",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'certsmith.storage' has no attribute {name!r}")
    return getattr(importlib.import_module(f"certsmith.storage.{module}"), name)
