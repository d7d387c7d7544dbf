"""Typed, frozen options of the commands that manage certificates and accounts, check names and
report (everything but getting a certificate: certonly, run, renew, reconfigure and the web-server
commands live in :mod:`certsmith.cli.option_types`). Standard library only, like that module.

Callers import these from :mod:`certsmith.cli.options`, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from certsmith.cli.option_types import (
    REVOCATION_REASONS,
    AccountOptions,
    CertonlyOptions,
    ChallengeOptions,
    CommonOptions,
    RenewOptions,
    Verb,
    WebServerOptions,
)


@dataclass(frozen=True)
class CertificatesOptions:
    """``certsmith certificates``: list lineages (filtered by name or identifiers)."""

    verb: ClassVar[Verb] = Verb.CERTIFICATES
    common: CommonOptions
    cert_name: str | None = None
    domains: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    json: bool = False


@dataclass(frozen=True)
class RevokeOptions:
    """``certsmith revoke``: revoke by lineage name or certificate file.

    ``delete_after_revoke`` is None when neither flag was given: ask (default yes), or delete
    when non-interactive, as certbot 5.8 does.
    """

    verb: ClassVar[Verb] = Verb.REVOKE
    common: CommonOptions
    cert_name: str | None = None
    cert_path: Path | None = None
    reason: str = "unspecified"
    delete_after_revoke: bool | None = None
    account: AccountOptions = AccountOptions()
    key_path: Path | None = None  # revoke signed by the certificate's key (RFC 8555 7.6)

    @property
    def reason_code(self) -> int:
        """The RFC 5280 CRLReason code sent to the CA."""
        return REVOCATION_REASONS[self.reason]


@dataclass(frozen=True)
class DeleteOptions:
    """``certsmith delete``: remove a lineage's files."""

    verb: ClassVar[Verb] = Verb.DELETE
    common: CommonOptions
    cert_name: str | None = None


@dataclass(frozen=True)
class RegisterOptions:
    """``certsmith register``: create an ACME account."""

    verb: ClassVar[Verb] = Verb.REGISTER
    common: CommonOptions
    account: AccountOptions = AccountOptions()


@dataclass(frozen=True)
class ShowAccountOptions:
    """``certsmith show_account``: print the account's URI and contacts."""

    verb: ClassVar[Verb] = Verb.SHOW_ACCOUNT
    common: CommonOptions
    account: AccountOptions = AccountOptions()


@dataclass(frozen=True)
class UpdateAccountOptions:
    """``certsmith update_account``: change contact e-mail, or roll the account key over
    (``--rollover-key``, RFC 8555 section 7.3.5; ``certsmith rollover`` is a shorthand)."""

    verb: ClassVar[Verb] = Verb.UPDATE_ACCOUNT
    common: CommonOptions
    account: AccountOptions = AccountOptions()
    rollover_key: bool = False


@dataclass(frozen=True)
class UnregisterOptions:
    """``certsmith unregister``: deactivate the account (RFC 8555 section 7.3.6)."""

    verb: ClassVar[Verb] = Verb.UNREGISTER
    common: CommonOptions
    account: AccountOptions = AccountOptions()


@dataclass(frozen=True)
class CaaCheckOptions:
    """``certsmith caa-check``: would the CA be allowed to issue for these names (RFC 8659/8657)?

    ``issuer`` defaults to the CA's own CAA identity; ``account_uri`` and ``method`` check the
    RFC 8657 ``accounturi`` and ``validationmethods`` parameters.
    """

    verb: ClassVar[Verb] = Verb.CAA_CHECK
    common: CommonOptions
    domains: tuple[str, ...] = ()
    issuer: str | None = None
    account_uri: str | None = None
    method: str | None = None
    json: bool = False


@dataclass(frozen=True)
class DoctorOptions:
    """``certsmith doctor``: check lineages, accounts, hooks and reachability; explain problems."""

    verb: ClassVar[Verb] = Verb.DOCTOR
    common: CommonOptions
    cert_name: str | None = None
    domains: tuple[str, ...] = ()
    json: bool = False
    challenge: ChallengeOptions = ChallengeOptions()  # --standalone/--webroot: probe port 80


@dataclass(frozen=True)
class PersistRecordOptions:
    """``certsmith persist-record``: the dns-persist-01 TXT records for the account in use."""

    verb: ClassVar[Verb] = Verb.PERSIST_RECORD
    common: CommonOptions
    domains: tuple[str, ...] = ()
    wildcard: bool = False  # policy=wildcard: also *.NAME and names below it
    until: str | None = None  # persistUntil, as given (checked by the command)
    json: bool = False
    account: AccountOptions = AccountOptions()


@dataclass(frozen=True)
class NotifyOptions:
    """``certsmith notify setup|test``: write the alert channels, or send a test alert."""

    verb: ClassVar[Verb] = Verb.NOTIFY
    common: CommonOptions
    action: str = "test"  # "setup" | "test"
    smtp: str | None = None  # --smtp HOST:PORT (checked by the command, as all below)
    mail_from: str | None = None
    mail_to: tuple[str, ...] = ()
    smtp_security: str | None = None  # starttls | tls | none (None: starttls, or tls on 465)
    smtp_credentials: Path | None = None
    webhook: str | None = None
    webhook_format: str | None = None  # json | slack | ntfy


@dataclass(frozen=True)
class ReportOptions:
    """``certsmith report``: the status page to a file (--html) and/or served (--serve)."""

    verb: ClassVar[Verb] = Verb.REPORT
    common: CommonOptions
    html: Path | None = None
    serve: str | None = None  # --serve ADDRESS:PORT, loopback only (checked by the command)


Command = (
    CertonlyOptions
    | RenewOptions
    | WebServerOptions
    | CertificatesOptions
    | RevokeOptions
    | DeleteOptions
    | RegisterOptions
    | ShowAccountOptions
    | UpdateAccountOptions
    | UnregisterOptions
    | CaaCheckOptions
    | DoctorOptions
    | PersistRecordOptions
    | NotifyOptions
    | ReportOptions
)
