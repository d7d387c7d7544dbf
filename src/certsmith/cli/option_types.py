"""Typed, frozen options for each subcommand, built by :mod:`certsmith.cli.args`.

The engine receives one of these dataclasses, never an argparse namespace. Values the user did not
give stay ``None`` where "not given" matters (a renewal keeps what its renewal configuration
says); ``set_on_command_line`` names every option (by its ``dest``) that came from argv, so the
caller can tell a command-line override from a ``cli.ini`` default.

Callers import these from :mod:`certsmith.cli.options`, which re-exports them. Only the standard
library is imported here: ``certsmith --help`` must stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from certsmith.ca_urls import LETSENCRYPT
from certsmith.wording import Said

# RFC 5280 section 5.3.1 codes the CA accepts; the names are certbot's.
REVOCATION_REASONS: dict[str, int] = {
    "unspecified": 0,
    "keycompromise": 1,
    "affiliationchanged": 3,
    "superseded": 4,
    "cessationofoperation": 5,
}

DEFAULT_KEY_TYPE = "ecdsa"
DEFAULT_RSA_KEY_SIZE = 2048
DEFAULT_ELLIPTIC_CURVE = "secp256r1"
RSA_KEY_SIZES = (2048, 3072, 4096)
ELLIPTIC_CURVES = ("secp256r1", "secp384r1", "secp521r1")
CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01")


class Verb(StrEnum):
    """The subcommands certsmith runs."""

    CERTONLY = "certonly"
    RENEW = "renew"
    CERTIFICATES = "certificates"
    REVOKE = "revoke"
    DELETE = "delete"
    REGISTER = "register"
    SHOW_ACCOUNT = "show_account"
    UPDATE_ACCOUNT = "update_account"
    UNREGISTER = "unregister"
    CAA_CHECK = "caa-check"
    DOCTOR = "doctor"
    # certbot's web-server verbs (the installers are in certsmith.installers)
    RUN = "run"
    INSTALL = "install"
    ENHANCE = "enhance"
    ROLLBACK = "rollback"
    CONFIG_CHANGES = "config_changes"
    PLUGINS = "plugins"
    RECONFIGURE = "reconfigure"
    UPDATE_SYMLINKS = "update_symlinks"
    PERSIST_RECORD = "persist-record"  # dns-persist-01's standing record (cmd_persist.py)
    NOTIFY = "notify"  # alert channels: `notify setup|test` (cmd_notify.py)
    REPORT = "report"  # the status page: `report --html FILE | --serve ADDR` (cmd_report.py)


class Authenticator(StrEnum):
    """How identifiers are validated (certbot's authenticator plugin names)."""

    STANDALONE = "standalone"
    WEBROOT = "webroot"
    MANUAL = "manual"
    DNS_RFC2136 = "dns-rfc2136"
    DNS_ACME_DNS = "dns-acme-dns"
    DNS_DUCKDNS = "dns-duckdns"


@dataclass(frozen=True)
class IgnoredFlag:
    """A flag certsmith accepted for certbot compatibility but does not act on."""

    flag: str
    reason: str
    source: str = "command line"
    # True: a certbot flag certsmith does not act on; said once at the default verbosity.
    # False: a flag another subcommand uses (shown with -v, as certbot ignores it silently).
    announce: bool = False

    def __str__(self) -> str:
        where = "" if self.source == "command line" else f" (from {self.source})"
        return f"{self.flag}{where}: {self.reason}"

    def said(self) -> Said:
        """This note in English (``str``) with the catalogue key that words it (``reason`` is
        a Said too, see ``certsmith.cli.flags``)."""
        if self.source == "command line":
            return Said(str(self), "flag.reason", flag=self.flag, reason=self.reason)
        values = {"flag": self.flag, "source": self.source, "reason": self.reason}
        return Said(str(self), "flag.reason.from", **values)


@dataclass(frozen=True)
class CommonOptions:
    """Flags every subcommand accepts, before or after the subcommand.

    ``server`` is already resolved: ``--staging`` or ``--dry-run`` turned the Let's Encrypt
    production URL into the staging one, as certbot does. ``non_interactive`` is true when ``-n``,
    ``--quiet`` or ``renew`` asked for it; whether stdin is a TTY is decided by the prompter.
    """

    config_dir: Path
    work_dir: Path
    logs_dir: Path
    server: str = LETSENCRYPT
    staging: bool = False
    ca_bundle: Path | None = None
    dns_resolver: tuple[str, int] | None = None
    non_interactive: bool = False
    verbose: int = 0
    quiet: bool = False
    config_files: tuple[Path, ...] = ()
    ignored_flags: tuple[IgnoredFlag, ...] = ()
    set_on_command_line: frozenset[str] = frozenset()
    verify_tls: bool = True  # False: --no-verify-ssl (the CA's certificate is not checked)
    issuance_timeout: int | None = None  # --issuance-timeout (None: the order's own deadline)
    user_agent: str | None = None  # --user-agent (None: certsmith's own)
    user_agent_comment: str | None = None  # --user-agent-comment, added in parentheses
    max_log_backups: int | None = None  # --max-log-backups (None: 10; 0: the log never rotates)


@dataclass(frozen=True)
class KeyOptions:
    """The certificate key. ``None`` means "not given": new lineages use the DEFAULT_* values,
    renewals keep what the renewal configuration says."""

    key_type: str | None = None
    rsa_key_size: int | None = None
    elliptic_curve: str | None = None
    reuse_key: bool | None = None
    new_key: bool = False

    @property
    def effective_key_type(self) -> str:
        """The key type for a new lineage."""
        return self.key_type or DEFAULT_KEY_TYPE


@dataclass(frozen=True)
class AccountOptions:
    """Registration inputs: contact, terms, External Account Binding (RFC 8555 section 7.3.4)."""

    email: str | None = None
    agree_tos: bool = False
    register_unsafely_without_email: bool = False
    eab_kid: str | None = None
    eab_hmac_key: str | None = None
    eab_hmac_alg: str = "HS256"
    account: str | None = None


@dataclass(frozen=True)
class ChallengeOptions:
    """How to answer challenges.

    ``webroot_map`` pairs each identifier with the ``-w`` that preceded it (certbot's
    ``webroot_map``); ``webroot_paths`` keeps every ``-w`` in order, the last being the default for
    identifiers added later (for example from a renewal configuration).
    """

    authenticator: str | None = None  # an Authenticator, or dns-NAME for a plug-in provider
    webroot_paths: tuple[Path, ...] = ()
    webroot_map: tuple[tuple[str, Path], ...] = ()
    manual_auth_hook: str | None = None
    manual_cleanup_hook: str | None = None
    preferred_challenges: tuple[str, ...] = ()
    http01_port: int | None = None
    http01_address: str | None = None
    tls_alpn01_port: int | None = None
    dns_credentials: Path | None = None
    dns_propagation_seconds: int | None = None
    duckdns_token: str | None = None
    # DNS plug-in settings kept in the renewal conf as certbot names them
    # (dns_cloudflare_propagation_seconds = 30, dns_google_project = p).
    dns_plugin_options: tuple[tuple[str, str], ...] = ()

    def webroot_for(self, identifier: str) -> Path | None:
        """The webroot for ``identifier``: its own ``-w``, else the last ``-w`` given, else None."""
        for name, path in self.webroot_map:
            if name == identifier:
                return path
        return self.webroot_paths[-1] if self.webroot_paths else None


@dataclass(frozen=True)
class HookOptions:
    """Shell commands run around issuance (certbot's --pre/--post/--deploy-hook)."""

    pre_hook: str | None = None
    post_hook: str | None = None
    deploy_hook: str | None = None
    directory_hooks: bool = True
    validate_hooks: bool = True
    run_deploy_hooks: bool = False  # --run-deploy-hooks: deploy hooks run in a dry run too


@dataclass(frozen=True)
class IssuanceOptions:
    """What an order asks the CA for beyond identifiers and key."""

    preferred_chain: str | None = None
    preferred_profile: str | None = None
    required_profile: str | None = None
    allow_subset_of_names: bool = False
    preflight: bool = True
    dry_run: bool = False
    force_renewal: bool = False
    autorenew: bool | None = None  # --autorenew / --no-autorenew; None: keep what is stored
    self_check: bool = True  # --no-self-check: the manual authenticator does not fetch its URL
    break_my_certs: bool = False  # a staging certificate may replace a production one


@dataclass(frozen=True)
class InstallerOptions:
    """The web server a certificate goes into: ``-i``/``--installer``, ``--nginx``/``--apache``
    (``null``: none), its options under certbot's renewal-conf keys (``nginx_server_root``, ...),
    and the enhancements asked for (``redirect``, ``hsts``, ``uir``)."""

    name: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    enhancements: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsrOptions:
    """``certonly --csr FILE``: a CSR made elsewhere; the certificate goes to these files (None:
    certbot's defaults, ./0000_cert.pem, ./0000_chain.pem and ./0001_chain.pem)."""

    csr: Path
    cert_path: Path | None = None
    chain_path: Path | None = None
    fullchain_path: Path | None = None


@dataclass(frozen=True)
class CertonlyOptions:
    """``certsmith certonly``: obtain (or replace) one certificate and save it, nothing else."""

    verb: ClassVar[Verb] = Verb.CERTONLY
    common: CommonOptions
    domains: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    cert_name: str | None = None
    expand: bool = False
    key: KeyOptions = KeyOptions()
    account: AccountOptions = AccountOptions()
    challenge: ChallengeOptions = ChallengeOptions()
    hooks: HookOptions = HookOptions()
    issuance: IssuanceOptions = IssuanceOptions()
    installer: InstallerOptions = InstallerOptions()
    csr: CsrOptions | None = None
    duplicate: bool = False  # --duplicate: a new lineage NAME-0001 beside NAME


@dataclass(frozen=True)
class RunOptions(CertonlyOptions):
    """``certsmith run`` (and no subcommand, as in certbot): certonly, then install into
    ``installer`` (``-i null``: nowhere) with its enhancements."""

    verb: ClassVar[Verb] = Verb.RUN


@dataclass(frozen=True)
class RenewOptions:
    """``certsmith renew``: renew every lineage that is due (or only ``cert_name``).

    Flags given here override each lineage's renewal configuration for this run.
    """

    verb: ClassVar[Verb] = Verb.RENEW
    common: CommonOptions
    cert_name: str | None = None
    parallel: int = 1
    random_sleep: bool = True
    key: KeyOptions = KeyOptions()
    account: AccountOptions = AccountOptions()
    challenge: ChallengeOptions = ChallengeOptions()
    hooks: HookOptions = HookOptions()
    issuance: IssuanceOptions = IssuanceOptions()
    installer: InstallerOptions = InstallerOptions()
    json: bool = False  # --json: the run's summary as one JSON object (docs/cli.md)
    ari_fetch_limit: int | None = None  # --ari-fetch-limit N (None: the default)


@dataclass(frozen=True)
class ReconfigureOptions(RenewOptions):
    """``certsmith reconfigure --cert-name NAME [settings]``: change a lineage's renewal
    settings after a dry run with them succeeded (certbot 5.8's reconfigure)."""

    verb: ClassVar[Verb] = Verb.RECONFIGURE


@dataclass(frozen=True)
class WebServerOptions:
    """``install``, ``enhance``, ``rollback``, ``config_changes``, ``plugins`` and
    ``update_symlinks``: a lineage (``cert_name``), a web server, and rollback's
    ``checkpoints``."""

    verb: Verb
    common: CommonOptions
    cert_name: str | None = None
    installer: InstallerOptions = InstallerOptions()
    checkpoints: int = 1
    dry_run: bool = False  # install, enhance: show the diff, change nothing


@dataclass(frozen=True)
class HelpRequest:
    """``--help``/``--version``: print ``text`` to stdout and exit 0."""

    text: str
