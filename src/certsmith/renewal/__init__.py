"""Renewal: when to renew (ARI, lifetime fraction, renew_before_expiry) and the hooks of a run.

The public surface is re-exported here; the modules are ``policy`` (pure decision functions),
``ari_cache`` (the per-certificate record of the last ARI answer) and ``hooks`` (pre, post and
deploy hooks with certbot's semantics).
"""

from __future__ import annotations

from certsmith.renewal.ari_cache import (
    AriCacheRecord,
    clamp_retry_after,
    parse_certbot_retry_after,
    should_fetch_ari,
)
from certsmith.renewal.hooks import (
    CommandOutcome,
    CommandRunner,
    HookKind,
    HookResult,
    HookRunner,
    list_hook_dir,
    run_shell,
    validate_hook,
)
from certsmith.renewal.policy import (
    Decision,
    Rule,
    ari_moment,
    certificate_rng,
    decide,
    default_renewal_time,
    parse_renew_before_expiry,
)

__all__ = [
    "AriCacheRecord",
    "CommandOutcome",
    "CommandRunner",
    "Decision",
    "HookKind",
    "HookResult",
    "HookRunner",
    "Rule",
    "ari_moment",
    "certificate_rng",
    "clamp_retry_after",
    "decide",
    "default_renewal_time",
    "list_hook_dir",
    "parse_certbot_retry_after",
    "parse_renew_before_expiry",
    "run_shell",
    "should_fetch_ari",
    "validate_hook",
]
