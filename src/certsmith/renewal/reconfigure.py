"""``reconfigure``: change a lineage's renewal settings, as certbot 5.8 does — only after a dry
run with the new settings succeeded, so a typo in a webroot or hook never reaches the timer.

    dry run with the new settings (staging when the lineage is at Let's Encrypt) -> lock
    -> write the renewal conf with the new settings (no new version, no order)

As in certbot, the CA and the account cannot be changed this way: that needs a new certificate.
"""

from __future__ import annotations

from certsmith.errors import UsageError
from certsmith.renewal.due import settings_from_conf
from certsmith.renewal.engine import Engine, LineageRequest, LineageResult
from certsmith.renewal.settings import LineageSettings, SettingOverrides
from certsmith.wording import said


async def reconfigure(
    engine: Engine, name: str, overrides: SettingOverrides
) -> tuple[LineageSettings, LineageSettings, LineageResult]:
    """Dry-run ``name`` with ``overrides``, then store them. Returns (before, after, dry run)."""
    lineages = engine.env.stores.lineages
    if not lineages.exists(name):
        raise UsageError(said("engine.reconfigure_not_found", name=name))
    stored = settings_from_conf(lineages.read_conf(name))
    if overrides.server not in (None, stored.server) or overrides.account not in (
        None,
        stored.account,
    ):
        raise UsageError(said("engine.reconfigure_server"))
    request = LineageRequest(name, overrides=overrides, dry_run=True, lock_timeout=60.0)
    result = await engine.obtain_lineage(request)
    with lineages.lock(name, blocking=True, timeout=60.0):
        lineage = lineages.load(name)
        before = settings_from_conf(lineage.conf)
        after = overrides.apply(before)
        conf = lineage.conf
        conf.set_renewalparams(after.to_renewalparams())
        lineages.write_conf(name, conf)
    return before, after, result
