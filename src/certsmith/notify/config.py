"""The alert channels, as `certsmith notify setup` writes them to ``notify.toml``.

    language = "ko"                 # the catalogue of the person who ran setup (cron has no LANG)

    [smtp]
    host = "smtp.example.com"
    port = 587
    security = "starttls"           # starttls | tls (implicit, port 465) | none
    mail_from = "certsmith@example.com"
    mail_to = ["ops@example.com"]
    credentials = "/etc/letsencrypt/notify-smtp.ini"   # optional: username = / password =

    [webhook]
    url = "https://hooks.slack.com/services/..."
    format = "slack"                # json | slack | ntfy

Read with :mod:`tomllib`; written by :func:`render_config` (flat keys and string lists, so a
small writer of our own is enough). Bad values are a ``UsageError`` naming the key.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from certsmith.errors import UsageError
from certsmith.wording import said

__all__ = [
    "NotifyConfig",
    "SmtpSecurity",
    "SmtpSettings",
    "WebhookFormat",
    "WebhookSettings",
    "check_address",
    "check_webhook_url",
    "parse_config",
    "parse_smtp_server",
    "render_config",
]


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class WebhookFormat(StrEnum):
    JSON = "json"
    SLACK = "slack"
    NTFY = "ntfy"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    mail_from: str
    mail_to: tuple[str, ...]
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    credentials: Path | None = None


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    format: WebhookFormat = WebhookFormat.JSON


@dataclass(frozen=True)
class NotifyConfig:
    smtp: SmtpSettings | None = None
    webhook: WebhookSettings | None = None
    language: str | None = None

    @property
    def empty(self) -> bool:
        return self.smtp is None and self.webhook is None


def parse_smtp_server(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:25`` for IPv6) -> (host, port); the port is required."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(said("notify.config.smtp_form", text=repr(text)))
    if any(c.isspace() or c in "/@" for c in host):
        raise UsageError(said("notify.config.smtp_host", text=repr(text), host=repr(host)))
    return host, int(port_text)


def check_address(value: str, what: str) -> str:
    """One mail address, without the characters that would let it forge a header."""
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c in value for c in "\r\n<>,; \t"):
        raise UsageError(said("notify.config.not_address", what=what, value=repr(value)))
    return value


def check_webhook_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(said("notify.config.webhook_scheme", url=repr(url)))
    if any(c.isspace() for c in url.strip()):
        raise UsageError(said("notify.config.webhook_spaces", url=repr(url)))
    return url.strip()


def _text(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise UsageError(said("notify.config.not_text", where=where, field=key))
    return value


def _smtp(table: Any, where: str) -> SmtpSettings:
    if not isinstance(table, dict):
        raise UsageError(said("notify.config.smtp_table", where=where))
    port = table.get("port")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise UsageError(said("notify.config.smtp_port", where=where))
    to = table.get("mail_to")
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not to or not all(isinstance(a, str) for a in to):
        raise UsageError(said("notify.config.smtp_mail_to", where=where))
    try:
        security = SmtpSecurity(table.get("security", "starttls"))
    except ValueError:
        raise UsageError(said("notify.config.smtp_security", where=where)) from None
    creds = table.get("credentials")
    if creds is not None and not isinstance(creds, str):
        raise UsageError(said("notify.config.smtp_credentials", where=where))
    host = _text(table, "host", where)
    if password_in_clear(host, security, bool(creds)):
        raise UsageError(said("notify.config.clear_text_password", where=where, host=host))
    return SmtpSettings(
        host=host,
        port=port,
        mail_from=check_address(_text(table, "mail_from", where), "smtp.mail_from"),
        mail_to=tuple(check_address(a, "smtp.mail_to") for a in to),
        security=security,
        credentials=Path(creds) if creds else None,
    )


def password_in_clear(host: str, security: SmtpSecurity, has_credentials: bool) -> bool:
    """Whether a login would send its password unencrypted to another machine (security
    ``none`` with credentials, to a host other than ``localhost`` or a loopback address)."""
    return has_credentials and security is SmtpSecurity.NONE and not _on_this_machine(host)


def _on_this_machine(host: str) -> bool:
    """``localhost`` or a loopback address: traffic to it never leaves the machine."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower().rstrip(".") == "localhost"


def _webhook(table: Any, where: str) -> WebhookSettings:
    if not isinstance(table, dict):
        raise UsageError(said("notify.config.webhook_table", where=where))
    try:
        kind = WebhookFormat(table.get("format", "json"))
    except ValueError:
        raise UsageError(said("notify.config.webhook_format", where=where)) from None
    return WebhookSettings(check_webhook_url(_text(table, "url", where)), kind)


def parse_config(text: str, where: str = "notify.toml") -> NotifyConfig:
    """The channels in ``text``; UsageError naming ``where`` when it is not valid."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where}: {exc}") from None
    language = data.get("language")
    return NotifyConfig(
        smtp=_smtp(data["smtp"], where) if "smtp" in data else None,
        webhook=_webhook(data["webhook"], where) if "webhook" in data else None,
        language=language if isinstance(language, str) else None,
    )


def _quote(value: str) -> str:
    """A TOML basic string (the escapes TOML 1.0 section "String" requires)."""
    out = ['"']
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def render_config(config: NotifyConfig) -> str:
    """``config`` as the TOML text :func:`parse_config` reads back unchanged."""
    lines = ["# certsmith alert channels, written by `certsmith notify setup`."]
    if config.language:
        lines.append(f"language = {_quote(config.language)}")
    if config.smtp is not None:
        s = config.smtp
        lines += [
            "",
            "[smtp]",
            f"host = {_quote(s.host)}",
            f"port = {s.port}",
            f"security = {_quote(s.security.value)}",
            f"mail_from = {_quote(s.mail_from)}",
            "mail_to = [" + ", ".join(_quote(a) for a in s.mail_to) + "]",
        ]
        if s.credentials is not None:
            lines.append(f"credentials = {_quote(str(s.credentials))}")
    if config.webhook is not None:
        w = config.webhook
        lines += ["", "[webhook]", f"url = {_quote(w.url)}", f"format = {_quote(w.format.value)}"]
    return "\n".join(lines) + "\n"
