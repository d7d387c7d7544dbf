"""Typed, frozen options for each subcommand, built by :mod:`certsmith.cli.args`.

The engine receives one of these dataclasses, never an argparse namespace. Values the user did not
give stay ``None`` where "not given" matters (a renewal keeps what its renewal configuration
says); ``set_on_command_line`` names every option (by its ``dest``) that came from argv, so the
caller can tell a command-line override from a ``cli.ini`` default.

Only the standard library is imported here: ``certsmith --help`` must stay fast.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from certsmith.errors import UsageError

LE_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LE_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"

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

    def __str__(self) -> str:
        where = "" if self.source == "command line" else f" (from {self.source})"
        return f"{self.flag}{where}: {self.reason}"


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
    server: str = LE_PRODUCTION
    staging: bool = False
    ca_bundle: Path | None = None
    dns_resolver: tuple[str, int] | None = None
    non_interactive: bool = False
    verbose: int = 0
    quiet: bool = False
    config_files: tuple[Path, ...] = ()
    ignored_flags: tuple[IgnoredFlag, ...] = ()
    set_on_command_line: frozenset[str] = frozenset()


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

    authenticator: Authenticator | None = None
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

    ``delete_after_revoke`` is None when neither flag was given (ask, or keep if non-interactive).
    """

    verb: ClassVar[Verb] = Verb.REVOKE
    common: CommonOptions
    cert_name: str | None = None
    cert_path: Path | None = None
    reason: str = "unspecified"
    delete_after_revoke: bool | None = None
    account: AccountOptions = AccountOptions()

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


@dataclass(frozen=True)
class HelpRequest:
    """``--help``/``--version``: print ``text`` to stdout and exit 0."""

    text: str


Command = (
    CertonlyOptions
    | RenewOptions
    | CertificatesOptions
    | RevokeOptions
    | DeleteOptions
    | RegisterOptions
    | ShowAccountOptions
    | UpdateAccountOptions
    | UnregisterOptions
    | CaaCheckOptions
    | DoctorOptions
)


# -- building the options from parsed flags ------------------------------------------------------


def build_command(
    verb: Verb,
    values: Mapping[str, Any],
    *,
    given: frozenset[str] = frozenset(),
    defaults: Mapping[str, str],
    config_files: tuple[Path, ...] = (),
    ignored: tuple[IgnoredFlag, ...] = (),
    rollover: bool = False,
) -> Command:
    """Validate parsed flag values (argparse dests; None = not given) into ``verb``'s options.

    ``defaults`` holds ``config_dir``, ``work_dir`` and ``logs_dir``. Raises UsageError.
    """
    v = dict(values)
    common = _common(verb, v, given, defaults, config_files, ignored)
    domains = tuple(validate_domain(d) for d in v.get("domains") or ())
    ips = tuple(_ip_address(a) for a in v.get("ip_addresses") or ())
    cert_name = _cert_name(v.get("cert_name"))
    account = _account(v)
    if verb is Verb.CERTONLY:
        issuance, challenge = _issuance(v), _challenge(v)
        # certbot: every --webroot-map entry implies -d (or --ip-address) for it
        for ident, _path in challenge.webroot_map:
            if ident not in domains and ident not in ips:
                if ":" in ident or ident.replace(".", "").isdigit():
                    ips = (*ips, ident)
                else:
                    domains = (*domains, ident)
        if issuance.allow_subset_of_names and any(d.startswith("*.") for d in domains):
            raise UsageError("--allow-subset-of-names cannot be used with a wildcard domain.")
        return CertonlyOptions(
            common, domains, ips, cert_name, bool(v.get("expand")), _key(v), account,
            challenge, _hooks(v), issuance,
        )  # fmt: skip
    if verb is Verb.RENEW:
        return RenewOptions(
            common, cert_name, v.get("parallel") or 1, v.get("random_sleep") is not False,
            _key(v), account, _challenge(v), _hooks(v), _issuance(v),
        )  # fmt: skip
    if verb is Verb.CERTIFICATES:
        return CertificatesOptions(common, cert_name, domains, ips, bool(v.get("json")))
    if verb is Verb.REVOKE:
        return _revoke(common, v, cert_name, account)
    if verb is Verb.DELETE:
        return DeleteOptions(common, cert_name)
    if verb is Verb.REGISTER:
        return RegisterOptions(common, account)
    if verb is Verb.SHOW_ACCOUNT:
        return ShowAccountOptions(common, account)
    if verb is Verb.UPDATE_ACCOUNT:
        return UpdateAccountOptions(common, account, rollover or bool(v.get("rollover_key")))
    if verb is Verb.UNREGISTER:
        return UnregisterOptions(common, account)
    if verb is Verb.CAA_CHECK:
        method = v.get("method")
        if method is not None and method not in CHALLENGE_TYPES:
            raise UsageError(f"--method {method}: expected one of {', '.join(CHALLENGE_TYPES)}.")
        return CaaCheckOptions(
            common, domains, v.get("issuer"), v.get("account_uri"), method, bool(v.get("json"))
        )
    return DoctorOptions(common, cert_name, domains, bool(v.get("json")))


