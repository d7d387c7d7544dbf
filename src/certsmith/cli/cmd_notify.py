"""`certsmith notify setup|test`: write the alert channels to ``notify.toml``; send a test.

``setup`` replaces the channels it is given and keeps the other one (``--webhook`` alone keeps
the mail settings). Everything is checked before anything is written: the addresses, the URL,
and the credentials file (private to its owner, as dns-01's credentials).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket

from certsmith.cli.console import Console
from certsmith.cli.notify_hook import load_notifier
from certsmith.cli.options import NotifyOptions
from certsmith.errors import UsageError
from certsmith.notify import Message
from certsmith.notify.config import (
    NotifyConfig,
    SmtpSecurity,
    SmtpSettings,
    WebhookFormat,
    WebhookSettings,
    check_address,
    check_webhook_url,
    parse_config,
    parse_smtp_server,
    password_in_clear,
    render_config,
)
from certsmith.storage.notify_files import NotifyFiles

IMPLICIT_TLS_PORT = 465  # RFC 8314 section 7.3: submissions


def notify(options: NotifyOptions, console: Console) -> int:
    if options.action == "setup":
        return setup(options, console)
    if options.action == "test":
        return send_test(options, console)
    raise UsageError(console.message("notify.action"))


def _smtp(options: NotifyOptions, console: Console) -> SmtpSettings | None:
    o = options
    if o.smtp is None:
        if o.mail_from or o.mail_to or o.smtp_security or o.smtp_credentials:
            raise UsageError(console.message("notify.setup.smtp_flags_alone"))
        return None
    if not o.mail_from or not o.mail_to:
        raise UsageError(console.message("notify.setup.smtp_incomplete"))
    host, port = parse_smtp_server(o.smtp)
    default = SmtpSecurity.TLS if port == IMPLICIT_TLS_PORT else SmtpSecurity.STARTTLS
    settings = SmtpSettings(
        host=host,
        port=port,
        mail_from=check_address(o.mail_from, "--mail-from"),
        mail_to=tuple(check_address(a, "--mail-to") for a in o.mail_to),
        security=SmtpSecurity(o.smtp_security) if o.smtp_security else default,
        credentials=o.smtp_credentials,
    )
    if settings.credentials is not None:
        from certsmith.challenges.dns01.contract import read_credentials, require

        if password_in_clear(host, settings.security, has_credentials=True):
            raise UsageError(console.message("notify.setup.clear_text_password", host=host))

        values = read_credentials(settings.credentials)  # refuses a group/world-readable file
        for key in ("username", "password"):
            require(values, key, str(settings.credentials))
    return settings


def setup(options: NotifyOptions, console: Console) -> int:
    smtp = _smtp(options, console)
    webhook = None
    if options.webhook is not None:
        kind = WebhookFormat(options.webhook_format or "json")
        webhook = WebhookSettings(check_webhook_url(options.webhook), kind)
    elif options.webhook_format is not None:
        raise UsageError(console.message("notify.setup.format_alone"))
    if smtp is None and webhook is None:
        raise UsageError(console.message("notify.setup.nothing"))
    files = NotifyFiles(options.common.config_dir)
    old_text = files.read_config()
    old = parse_config(old_text, str(files.config_path)) if old_text else NotifyConfig()
    config = dataclasses.replace(
        old,
        smtp=smtp or old.smtp,
        webhook=webhook or old.webhook,
        language=console.catalogue.locale,
    )
    path = files.write_config(render_config(config))
    names = [("email", config.smtp), ("webhook", config.webhook)]
    channels = ", ".join(console.message(f"notify.channel.{n}") for n, c in names if c)
    console.say(console.message("notify.setup.written", path=path, channels=channels))
    return 0


def send_test(options: NotifyOptions, console: Console) -> int:
    notifier = load_notifier(console, options.common.config_dir)
    if notifier is None:
        raise UsageError(console.message("notify.not_configured"))
    cat, host = notifier.catalogue, socket.gethostname()
    text = cat.get("notify.test.text") + "\n\n" + cat.get("notify.footer", host=host)
    message = Message(cat.get("notify.test.title", host=host), text, host, "info")
    failed = False
    for channel, error in asyncio.run(notifier.send(message)):
        name = console.message(f"notify.channel.{channel}")
        if error is None:
            console.say(console.message("notify.test.sent", channel=name))
        else:
            failed = True
            console.error(console.message("notify.test.failed", channel=name, error=error))
    return 1 if failed else 0
