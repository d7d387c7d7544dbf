"""Building the option groups from parsed flag values, and the checks on single values.

:func:`certsmith.cli.options.build_command` calls these; each raises ``UsageError`` (one
sentence) for bad input. Only the standard library is imported here: ``certsmith --help`` must
stay fast.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from certsmith.ca_urls import LETSENCRYPT, LETSENCRYPT_STAGING
from certsmith.cli.contact import is_email_address
from certsmith.cli.option_types import (
    ELLIPTIC_CURVES,
    RSA_KEY_SIZES,
    AccountOptions,
    Authenticator,
    ChallengeOptions,
    CommonOptions,
    CsrOptions,
    HookOptions,
    IgnoredFlag,
    InstallerOptions,
    IssuanceOptions,
    KeyOptions,
    Verb,
)
from certsmith.cli.usage import usage_error
from certsmith.cli.values import (
    absolute_path,
    dns_resolver_address,
    optional_path,
    server_url,
    validate_domain,
    validate_ip_address,
)
from certsmith.wording import said

WEB_SERVERS = ("nginx", "apache")
INSTALLERS = ("null", *WEB_SERVERS)
# certbot's options of its nginx and apache plugins, kept in the renewal conf under their dest.
INSTALLER_OPTIONS = (
    ("--nginx-server-root", "nginx's configuration folder (default: /etc/nginx)"),
    ("--nginx-ctl", "the nginx binary (default: nginx)"),
    ("--nginx-sleep-seconds", "seconds to wait after reloading nginx"),
    ("--apache-server-root", "apache's configuration folder"),
    ("--apache-vhost-root", "folder of the virtual host files"),
    ("--apache-ctl", "apache's control script (default: apache2ctl)"),
    ("--apache-le-vhost-ext", "suffix of the SSL virtual host files certsmith creates"),
    ("--apache-handle-modules", "enable the modules apache needs (True/False)"),
    ("--apache-handle-sites", "enable the sites it writes (True/False)"),
    ("--apache-challenge-location", "folder for apache's http-01 configuration"),
    ("--apache-logs-root", "apache's log folder"),
    ("--apache-enmod", "a2enmod's path"),
    ("--apache-dismod", "a2dismod's path"),
    ("--apache-bin", "the apache binary"),
    ("--https-port", "the port of the TLS server blocks installers add (default: 443)"),
)
INSTALLER_OPTION_DESTS = tuple(o.lstrip("-").replace("-", "_") for o, _ in INSTALLER_OPTIONS)

# certbot's order when it resolves the shortcut flags (plugins/selection.py).
_SHORTCUT_ORDER = ("nginx", "apache", "standalone", "webroot", "manual")


def common_options(
    verb: Verb,
    v: dict[str, Any],
    given: frozenset[str],
    defaults: Mapping[str, str],
    config_files: tuple[Path, ...],
    ignored: tuple[IgnoredFlag, ...],
) -> CommonOptions:
    """The flags every subcommand takes; ``--staging``/``--dry-run`` resolve the server here."""
    staging, dry_run = bool(v.get("staging")), bool(v.get("dry_run"))
    server = server_url(v.get("server") or LETSENCRYPT)
    # certbot's rule: --staging swaps the default server and conflicts with any other.
    if staging and server not in (LETSENCRYPT, LETSENCRYPT_STAGING):
        raise usage_error("usage.server_staging")
    if (staging or dry_run) and server == LETSENCRYPT:
        server = LETSENCRYPT_STAGING
    quiet = bool(v.get("quiet"))
    resolver = v.get("dns_resolver")

    def folder(name: str) -> Path:
        return Path(v.get(name) or defaults[name]).expanduser().absolute()

    return CommonOptions(
        config_dir=folder("config_dir"),
        work_dir=folder("work_dir"),
        logs_dir=folder("logs_dir"),
        server=server,
        staging=staging or server == LETSENCRYPT_STAGING,
        ca_bundle=optional_path(v.get("ca_bundle")),
        dns_resolver=dns_resolver_address(resolver) if resolver else None,
        non_interactive=bool(v.get("non_interactive")) or quiet or verb is Verb.RENEW,
        verbose=v.get("verbose") or 0,
        quiet=quiet,
        config_files=config_files,
        ignored_flags=ignored,
        set_on_command_line=given - {"ident_order", "ignored", "unsupported"},
        verify_tls=v.get("verify_ssl") is not False,
        issuance_timeout=v.get("issuance_timeout"),
        user_agent=v.get("user_agent"),
        user_agent_comment=v.get("user_agent_comment"),
        max_log_backups=v.get("max_log_backups"),
    )


def key_options(v: dict[str, Any]) -> KeyOptions:
    """The certificate key flags; an unsupported RSA size or curve is a UsageError."""
    size, curve = v.get("rsa_key_size"), v.get("elliptic_curve")
    if size is not None and size not in RSA_KEY_SIZES:
        sizes = ", ".join(map(str, RSA_KEY_SIZES))
        raise usage_error("usage.rsa_key_size", size=size, sizes=sizes)
    if curve is not None and curve not in ELLIPTIC_CURVES:
        raise usage_error("usage.elliptic_curve", curve=curve, curves=", ".join(ELLIPTIC_CURVES))
    return KeyOptions(v.get("key_type"), size, curve, v.get("reuse_key"), bool(v.get("new_key")))


def account_options(v: dict[str, Any]) -> AccountOptions:
    """Contact, terms and EAB flags, checked for consistency; e-mails come back normalized."""
    email = v.get("email")
    if email is not None:
        addresses = [e.strip() for e in email.split(",") if e.strip()]
        bad = [e for e in addresses if not is_email_address(e)]
        if bad or not addresses:
            raise usage_error("usage.email_invalid", email=repr(email))
        email = ",".join(addresses)
    if email and v.get("register_unsafely_without_email"):
        raise usage_error("usage.email_contradiction")
    kid, hmac = v.get("eab_kid"), v.get("eab_hmac_key")
    if (kid is None) != (hmac is None):
        raise usage_error("usage.eab_pair")
    if hmac is not None:
        _check_base64url(hmac)
    alg = (v.get("eab_hmac_alg") or "HS256").upper()
    if alg not in ("HS256", "HS384", "HS512"):
        raise usage_error("usage.eab_alg", alg=alg)
    return AccountOptions(
        email, bool(v.get("agree_tos")), bool(v.get("register_unsafely_without_email")),
        kid, hmac, alg, v.get("account"),
    )  # fmt: skip


def _check_base64url(text: str) -> None:
    try:
        base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise usage_error("usage.eab_key_base64") from None


def challenge_options(v: dict[str, Any]) -> ChallengeOptions:
    """The authenticator and its settings; any -w or --webroot-map implies ``webroot``."""
    if v.get("dns_duckdns_token"):
        # Accepted by the parser for certbot users, but a token in argv is visible to every
        # local user and would have to be copied into the renewal conf: refuse it clearly
        # rather than ignore it.
        raise usage_error("usage.duckdns_token")
    order: list[tuple[str, str]] = list(v.get("ident_order") or ())
    paths, mapping = _webroot_map(order)
    for names, path in _json_map(v.get("webroot_map")).items():
        for ident in names.split(","):
            mapping[_identifier(ident)] = absolute_path(path)
    name, _installer = plugin_requests(
        v.get("authenticator"), v.get("installer"), v.get("configurator")
    )
    if name is None and (paths or mapping):
        name = Authenticator.WEBROOT.value
    preferred = tuple(dict.fromkeys(v.get("preferred_challenges") or ()))
    if name == "dns-account":  # dns-account-01 through --manual's hooks (docs/dns-persist.md)
        name = Authenticator.MANUAL.value
        preferred = tuple(dict.fromkeys(("dns-account-01", *preferred)))
    known = {a.value for a in Authenticator}
    auth: str | None = (Authenticator(name) if name in known else name) if name else None
    dns = auth.replace("-", "_") if auth and auth.startswith("dns-") else None
    return ChallengeOptions(
        authenticator=auth,
        webroot_paths=tuple(paths),
        webroot_map=tuple(mapping.items()),
        manual_auth_hook=v.get("manual_auth_hook"),
        manual_cleanup_hook=v.get("manual_cleanup_hook"),
        preferred_challenges=preferred,
        http01_port=v.get("http01_port"),
        http01_address=v.get("http01_address"),
        tls_alpn01_port=v.get("tls_alpn01_port"),
        dns_credentials=optional_path(v.get(f"{dns}_credentials") or v.get("dns_credentials"))
        if dns
        else None,
        dns_propagation_seconds=v.get(f"{dns}_propagation_seconds") if dns else None,
        duckdns_token=v.get("dns_duckdns_token"),
        dns_plugin_options=_dns_plugin_options(v, dns),
    )


def _dns_plugin_options(v: dict[str, Any], dns: str | None) -> tuple[tuple[str, str], ...]:
    """The chosen DNS plug-in's --dns-NAME-propagation-seconds (and --dns-google-project) as
    certbot writes them into the renewal conf."""
    if dns is None:
        return ()
    given = {f"{dns}_propagation_seconds": v.get(f"{dns}_propagation_seconds")}
    if dns == "dns_google":
        given["dns_google_project"] = v.get("dns_google_project")
    return tuple((key, str(value)) for key, value in given.items() if value is not None)


def _webroot_map(order: list[tuple[str, str]]) -> tuple[list[Path], dict[str, Path]]:
    """certbot's rule: each -w applies to the -d/--ip-address flags after it; identifiers given
    before the first -w take the last -w, which is allowed only when there is one -w."""
    paths: list[Path] = []
    mapping: dict[str, Path] = {}
    pending: list[str] = []
    ident_before_first_path = False
    for dest, value in order:
        if dest != "webroot_path":
            check = validate_domain if dest == "domains" else validate_ip_address
            pending.append(check(value))
            continue
        if ident_before_first_path:
            raise usage_error("usage.webroot_order")
        if paths:
            for ident in pending:
                mapping.setdefault(ident, paths[-1])
            pending = []
        elif pending:
            ident_before_first_path = True
        paths.append(absolute_path(value))
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
        raise usage_error("usage.webroot_map_json") from None
    if not isinstance(data, dict) or not all(isinstance(p, str) for p in data.values()):
        raise usage_error("usage.webroot_map_shape")
    return data


def installer_options(v: dict[str, Any], verb: Verb) -> InstallerOptions:
    """The web server of -i/--installer, --nginx/--apache or --configurator (certbot's rule in
    :func:`plugin_requests`), its options and the enhancements asked for."""
    _auth, name = plugin_requests(v.get("authenticator"), v.get("installer"), v.get("configurator"))
    if name is not None and name not in ("null", "nginx", "apache"):
        raise usage_error("usage.no_installer", name=repr(name))
    options = tuple((dest, str(v[dest])) for dest in INSTALLER_OPTION_DESTS if v.get(dest))
    wanted = tuple(e for e in ("redirect", "hsts", "uir") if v.get(e))
    if wanted and verb in (Verb.RUN, Verb.INSTALL) and name in (None, "null"):
        flags = ", ".join(f"--{e}" for e in wanted)
        raise usage_error("usage.enhancement_needs_server", flags=flags)
    return InstallerOptions(name, options, wanted)


def plugin_requests(
    authenticator: list[tuple[str, str]] | None,
    installer: str | None,
    configurator: str | None,
) -> tuple[str | None, str | None]:
    """certbot's rule (plugins/selection.py cli_plugin_requests): -a and -i may be repeated, the
    last wins; --configurator sets both; the shortcut flags (--standalone, --nginx, ...) must
    agree with each other and with -a/-i/--configurator. Returns (authenticator, installer)."""

    def agree(previous: str | None, now: str | None) -> str | None:
        if previous and now and previous != now:
            raise usage_error("usage.plugin_conflict", previous=repr(previous), now=repr(now))
        return now or previous

    entries = authenticator or []
    chosen = [name for kind, name in entries if kind == "-a"]
    req_inst = agree(configurator, installer)
    req_auth = agree(configurator, chosen[-1] if chosen else None)
    shortcuts = {name for kind, name in entries if kind == "flag"}
    order = [*_SHORTCUT_ORDER, *sorted(shortcuts - set(_SHORTCUT_ORDER))]
    for name in (n for n in order if n in shortcuts):
        if name in WEB_SERVERS:
            req_inst = agree(req_inst, name)
        req_auth = agree(req_auth, name)
    return req_auth, req_inst


def path_notes(v: dict[str, Any]) -> tuple[IgnoredFlag, ...]:
    """certonly without --csr: certbot ignores --cert-path/--chain-path/--fullchain-path; say
    where the files are instead."""
    if v.get("csr"):
        return ()
    why = said("flag.why.csr_only")
    dests = ("cert_path", "chain_path", "fullchain_path")
    return tuple(
        IgnoredFlag("--" + d.replace("_", "-"), why, announce=True) for d in dests if v.get(d)
    )


def csr_options(v: dict[str, Any]) -> CsrOptions | None:
    """``--csr FILE`` and where the certificate goes; None without --csr."""
    csr = optional_path(v.get("csr"))
    if csr is None:
        return None
    if v.get("allow_subset_of_names"):
        raise usage_error("usage.subset_with_csr")
    return CsrOptions(
        csr,
        optional_path(v.get("cert_path")),
        optional_path(v.get("chain_path")),
        optional_path(v.get("fullchain_path")),
    )


def hook_options(v: dict[str, Any]) -> HookOptions:
    """The pre/post/deploy hook flags."""
    return HookOptions(
        v.get("pre_hook"), v.get("post_hook"), v.get("deploy_hook"),
        v.get("directory_hooks") is not False, v.get("validate_hooks") is not False,
        bool(v.get("run_deploy_hooks")),
    )  # fmt: skip


def issuance_options(v: dict[str, Any]) -> IssuanceOptions:
    """What the order asks for; --required-profile and --preferred-profile exclude each other."""
    required, preferred = v.get("required_profile"), v.get("preferred_profile")
    if required and preferred:
        raise usage_error("usage.profile_both")
    return IssuanceOptions(
        v.get("preferred_chain"), preferred, required, bool(v.get("allow_subset_of_names")),
        v.get("preflight") is not False, bool(v.get("dry_run")), bool(v.get("force_renewal")),
        v.get("autorenew"), self_check=v.get("self_check") is not False,
        break_my_certs=bool(v.get("break_my_certs")),
    )  # fmt: skip