def _common(
    verb: Verb,
    v: dict[str, Any],
    given: frozenset[str],
    defaults: Mapping[str, str],
    config_files: tuple[Path, ...],
    ignored: tuple[IgnoredFlag, ...],
) -> CommonOptions:
    staging, dry_run = bool(v.get("staging")), bool(v.get("dry_run"))
    server = _server(v.get("server") or LE_PRODUCTION)
    # certbot's rule: --staging swaps the default server and conflicts with any other.
    if staging and server not in (LE_PRODUCTION, LE_STAGING):
        raise UsageError("--server value conflicts with --staging.")
    if (staging or dry_run) and server == LE_PRODUCTION:
        server = LE_STAGING
    quiet = bool(v.get("quiet"))
    resolver = v.get("dns_resolver")

    def folder(name: str) -> Path:
        return Path(v.get(name) or defaults[name]).expanduser().absolute()

    return CommonOptions(
        config_dir=folder("config_dir"),
        work_dir=folder("work_dir"),
        logs_dir=folder("logs_dir"),
        server=server,
        staging=staging or server == LE_STAGING,
        ca_bundle=_file(v.get("ca_bundle")),
        dns_resolver=_host_port(resolver) if resolver else None,
        non_interactive=bool(v.get("non_interactive")) or quiet or verb is Verb.RENEW,
        verbose=v.get("verbose") or 0,
        quiet=quiet,
        config_files=config_files,
        ignored_flags=ignored,
        set_on_command_line=given - {"ident_order", "ignored", "unsupported"},
    )


def _key(v: dict[str, Any]) -> KeyOptions:
    size, curve = v.get("rsa_key_size"), v.get("elliptic_curve")
    if size is not None and size not in RSA_KEY_SIZES:
        sizes = ", ".join(map(str, RSA_KEY_SIZES))
        raise UsageError(f"--rsa-key-size {size} is not supported; use {sizes}.")
    if curve is not None and curve not in ELLIPTIC_CURVES:
        raise UsageError(f"--elliptic-curve {curve}: use one of {', '.join(ELLIPTIC_CURVES)}.")
    return KeyOptions(v.get("key_type"), size, curve, v.get("reuse_key"), bool(v.get("new_key")))


def _account(v: dict[str, Any]) -> AccountOptions:
    email = v.get("email")
    if email is not None:
        addresses = [e.strip() for e in email.split(",") if e.strip()]
        bad = [e for e in addresses if "@" not in e or " " in e or e.startswith("@")]
        if bad or not addresses:
            raise UsageError(f"--email {email!r} is not an e-mail address.")
        email = ",".join(addresses)
    if email and v.get("register_unsafely_without_email"):
        raise UsageError("--email and --register-unsafely-without-email contradict each other.")
    kid, hmac = v.get("eab_kid"), v.get("eab_hmac_key")
    if (kid is None) != (hmac is None):
        raise UsageError("External Account Binding needs both --eab-kid and --eab-hmac-key.")
    alg = (v.get("eab_hmac_alg") or "HS256").upper()
    if alg not in ("HS256", "HS384", "HS512"):
        raise UsageError(f"--eab-hmac-alg {alg}: use HS256, HS384 or HS512.")
    return AccountOptions(
        email, bool(v.get("agree_tos")), bool(v.get("register_unsafely_without_email")),
        kid, hmac, alg, v.get("account"),
    )  # fmt: skip


def _challenge(v: dict[str, Any]) -> ChallengeOptions:
    order: list[tuple[str, str]] = list(v.get("ident_order") or ())
    paths, mapping = _webroot_map(order)
    for names, path in _json_map(v.get("webroot_map")).items():
        for ident in names.split(","):
            mapping[_identifier(ident)] = _path(path)
    name = v.get("authenticator")
    if name is None and (paths or mapping):
        name = Authenticator.WEBROOT.value
    auth = Authenticator(name) if name else None
    dns = auth.value.replace("-", "_") if auth and auth.value.startswith("dns-") else None
    return ChallengeOptions(
        authenticator=auth,
        webroot_paths=tuple(paths),
        webroot_map=tuple(mapping.items()),
        manual_auth_hook=v.get("manual_auth_hook"),
        manual_cleanup_hook=v.get("manual_cleanup_hook"),
        preferred_challenges=tuple(dict.fromkeys(v.get("preferred_challenges") or ())),
        http01_port=v.get("http01_port"),
        http01_address=v.get("http01_address"),
        tls_alpn01_port=v.get("tls_alpn01_port"),
        dns_credentials=_file(v.get(f"{dns}_credentials")) if dns else None,
        dns_propagation_seconds=v.get(f"{dns}_propagation_seconds") if dns else None,
        duckdns_token=v.get("dns_duckdns_token"),
    )


