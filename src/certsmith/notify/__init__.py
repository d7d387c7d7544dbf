"""Alerts: tell a person when renewal fails, when a certificate nears expiry without a successful
renewal, and when a server presents a stale certificate — by e-mail (SMTP) and by webhook.

    config.py     the channels (``notify.toml``: read with tomllib, written by render_config)
    alerts.py     what is worth an alert, and the one-a-day de-duplication (pure)
    channels.py   MailChannel (smtplib in a thread), WebhookChannel (httpx; json/slack/ntfy)
    dispatch.py   Notifier: word from the catalogue, de-duplicate, deliver, remember

Layering: cli -> notify -> {storage, renewal.policy, preflight.messages}. Nothing here prints;
no channel failure escapes as an exception (a failing alert never fails a renewal).
"""

from __future__ import annotations

from certsmith.notify.alerts import Alert, Problem, expiry_is_alarming
from certsmith.notify.channels import Message
from certsmith.notify.config import NotifyConfig, parse_config, render_config
from certsmith.notify.dispatch import Dispatch, Notifier, compose

__all__ = [
    "Alert",
    "Dispatch",
    "Message",
    "Notifier",
    "NotifyConfig",
    "Problem",
    "compose",
    "expiry_is_alarming",
    "parse_config",
    "render_config",
]
