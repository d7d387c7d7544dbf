"""The two alert channels: e-mail over SMTP and a webhook (JSON POST).

Each channel's ``deliver`` returns None when the message went out, else one sentence saying why
not: a channel never raises for a dead server, so an alert can never fail the run that sent it.
Both have a time limit (``timeout`` per network step and one overall deadline).

SMTP runs :mod:`smtplib` in a worker thread (one short exchange; no event-loop SMTP client is
worth a dependency for it): ``starttls`` (RFC 3207, port 587), ``tls`` (implicit TLS, RFC 8314,
port 465) or ``none`` (a relay on the same machine). TLS verifies the server's certificate with
the system's trust store. Credentials come from a certbot-style file (``username = ...``,
``password = ...``) that only its owner may read.

The webhook bodies:

    json    {"source": "certsmith", "host", "severity", "title", "text", "alerts": [...]}
    slack   {"text": "*title*\\ntext"}                  (Slack, Mattermost, Rocket.Chat, ...)
    ntfy    {"topic", "title", "message", "priority", "tags"} POSTed to the server's root, the
            topic taken from the URL's path (ntfy's JSON publishing)
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from certsmith.errors import CertsmithError
from certsmith.notify.config import SmtpSecurity, SmtpSettings, WebhookFormat, WebhookSettings

__all__ = ["Channel", "MailChannel", "Message", "WebhookChannel", "webhook_request"]

TIMEOUT = 15.0  # seconds, per connect/read step
DEADLINE = 45.0  # seconds, a whole delivery


@dataclass(frozen=True)
class Message:
    """What every channel sends: a title, a text, and the alerts as data."""

    title: str
    text: str
    host: str
    severity: str = "warning"  # "warning" | "critical" | "info"
    alerts: tuple[dict[str, Any], ...] = field(default_factory=tuple)


class Channel(Protocol):
    name: str  # "email" | "webhook"

    async def deliver(self, message: Message) -> str | None: ...


class MailChannel:
    name = "email"

    def __init__(self, settings: SmtpSettings, *, timeout: float = TIMEOUT) -> None:
        self.settings, self.timeout = settings, timeout

    def _mail(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = self.settings.mail_from
        mail["To"] = ", ".join(self.settings.mail_to)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=self.settings.mail_from.rpartition("@")[2])
        mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
        mail.set_content(message.text)
        return mail

    def _credentials(self) -> tuple[str, str] | None:
        if self.settings.credentials is None:
            return None
        # The certbot-style reader that refuses group/world-readable files (dns-01's too).
        from certsmith.challenges.dns01.contract import read_credentials, require

        values = read_credentials(self.settings.credentials)
        where = str(self.settings.credentials)
        return require(values, "username", where), require(values, "password", where)

    def _send(self, mail: EmailMessage, login: tuple[str, str] | None) -> None:
        s = self.settings
        context = ssl.create_default_context()
        conn: smtplib.SMTP
        if s.security is SmtpSecurity.TLS:
            conn = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
        with conn:
            if s.security is SmtpSecurity.STARTTLS:
                conn.starttls(context=context)
            if login is not None:
                conn.login(*login)
            conn.send_message(mail)

    async def deliver(self, message: Message) -> str | None:
        try:
            login = self._credentials()
            mail = self._mail(message)
            await asyncio.wait_for(asyncio.to_thread(self._send, mail, login), DEADLINE)
        except CertsmithError as exc:
            return str(exc)
        except TimeoutError:
            return f"no answer from {self.settings.host}:{self.settings.port} in {DEADLINE:g}s"
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            return f"{self.settings.host}:{self.settings.port}: {exc or type(exc).__name__}"
        return None


def webhook_request(settings: WebhookSettings, message: Message) -> tuple[str, dict[str, Any]]:
    """The URL to POST to and the JSON body, in the webhook's format."""
    if settings.format is WebhookFormat.SLACK:
        return settings.url, {"text": f"*{message.title}*\n{message.text}"}
    if settings.format is WebhookFormat.NTFY:
        parts = urlsplit(settings.url)
        topic = parts.path.strip("/").rpartition("/")[2]
        root_path = parts.path.strip("/").rpartition("/")[0]
        root = urlunsplit(
            (parts.scheme, parts.netloc, f"/{root_path}" if root_path else "/", "", "")
        )
        priority = {"critical": 5, "warning": 4}.get(message.severity, 3)
        tags = ["rotating_light"] if message.severity == "critical" else ["warning"]
        body = {"topic": topic, "title": message.title, "message": message.text,
                "priority": priority, "tags": tags}  # fmt: skip
        return root, body
    return settings.url, {
        "source": "certsmith",
        "host": message.host,
        "severity": message.severity,
        "title": message.title,
        "text": message.text,
        "alerts": list(message.alerts),
    }


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        timeout: float = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings, self.timeout, self.transport = settings, timeout, transport

    async def deliver(self, message: Message) -> str | None:
        url, body = webhook_request(self.settings, message)
        shown = urlsplit(url)._replace(path="/…", query="").geturl()  # the path may be a secret
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, transport=self.transport, follow_redirects=False
            ) as client:
                response = await asyncio.wait_for(client.post(url, json=body), DEADLINE)
        except TimeoutError:
            return f"no answer from {shown} in {DEADLINE:g}s"
        except httpx.HTTPError as exc:
            return f"{shown}: {exc or type(exc).__name__}"
        if not response.is_success:
            return f"{shown} answered HTTP {response.status_code}"
        return None