def _webroot_map(order: list[tuple[str, str]]) -> tuple[list[Path], dict[str, Path]]:
    """certbot's rule: each -w applies to the -d/--ip-address flags after it; identifiers given
    before the first -w take the last -w, which is allowed only when there is one -w."""
    paths: list[Path] = []
    mapping: dict[str, Path] = {}
    pending: list[str] = []
    ident_before_first_path = False
    for dest, value in order:
        if dest != "webroot_path":
            pending.append(validate_domain(value) if dest == "domains" else _ip_address(value))
            continue
        if ident_before_first_path:
            raise UsageError(
                "If you give several webroot paths, one must come before all -d flags."
            )
        if paths:
            for ident in pending:
                mapping.setdefault(ident, paths[-1])
            pending = []
        elif pending:
            ident_before_first_path = True
        paths.append(_path(value))
    for ident in pending if paths else ():
        mapping.setdefault(ident, paths[-1])
    return paths, mapping


def _identifier(text: str) -> str:
    """A -d name, or an IP address (as --webroot-map keys may be)."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return validate_domain(text)


def _json_map(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise UsageError("--webroot-map is not valid JSON.") from None
    if not isinstance(data, dict) or not all(isinstance(p, str) for p in data.values()):
        raise UsageError('--webroot-map must look like {"a.com,www.a.com": "/var/www/a"}.')
    return data


def _hooks(v: dict[str, Any]) -> HookOptions:
    return HookOptions(
        v.get("pre_hook"), v.get("post_hook"), v.get("deploy_hook"),
        v.get("directory_hooks") is not False, v.get("validate_hooks") is not False,
    )  # fmt: skip


def _issuance(v: dict[str, Any]) -> IssuanceOptions:
    required, preferred = v.get("required_profile"), v.get("preferred_profile")
    if required and preferred:
        raise UsageError("Give --required-profile or --preferred-profile, not both.")
    return IssuanceOptions(
        v.get("preferred_chain"), preferred, required, bool(v.get("allow_subset_of_names")),
        v.get("preflight") is not False, bool(v.get("dry_run")), bool(v.get("force_renewal")),
    )  # fmt: skip


def _revoke(
    common: CommonOptions, v: dict[str, Any], cert_name: str | None, account: AccountOptions
) -> RevokeOptions:
    cert_path = _file(v.get("cert_path"))
    if cert_name and cert_path:
        raise UsageError("Give --cert-name or --cert-path, not both.")
    return RevokeOptions(
        common, cert_name, cert_path, v.get("reason") or "unspecified",
        v.get("delete_after_revoke"), account,
    )  # fmt: skip


# -- value checks -------------------------------------------------------------------------------


def validate_domain(text: str) -> str:
    """A DNS name (``*.`` wildcard allowed), lower-cased, without trailing dot; else UsageError."""
    name = text.strip().lower().removesuffix(".")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise UsageError(f"{text} is an IP address; pass it with --ip-address.")
    if not name.isascii():
        raise UsageError(f"{text!r}: give internationalized names in punycode (xn--...).")
    labels = name.split(".")
    wildcard = labels[0] == "*"
    rest = labels[1:] if wildcard else labels
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in rest)
        or (wildcard and len(rest) < 2)
    ):
        raise UsageError(f"{text!r} is not a valid domain name.")
    return name


_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise UsageError(f"--ip-address {text!r} is not an IP address.") from None


def _cert_name(text: str | None) -> str | None:
    if text is None:
        return None
    if not text or "/" in text or "\\" in text or text in (".", ".."):
        raise UsageError(f"--cert-name {text!r}: a name must not be empty or contain / or \\.")
    return text


def _server(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise UsageError(f"--server {url!r} is not an http(s) URL of an ACME directory.")
    return url


def _host_port(text: str, default_port: int = 53) -> tuple[str, int]:
    """``127.0.0.1:5353``, ``[::1]:53``, ``::1`` or ``10.0.0.1`` -> (host, port)."""
    host, port_text = text.strip(), ""
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif host.count(":") == 1:
        host, port_text = host.split(":")
    try:
        ipaddress.ip_address(host)
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise UsageError(f"--dns-resolver {text!r}: expected IP[:PORT].") from None
    if not 0 < port < 65536:
        raise UsageError(f"--dns-resolver {text!r}: port out of range.")
    return host, port


def _path(text: str) -> Path:
    return Path(text).expanduser().absolute()


def _file(text: str | None) -> Path | None:
    return _path(text) if text else None
