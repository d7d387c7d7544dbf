"""``install`` (and ``run`` with a certificate that is not due): deploy an existing lineage into
a web server without a new order.

Under the lineage's lock: heal and load it, apply the command line's settings (``-i``,
``--nginx-server-root``, ...) to its renewal conf's, and hand its live files to the installer
the settings name; the caller reloads the server once at the end (``Engine.reload_servers``).
"""

from __future__ import annotations

from collections.abc import Sequence

from certsmith.errors import UsageError
from certsmith.renewal.due import settings_from_conf
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.install import NULL_INSTALLER, RunInstallers
from certsmith.renewal.settings import SettingOverrides
from certsmith.wording import said


async def install_lineage(
    env: RunEnvironment,
    installers: RunInstallers,
    name: str,
    overrides: SettingOverrides,
    enhancements: Sequence[str] = (),
    preview: bool = False,
) -> str | None:
    """Deploy lineage ``name`` into its installer; UsageError when none is named (``-i null``
    names none and does nothing). With ``preview`` nothing is changed: the diff the deploy
    would write is returned."""
    lineages = env.stores.lineages
    if not lineages.exists(name):
        raise UsageError(said("usage.no_such_certificate", name=repr(name)))
    if overrides.installer == NULL_INSTALLER:
        return None  # -i null: certbot's null installer installs nowhere
    with lineages.lock(name, blocking=True, timeout=60.0):
        if not preview:
            lineages.heal(name)
        lineage = lineages.load(name)
        settings = overrides.apply(settings_from_conf(lineage.conf))
        if settings.installer in (None, NULL_INSTALLER):
            raise UsageError(said("engine.install_which_server", name=name))
        domains = [i.value for i in lineage.identifiers]
        live = lineages.live_paths(name)
        if preview:
            return await installers.preview(settings, name, domains, live, enhancements)
        await installers.deploy(settings, name, domains, live, enhancements)
        return None
