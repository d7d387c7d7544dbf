"""The options each subcommand receives, and :func:`build_command`, which makes them.

The dataclasses live in :mod:`certsmith.cli.option_types` and the checks on single values in
:mod:`certsmith.cli.build`; both are re-exported here, where callers import them from. Only the
standard library is imported here: ``certsmith --help`` must stay fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from certsmith.cli import build
from certsmith.cli.command_options import (
    CaaCheckOptions,
    CertificatesOptions,
    Command,
    DeleteOptions,
    DoctorOptions,
    NotifyOptions,
    PersistRecordOptions,
    RegisterOptions,
    ReportOptions,
    RevokeOptions,
    ShowAccountOptions,
    UnregisterOptions,
    UpdateAccountOptions,
)
from certsmith.cli.option_types import (
    CHALLENGE_TYPES,
    DEFAULT_ELLIPTIC_CURVE,
    DEFAULT_KEY_TYPE,
    DEFAULT_RSA_KEY_SIZE,
    ELLIPTIC_CURVES,
    REVOCATION_REASONS,
    RSA_KEY_SIZES,
    AccountOptions,
    Authenticator,
    CertonlyOptions,
    ChallengeOptions,
    CommonOptions,
    CsrOptions,
    HelpRequest,
    HookOptions,
    IgnoredFlag,
    InstallerOptions,
    IssuanceOptions,
    KeyOptions,
    ReconfigureOptions,
    RenewOptions,
    RunOptions,
    Verb,
    WebServerOptions,
)
from certsmith.cli.usage import usage_error
from certsmith.cli.values import (
    optional_path,
    validate_cert_name,
    validate_domain,
    validate_ip_address,
)

__all__ = [
    "CHALLENGE_TYPES",
    "DEFAULT_ELLIPTIC_CURVE",
    "DEFAULT_KEY_TYPE",
    "DEFAULT_RSA_KEY_SIZE",
    "ELLIPTIC_CURVES",
    "REVOCATION_REASONS",
    "RSA_KEY_SIZES",
    "AccountOptions",
    "Authenticator",
    "CaaCheckOptions",
    "CertificatesOptions",
    "CertonlyOptions",
    "ChallengeOptions",
    "Command",
    "CommonOptions",
    "CsrOptions",
    "DeleteOptions",
    "DoctorOptions",
    "HelpRequest",
    "HookOptions",
    "IgnoredFlag",
    "InstallerOptions",
    "IssuanceOptions",
    "KeyOptions",
    "NotifyOptions",
    "PersistRecordOptions",
    "ReconfigureOptions",
    "RegisterOptions",
    "RenewOptions",
    "ReportOptions",
    "RevokeOptions",
    "RunOptions",
    "ShowAccountOptions",
    "UnregisterOptions",
    "UpdateAccountOptions",
    "Verb",
    "WebServerOptions",
    "build_command",
    "validate_domain",
]


# -- building the options from parsed flags ------------------------------------------------------

_WEB_SERVER_VERBS = frozenset(
    {Verb.INSTALL, Verb.ENHANCE, Verb.ROLLBACK, Verb.CONFIG_CHANGES, Verb.PLUGINS,
     Verb.UPDATE_SYMLINKS}
)  # fmt: skip


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
    common = build.common_options(verb, v, given, defaults, config_files, ignored)
    domains = tuple(validate_domain(d) for d in v.get("domains") or ())
    ips = tuple(validate_ip_address(a) for a in v.get("ip_addresses") or ())
    cert_name = validate_cert_name(v.get("cert_name"))
    account = build.account_options(v)
    installer = build.installer_options(v, verb)
    if verb in (Verb.CERTONLY, Verb.RUN):
        issuance, challenge = build.issuance_options(v), build.challenge_options(v)
        csr = build.csr_options(v)
        if csr is not None and verb is Verb.RUN:
            raise usage_error("usage.csr_with_run")
        # certbot: every --webroot-map entry implies -d (or --ip-address) for it
        for ident, _path in challenge.webroot_map:
            if ident not in domains and ident not in ips:
                if ":" in ident or ident.replace(".", "").isdigit():
                    ips = (*ips, ident)
                else:
                    domains = (*domains, ident)
        if issuance.allow_subset_of_names and any(d.startswith("*.") for d in domains):
            raise usage_error("usage.subset_with_wildcard")
        kind = RunOptions if verb is Verb.RUN else CertonlyOptions
        notes = build.path_notes(v)
        if notes:
            common = replace(common, ignored_flags=(*common.ignored_flags, *notes))
        return kind(
            common, domains, ips, cert_name, bool(v.get("expand")), build.key_options(v),
            account, challenge, build.hook_options(v), issuance, installer, csr,
            bool(v.get("duplicate")),
        )  # fmt: skip
    if verb in (Verb.RENEW, Verb.RECONFIGURE):
        renew_kind = ReconfigureOptions if verb is Verb.RECONFIGURE else RenewOptions
        challenge = build.challenge_options(v)
        mapped = {ident for ident, _path in challenge.webroot_map}
        if verb is Verb.RENEW and any(n not in mapped for n in (*domains, *ips)):
            raise usage_error("usage.renew_with_domains")  # certbot: -d selects nothing here
        return renew_kind(
            common, cert_name, v.get("parallel") or 1, v.get("random_sleep") is not False,
            build.key_options(v), account, challenge, build.hook_options(v),
            build.issuance_options(v), installer, bool(v.get("json")), v.get("ari_fetch_limit"),
        )  # fmt: skip
    if verb in _WEB_SERVER_VERBS:
        return WebServerOptions(
            verb, common, cert_name, installer, v.get("checkpoints") or 1, bool(v.get("dry_run"))
        )
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
    if verb is Verb.PERSIST_RECORD:
        return PersistRecordOptions(
            common, domains, bool(v.get("wildcard")), v.get("until"), bool(v.get("json")), account
        )
    if verb is Verb.NOTIFY:
        return _notify(common, v)
    if verb is Verb.REPORT:
        return ReportOptions(common, optional_path(v.get("html")), v.get("serve"))
    if verb is Verb.CAA_CHECK:
        method = v.get("method")
        if method is not None and method not in CHALLENGE_TYPES:
            raise usage_error("usage.method", method=method, methods=", ".join(CHALLENGE_TYPES))
        return CaaCheckOptions(
            common, domains, v.get("issuer"), v.get("account_uri"), method, bool(v.get("json"))
        )
    return DoctorOptions(
        common, cert_name, domains, bool(v.get("json")), build.challenge_options(v)
    )


def _revoke(
    common: CommonOptions, v: dict[str, Any], cert_name: str | None, account: AccountOptions
) -> RevokeOptions:
    cert_path = optional_path(v.get("cert_path"))
    if cert_name and cert_path:
        raise usage_error("usage.cert_name_or_path")
    return RevokeOptions(
        common, cert_name, cert_path, v.get("reason") or "unspecified",
        v.get("delete_after_revoke"), account, optional_path(v.get("key_path")),
    )  # fmt: skip


def _notify(common: CommonOptions, v: dict[str, Any]) -> NotifyOptions:
    actions = v.get("notify_action") or []
    mail_to = tuple(a.strip() for t in v.get("mail_to") or () for a in t.split(",") if a.strip())
    return NotifyOptions(
        common, actions[0] if len(actions) == 1 else ",".join(actions), v.get("smtp"),
        v.get("mail_from"), mail_to, v.get("smtp_security"),
        optional_path(v.get("smtp_credentials")), v.get("webhook"), v.get("webhook_format"),
    )  # fmt: skip
