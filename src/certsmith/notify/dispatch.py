"""Send alerts: word them from the catalogue, hold back what was already sent, deliver on every
channel at once, remember what went out.

The caller's duties: pass every problem key a run looked at and found gone (``cleared``) so the
problem alerts again when it returns; print ``Dispatch.new_failures`` (a failing channel is
reported once a day, logged every time); never let anything here fail its own run (``alert``
does not raise for a channel; the CLI still guards the call).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from certsmith.notify.alerts import Alert, Problem, forget, remember, worth_sending
from certsmith.notify.channels import Channel, MailChannel, Message, WebhookChannel
from certsmith.notify.config import NotifyConfig
from certsmith.storage.notify_files import NotifyFiles

if TYPE_CHECKING:
    import httpx

    from certsmith.preflight.messages import Catalogue

log = logging.getLogger(__name__)

__all__ = ["Dispatch", "Notifier", "compose"]

_CRITICAL = {Problem.EXPIRING, Problem.STALE}
CHANNEL_SECTION = "channels"


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Dispatch:
    """What one call sent. ``failures``: (channel, sentence) of every channel that failed;
    ``new_failures``: those not reported within a day (the ones to show a person)."""

    sent: tuple[Alert, ...] = ()
    held_back: int = 0
    failures: tuple[tuple[str, str], ...] = ()
    new_failures: tuple[tuple[str, str], ...] = ()


def compose(alerts: Sequence[Alert], catalogue: Catalogue, host: str) -> Message:
    """One message for the alerts of one run (a digest when there are several)."""
    parts = []
    for alert in alerts:
        values = {**alert.facts, "lineage": alert.lineage, "host": host}
        title = catalogue.get(f"notify.title.{alert.problem.value}", **values)
        parts.append((title, catalogue.get(f"notify.text.{alert.problem.value}", **values)))
    if len(parts) == 1:
        title, text = parts[0]
    else:
        title = catalogue.get("notify.title.many", count=len(parts), host=host)
        text = "\n\n".join(f"{t}\n{body}" for t, body in parts)
    text += "\n\n" + catalogue.get("notify.footer", host=host)
    critical = any(a.problem in _CRITICAL for a in alerts)
    data = tuple(
        {"lineage": a.lineage, "problem": a.problem.value, **dict(a.facts)} for a in alerts
    )
    return Message(title, text, host, "critical" if critical else "warning", data)


class Notifier:
    """The channels of one config dir. ``transport``: the webhook's HTTP transport (tests)."""

    def __init__(
        self,
        config: NotifyConfig,
        files: NotifyFiles,
        catalogue: Catalogue,
        host: str,
        *,
        now: Callable[[], datetime.datetime] = _utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config, self.files, self.catalogue, self.host = config, files, catalogue, host
        self.now = now
        self.transport = transport

    def channels(self) -> list[Channel]:
        found: list[Channel] = []
        if self.config.smtp is not None:
            found.append(MailChannel(self.config.smtp))
        if self.config.webhook is not None:
            found.append(WebhookChannel(self.config.webhook, transport=self.transport))
        return found

    async def send(self, message: Message) -> list[tuple[str, str | None]]:
        """Deliver ``message`` on every channel, without de-duplication (`notify test`)."""
        channels = self.channels()
        results = await asyncio.gather(*(c.deliver(message) for c in channels))
        return [(c.name, error) for c, error in zip(channels, results, strict=True)]

    async def alert(self, alerts: Sequence[Alert], cleared: Iterable[str] = ()) -> Dispatch:
        """Send the ``alerts`` not sent within a day; forget the ``cleared`` problem keys."""
        now = self.now()
        loaded = self.files.load_sent()
        memory = forget(loaded, cleared)
        fresh = [a for a in alerts if worth_sending(memory, a.key, a.fingerprint, now)]
        held_back = len(alerts) - len(fresh)
        failures: list[tuple[str, str]] = []
        sent: tuple[Alert, ...] = ()
        if fresh and self.channels():
            results = await self.send(compose(fresh, self.catalogue, self.host))
            failures = [(name, error) for name, error in results if error is not None]
            if len(failures) < len(results):  # one channel got through: it was sent
                sent = tuple(fresh)
                memory = remember(memory, ((a.key, a.fingerprint) for a in fresh), now)
        for name, error in failures:
            log.warning("alert by %s failed: %s", name, error)
        new_failures = tuple(
            (name, error)
            for name, error in failures
            if worth_sending(memory, name, error, now, CHANNEL_SECTION)
        )
        if new_failures:
            memory = remember(memory, new_failures, now, CHANNEL_SECTION)
        working = {c.name for c in self.channels()} - {name for name, _ in failures}
        memory = forget(memory, working if fresh else (), CHANNEL_SECTION)
        if memory != loaded:  # most runs have nothing to say: no write
            self.files.save_sent(memory)
        return Dispatch(sent, held_back, tuple(failures), new_failures)
