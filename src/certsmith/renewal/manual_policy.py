"""A --manual lineage without --manual-auth-hook is renewed only with a person at a terminal.

certbot says so at issuance and refuses such a renewal when run non-interactively. The engine
calls :func:`refuse_unanswerable` once a lineage is found due and before anything else happens
(no pre hook, no order), so `renew` from a timer reports it in one sentence instead of creating
an order it cannot answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from certsmith.acme.identifier import Identifier
from certsmith.errors import ManualRenewalNeedsHook
from certsmith.renewal.events import EngineEvents
from certsmith.renewal.settings import LineageSettings
from certsmith.storage.renewal_conf import RenewalConf
from certsmith.wording import said


def needs_a_person(settings: LineageSettings) -> bool:
    """Whether answering this lineage's challenges needs someone at a terminal."""
    return settings.authenticator == "manual" and not settings.manual_auth_hook


def renews_unattended(conf: RenewalConf) -> bool:
    """Whether `renew` can renew the lineage of ``conf`` without a person."""
    from certsmith.renewal.due import settings_from_conf

    return not needs_a_person(settings_from_conf(conf))


def refuse_unanswerable(
    name: str,
    identifiers: Sequence[Identifier],
    settings: LineageSettings,
    events: EngineEvents,
) -> None:
    """Raise ``ManualRenewalNeedsHook`` when nobody can answer the lineage's manual challenges."""
    if not needs_a_person(settings) or events.can_ask():
        return
    domains = ",".join(i.value for i in identifiers)
    raise ManualRenewalNeedsHook(
        said("engine.manual_needs_hook", name=name), name=name, domains=domains
    )
