"""Lineages and accounts on disk, in certbot's layout: the only code that touches those files.

LineageStore(config_dir)   renewal/, archive/, live/ (crash-safe versions, per-lineage locks)
AccountStore(config_dir)   accounts/<server>/<id>/{private_key,regr,meta}.json
RenewalConf                renewal/<name>.conf (configobj subset, round-trips unknown keys)
"""

from __future__ import annotations

from certsmith.storage.accounts import (
    AccountStore,
    StoredAccount,
    account_id,
    key_from_jwk,
    private_jwk,
    server_folder,
)
from certsmith.storage.archive import ALL_FOUR, DeployState
from certsmith.storage.files import atomic_write, create_private_file, ensure_dir, replace_symlink
from certsmith.storage.lineage import Lineage, LineageStore, check_lineage_name
from certsmith.storage.locks import LineageLock
from certsmith.storage.renewal_conf import ConfSection, RenewalConf

__all__ = [
    "ALL_FOUR",
    "AccountStore",
    "ConfSection",
    "DeployState",
    "Lineage",
    "LineageLock",
    "LineageStore",
    "RenewalConf",
    "StoredAccount",
    "account_id",
    "atomic_write",
    "check_lineage_name",
    "create_private_file",
    "ensure_dir",
    "key_from_jwk",
    "private_jwk",
    "replace_symlink",
    "server_folder",
]
