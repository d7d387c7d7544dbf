"""The settings a lineage is renewed with, as certbot stores them in ``[renewalparams]``.

certbot writes every value as a string (``reuse_key = True``, ``pref_challs = http-01,``,
``rsa_key_size = 2048``); lists end with a comma when they have one element. We read what certbot
wrote and write what certbot reads, and keep keys we do not know untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from certsmith.ca_urls import LETSENCRYPT, LETSENCRYPT_STAGING, LETSENCRYPT_V1
from certsmith.errors import UsageError
from certsmith.wording import said

__all__ = [
    "LETSENCRYPT",
    "LETSENCRYPT_STAGING",
    "LETSENCRYPT_V1",
    "LineageSettings",
    "SettingOverrides",
]

# Every [renewalparams] key LineageSettings reads or writes. Any other key (certbot's config_dir,
# installer, nginx_*, dns_*_propagation_seconds, ...) is carried through a renewal unchanged so
# certbot still finds it.
AUTHENTICATOR_ALIASES = {"dns-acmedns": "dns-acme-dns"}
DNS_CREDENTIAL_KEYS = (
    "dns_rfc2136_credentials",
    "dns_acme_dns_credentials",
    "dns_duckdns_credentials",
    "dns_acmedns_credentials",  # certbot-dns-acmedns
    "dns_cloudflare_credentials",
    "dns_digitalocean_credentials",
    "dns_google_credentials",
    "dns_ovh_credentials",
    "dns_linode_credentials",
)
MANAGED_KEYS = frozenset(
    {
        "server",
        "account",
        "authenticator",
        "key_type",
        "rsa_key_size",
        "elliptic_curve",
        "reuse_key",
        "allow_subset_of_names",
        "preferred_chain",
        "preferred_profile",
        "required_profile",
        "pref_challs",
        "webroot_path",
        "webroot_map",
        "user_agent",
        "http01_port",
        "http01_address",
        "tls_alpn_01_port",
        "manual_auth_hook",
        "manual_cleanup_hook",
        "pre_hook",
        "post_hook",
        "renew_hook",
        "deploy_hook",  # certbot reads it too, and writes it back as renew_hook
        "autorenew",
        "installer",
        "certsmith_ca_bundle",
        "certsmith_dns_resolver",
        *DNS_CREDENTIAL_KEYS,
    }
)


def _as_bool(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "yes", "1", "on"}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _as_int(value: Any, key: str) -> int | None:
    if value is None or value == "" or value == "None":
        return None
    try:
        return int(str(value))
    except ValueError:
        why = said("engine.setting_not_number", setting=key, value=repr(value))
        raise UsageError(why) from None


def _server(value: str | None) -> str:
    return LETSENCRYPT if value is None or value == LETSENCRYPT_V1 else value


def _as_str(value: Any) -> str | None:
    if value is None or value == "None" or value == "":
        return None
    return str(value)


@dataclass(frozen=True)
class LineageSettings:
    server: str = LETSENCRYPT
    account: str | None = None
    authenticator: str = "standalone"
    key_type: str = "ecdsa"
    rsa_key_size: int = 2048
    elliptic_curve: str = "secp256r1"
    reuse_key: bool = False
    # certbot's --allow-subset-of-names: names that fail validation are left out, also on renewal.
    allow_subset_of_names: bool = False
    preferred_chain: str | None = None
    preferred_profile: str | None = None
    required_profile: str | None = None
    preferred_challenges: tuple[str, ...] = ()  # pref_challs in the conf
    webroot_map: Mapping[str, str] = field(default_factory=dict)
    # The plugin name the conf used when certsmith knows it by another (certbot-dns-acmedns's
    # "dns-acmedns"): written back unchanged so certbot with that plugin still renews it.
    written_as: str | None = None
    webroot_default: str | None = None  # `renew -w PATH`: this run only, for every name
    # certbot's webroot_path: the -w folders as given (not the map's), kept across renewals; a
    # name the map lacks uses the last one, as certbot's webroot plugin does.
    webroot_path: tuple[str, ...] = ()
    # certbot's --new-key: a new private key this run only; the stored reuse_key stays.
    new_key: bool = False
    http01_port: int | None = None
    http01_address: str | None = None
    tls_alpn01_port: int | None = None  # tls_alpn_01_port in the conf
    manual_auth_hook: str | None = None
    manual_cleanup_hook: str | None = None
    pre_hook: str | None = None
    post_hook: str | None = None
    deploy_hook: str | None = None  # renew_hook in the conf (certbot's spelling)
    # certbot's --no-autorenew: `renew` leaves the lineage alone unless forced or a dry run.
    autorenew: bool = True
    # The web server the certificate is installed into (certbot's `installer`); None or "null":
    # none. Its options (nginx_server_root, apache_ctl, ...) are kept in ``extra``.
    installer: str | None = None
    dns_credentials: str | None = None
    ca_bundle: str | None = None
    dns_resolver: str | None = None
    # certbot's --user-agent, stored and sent on renewal (not --user-agent-comment; certbot
    # stores neither that nor the default agent).
    user_agent: str | None = None
    # [renewalparams] keys outside MANAGED_KEYS, written back as they were read.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> LineageSettings:
        """A copy with ``changes`` (field names of this class; None sets None)."""
        return replace(self, **changes)

    @property
    def plugin_name(self) -> str:
        """The authenticator's name as the renewal conf spells it."""
        if self.written_as and AUTHENTICATOR_ALIASES.get(self.written_as) == self.authenticator:
            return self.written_as
        return self.authenticator

    @property
    def profile(self) -> str | None:
        return self.required_profile or self.preferred_profile

    @classmethod
    def from_renewalparams(cls, params: Mapping[str, Any]) -> LineageSettings:
        authenticator = _as_str(params.get("authenticator")) or "standalone"
        # certbot-dns-acmedns (the third-party plugin certbot users run) calls itself so.
        written_as = authenticator if authenticator in AUTHENTICATOR_ALIASES else None
        authenticator = AUTHENTICATOR_ALIASES.get(authenticator, authenticator)
        credentials = None
        own_key = (written_as or authenticator).replace("-", "_") + "_credentials"
        for key in (own_key, *DNS_CREDENTIAL_KEYS):
            credentials = credentials or _as_str(params.get(key))
        webroot_map = params.get("webroot_map") or {}
        return cls(
            server=_server(_as_str(params.get("server"))),
            account=_as_str(params.get("account")),
            authenticator=authenticator,
            written_as=written_as,
            key_type=_as_str(params.get("key_type")) or "rsa",  # certbot < 2.0 wrote no key_type
            rsa_key_size=_as_int(params.get("rsa_key_size"), "rsa_key_size") or 2048,
            elliptic_curve=_as_str(params.get("elliptic_curve")) or "secp256r1",
            reuse_key=_as_bool(params.get("reuse_key")),
            allow_subset_of_names=_as_bool(params.get("allow_subset_of_names")),
            preferred_chain=_as_str(params.get("preferred_chain")),
            preferred_profile=_as_str(params.get("preferred_profile")),
            required_profile=_as_str(params.get("required_profile")),
            preferred_challenges=tuple(_as_list(params.get("pref_challs"))),
            webroot_map={str(k): str(v) for k, v in dict(webroot_map).items()},
            webroot_path=tuple(_as_list(params.get("webroot_path"))),
            http01_port=_as_int(params.get("http01_port"), "http01_port"),
            http01_address=_as_str(params.get("http01_address")),
            tls_alpn01_port=_as_int(params.get("tls_alpn_01_port"), "tls_alpn_01_port"),
            manual_auth_hook=_as_str(params.get("manual_auth_hook")),
            manual_cleanup_hook=_as_str(params.get("manual_cleanup_hook")),
            pre_hook=_as_str(params.get("pre_hook")),
            post_hook=_as_str(params.get("post_hook")),
            deploy_hook=_as_str(params.get("renew_hook")) or _as_str(params.get("deploy_hook")),
            autorenew=_as_bool(params.get("autorenew"), default=True),
            installer=_as_str(params.get("installer")),
            dns_credentials=credentials,
            ca_bundle=_as_str(params.get("certsmith_ca_bundle")),
            dns_resolver=_as_str(params.get("certsmith_dns_resolver")),
            user_agent=_as_str(params.get("user_agent")),
            extra={k: v for k, v in params.items() if k not in MANAGED_KEYS},
        )

    def to_renewalparams(self) -> dict[str, Any]:
        """certbot's spelling; None values are left out, as certbot does. Keys certsmith does
        not manage (``extra``) come back unchanged."""
        out: dict[str, Any] = {
            # --https-port is for this run's installer only: certbot neither writes nor
            # restores it (renewal.py CONFIG_ITEMS), so a renewal uses 443 as certbot's does.
            **{k: v for k, v in self.extra.items() if k != "https_port"},
            "account": self.account,
            "authenticator": self.plugin_name,
            "server": self.server,
            "key_type": self.key_type,
            "reuse_key": str(self.reuse_key),
            # certbot writes it only when set, as "True" (renewal.py reads it as a boolean).
            "allow_subset_of_names": "True" if self.allow_subset_of_names else None,
            "preferred_chain": self.preferred_chain,
            "preferred_profile": self.preferred_profile,
            "required_profile": self.required_profile,
            "http01_port": str(self.http01_port) if self.http01_port else None,
            "http01_address": self.http01_address,
            "tls_alpn_01_port": str(self.tls_alpn01_port) if self.tls_alpn01_port else None,
            "manual_auth_hook": self.manual_auth_hook,
            "manual_cleanup_hook": self.manual_cleanup_hook,
            "pre_hook": self.pre_hook,
            "post_hook": self.post_hook,
            "renew_hook": self.deploy_hook,
            # certbot writes it only when the user gave --autorenew/--no-autorenew.
            "autorenew": None if self.autorenew else "False",
            "installer": self.installer,
            "certsmith_ca_bundle": self.ca_bundle,
            "certsmith_dns_resolver": self.dns_resolver,
            "user_agent": self.user_agent,
        }
        if self.key_type == "rsa":
            out["rsa_key_size"] = str(self.rsa_key_size)
        else:
            out["elliptic_curve"] = self.elliptic_curve
        if self.preferred_challenges:
            out["pref_challs"] = list(self.preferred_challenges)
        if self.authenticator == "webroot":
            # As certbot: webroot_path only when -w was given (--webroot-map alone writes none).
            if self.webroot_path:
                out["webroot_path"] = list(self.webroot_path)
            if self.webroot_map:
                out["webroot_map"] = dict(self.webroot_map)
        if self.dns_credentials and self.authenticator.startswith("dns-"):
            out[self.plugin_name.replace("-", "_") + "_credentials"] = self.dns_credentials
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class SettingOverrides:
    """Settings a command line gives for this run; None means "not given, keep the lineage's".
    Each field has the name and type of the LineageSettings field it overrides (a test holds
    this), so one setting has one spelling from the flag to the conf."""

    server: str | None = None
    account: str | None = None
    authenticator: str | None = None
    key_type: str | None = None
    rsa_key_size: int | None = None
    elliptic_curve: str | None = None
    reuse_key: bool | None = None
    allow_subset_of_names: bool | None = None
    preferred_chain: str | None = None
    preferred_profile: str | None = None
    required_profile: str | None = None
    preferred_challenges: tuple[str, ...] | None = None
    webroot_map: Mapping[str, str] | None = None
    webroot_default: str | None = None
    webroot_path: tuple[str, ...] | None = None
    new_key: bool | None = None
    http01_port: int | None = None
    http01_address: str | None = None
    tls_alpn01_port: int | None = None
    manual_auth_hook: str | None = None
    manual_cleanup_hook: str | None = None
    pre_hook: str | None = None
    post_hook: str | None = None
    deploy_hook: str | None = None
    autorenew: bool | None = None
    installer: str | None = None
    dns_credentials: str | None = None
    ca_bundle: str | None = None
    dns_resolver: str | None = None
    user_agent: str | None = None
    # Plugin options kept as certbot names them (nginx_server_root = ...): merged, not replaced.
    extra: Mapping[str, Any] | None = None

    def apply(self, settings: LineageSettings) -> LineageSettings:
        """``settings`` with every given value of this run in place of the stored one."""
        given = {f.name: getattr(self, f.name) for f in fields(self)}
        changes = {k: v for k, v in given.items() if v is not None}
        if self.extra is not None:
            changes["extra"] = {**settings.extra, **self.extra}
        return settings.replace(**changes)

    def merged(self, other: SettingOverrides) -> SettingOverrides:
        """These overrides with ``other``'s given values on top."""
        given = {f.name: getattr(other, f.name) for f in fields(other)}
        if self.extra is not None and other.extra is not None:  # plugin options add up
            given["extra"] = {**self.extra, **other.extra}
        return replace(self, **{k: v for k, v in given.items() if v is not None})
