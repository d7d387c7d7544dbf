"""The flag table: every certbot-compatible flag certsmith accepts, and the subcommands it means
something to.

Each row names the subcommands, the option strings and argparse's keyword arguments; the parser
(:func:`certsmith.cli.args.build_parser`), the per-subcommand help and the "ignored flag" notes
are all made from it. certbot flags certsmith accepts without acting on them are recorded in the
namespace's ``ignored`` list; flags it cannot honour put a message in ``unsupported``. Only the
standard library is imported here.
"""

from __future__ import annotations

import argparse
from typing import Any

from certsmith.cli.build import (
    INSTALLER_OPTIONS as _INSTALLER_OPTIONS,
    WEB_SERVERS as _WEB_SERVERS,
)
from certsmith.cli.flag_actions import (
    AUTHENTICATORS,
    DNS_AUTH,
    DNS_PLUGIN_ONLY,
    AppendValues,
    AuthenticatorChoice,
    Note,
    PreferredChallenges,
    installer_name,
    int_type,
)
from certsmith.cli.options import REVOCATION_REASONS as REASONS, Verb
from certsmith.wording import Said

# certbot verbs certsmith does not run, and why (none today; kept for the help text).
UNSUPPORTED_VERBS: dict[str, str] = {}

_ALL = frozenset(v.value for v in Verb)
_ISSUE = frozenset({"certonly", "run", "renew", "reconfigure"})
_CO = frozenset({"certonly", "run"})
_RENEW = frozenset({"renew"})
_NAMED = frozenset(
    {"certonly", "run", "renew", "reconfigure", "certificates", "revoke", "delete", "doctor",
     "install", "enhance", "update_symlinks"}
)  # fmt: skip
_IDENT = frozenset({"certonly", "run", "certificates", "caa-check", "doctor", "persist-record"})
_NEW_ACCOUNT = frozenset({"certonly", "run", "register", "persist-record"})
_EMAIL = frozenset(
    {"certonly", "run", "register", "update_account", "unregister", "persist-record"}
)
_ACCOUNT = frozenset(
    {"certonly", "run", "renew", "reconfigure", "register", "show_account", "update_account",
     "unregister", "revoke", "persist-record"}
)  # fmt: skip
# -i/--nginx/--apache and the web servers' own options
_INSTALL = frozenset(
    {"certonly", "run", "renew", "reconfigure", "install", "enhance", "rollback",
     "config_changes"}
)  # fmt: skip
_ENHANCE = frozenset({"run", "install", "enhance"})
_JSON = frozenset({"certificates", "doctor", "caa-check", "persist-record", "renew"})
_NOT_NEEDED = "not needed by certsmith"
_OCSP = Said(
    "ignored: Let's Encrypt ended OCSP in 2025, so certsmith neither staples nor asks for "
    "OCSP Must-Staple",
    "flag.why.ocsp",
)
_OS_PACKAGES = Said("certsmith never installs OS packages", "flag.why.os_packages")
_EFF = Said("certsmith shares your e-mail with nobody but the CA", "flag.why.eff_email")
# certbot flags certsmith accepts and does not act on: what it does instead (said once), in
# English and by its catalogue key (tests/unit/test_wording.py renders each in both languages).
_NOTES: dict[tuple[str, ...], Said] = {
    ("--staple-ocsp",): _OCSP,
    ("--must-staple",): _OCSP,
    ("--auto-hsts",): Said(
        "ignored: certsmith's installers do not raise max-age step by step; use --hsts",
        "flag.why.auto_hsts",
    ),
    ("--disable-renew-updates",): Said(
        "certsmith's installers change only the certificate paths when renewing",
        "flag.why.renew_updates",
    ),
    ("--no-bootstrap",): _OS_PACKAGES,
    ("--no-self-upgrade",): Said("certsmith never upgrades itself", "flag.why.self_upgrade"),
    ("--os-packages-only",): _OS_PACKAGES,
    ("--no-permissions-check",): Said(
        "certsmith checks no permissions to skip", "flag.why.permissions_check"
    ),
    ("--keep-until-expiring", "--keep", "--reinstall"): Said(
        "certsmith keeps a certificate that is not due (its default; `run` installs it again)",
        "flag.why.keep",
    ),
    ("--debug",): Said("certsmith writes no tracebacks; use -vv for details", "flag.why.debug"),
    ("--debug-challenges",): Said(
        "certsmith does not pause; --manual shows each challenge", "flag.why.debug_challenges"
    ),
    ("--eff-email",): _EFF,
    ("--no-eff-email",): _EFF,
    ("--strict-permissions",): Said(
        "certsmith always creates keys 0600 and folders 0700", "flag.why.strict_permissions"
    ),
    ("--renew-with-new-domains",): Said(
        "certsmith renews at once when the names change (its default)", "flag.why.new_domains"
    ),
    ("--force-interactive",): Said(
        "certsmith asks only when it has a terminal", "flag.why.force_interactive"
    ),
    ("-t", "--text"): Said("certsmith has only the text interface", "flag.why.text"),
    ("--preconfigured-renewal",): Said(
        "certsmith leaves scheduling to you (cron or a timer)", "flag.why.preconfigured_renewal"
    ),
    ("--manual-public-ip-logging-ok",): Said(
        "certsmith does not log the IP address (so does certbot)", "flag.why.ip_logging"
    ),
}
_VALUED_NOTES: dict[tuple[str, ...], Said] = {
    ("--verbose-level",): Said("use -v, -vv or -vvv", "flag.why.verbose_level"),
}


def _table() -> list[tuple[frozenset[str], tuple[str, ...], dict[str, Any]]]:
    t: list[tuple[frozenset[str], tuple[str, ...], dict[str, Any]]] = []

    def add(verbs: frozenset[str], *names: str, **kw: Any) -> None:
        if kw.get("action") is None and "type" not in kw and kw.get("nargs") != 0:
            kw.setdefault("metavar", names[-1].lstrip("-").upper().replace("-", "_"))
        t.append((verbs, names, kw))

    flag = {"action": "store_const", "const": True}
    off = {"action": "store_const", "const": False}
    path_help = "(default: see 'Folders' in docs/cli.md)"
    add(_ALL, "-c", "--config", dest="config_file", metavar="FILE", help="config file to read")
    add(_ALL, "--config-dir", metavar="DIR", help=f"configuration folder {path_help}")
    add(_ALL, "--work-dir", metavar="DIR", help=f"working folder {path_help}")
    add(_ALL, "--logs-dir", metavar="DIR", help=f"logs folder {path_help}")
    add(_ALL, "--server", metavar="URL", help="ACME directory URL (default: Let's Encrypt)")
    add(_ALL, "--staging", "--test-cert", dest="staging", **flag, help="use LE staging")
    add(_ALL, "--ca-bundle", metavar="FILE", help="PEM file of CA roots for --server")
    add(_ALL, "--dns-resolver", metavar="HOST:PORT", help="DNS server for preflight checks")
    add(_ALL, "-n", "--non-interactive", "--noninteractive", dest="non_interactive", **flag,
        help="never ask; a missing answer names the flag to pass")  # fmt: skip
    add(_ALL, "-v", "--verbose", dest="verbose", action="count", help="more output (-vv, -vvv)")
    add(_ALL, "-q", "--quiet", dest="quiet", **flag, help="only errors; implies -n")
    add(_IDENT, "-d", "--domains", "--domain", dest="domains", action=AppendValues,
        metavar="DOMAIN", help="domain names, repeatable or comma-separated")  # fmt: skip
    add(_IDENT - {"caa-check", "doctor", "persist-record"}, "--ip-address", dest="ip_addresses",
        action=AppendValues, metavar="ADDRESS",
        help="IP address identifiers (RFC 8738), repeatable")  # fmt: skip
    add(_NAMED, "--cert-name", metavar="CERTNAME", help="certificate (lineage) name")
    add(_CO, "--expand", **flag, help="replace a certificate with a superset of its names")
    add(_ISSUE, "--allow-subset-of-names", **flag, help="drop names that fail validation")
    add(_ISSUE | {"install", "enhance"}, "--dry-run", **flag,
        help="test against staging, save nothing (install, enhance: show the diff)")  # fmt: skip
    add(_ISSUE, "--break-my-certs", dest="break_my_certs", **flag,
        help="let a test (staging) certificate replace a real one, or the reverse")  # fmt: skip
    add(_ISSUE, "--force-renewal", "--renew-by-default", dest="force_renewal", **flag,
        help="renew now even if not due")  # fmt: skip
    add(_ISSUE, "--no-preflight", dest="preflight", **off,
        help="skip CAA/DNS checks and the manual self-check")  # fmt: skip
    add(_ISSUE, "--no-self-check", dest="self_check", **off,
        help="--manual: do not fetch the challenge URL before telling the CA")  # fmt: skip
    probe = _ISSUE | {"doctor"}  # doctor --standalone/--webroot probes port 80 through it
    for name in AUTHENTICATORS:
        add(probe, f"--{name}", dest="authenticator", action=AuthenticatorChoice, nargs=0,
            const=name, help=f"use the {name} authenticator")  # fmt: skip
    add(_ISSUE, "-a", "--authenticator", dest="authenticator", action=AuthenticatorChoice,
        metavar="NAME", help=f"authenticator: {', '.join(AUTHENTICATORS)}, nginx, apache "
        "(the last -a wins)")  # fmt: skip
    _add_installer_flags(add)
    add(probe, "-w", "--webroot-path", dest="webroot_path", action=AppendValues, metavar="PATH",
        help="webroot for the -d flags that follow (repeatable)")  # fmt: skip
    add(_ISSUE, "--webroot-map", metavar="JSON", help='{"a.com,www.a.com": "/var/www/a"}')
    add(_ISSUE, "--manual-auth-hook", metavar="CMD", help="script that publishes a challenge")
    add(_ISSUE, "--manual-cleanup-hook", metavar="CMD", help="script that removes it")
    add(_ISSUE, "--preferred-challenges", dest="preferred_challenges",
        action=PreferredChallenges, metavar="TYPES",
        help="e.g. dns or http-01,dns-01")  # fmt: skip
    add(probe, "--http-01-port", dest="http01_port", type=int_type(1, 65535), metavar="PORT",
        help="port of the standalone http-01 server (default: 80)")  # fmt: skip
    add(probe, "--http-01-address", dest="http01_address", metavar="ADDRESS",
        help="address it listens on (default: all)")  # fmt: skip
    add(_ISSUE, "--tls-alpn-01-port", dest="tls_alpn01_port", type=int_type(1, 65535),
        metavar="PORT", help="port of the tls-alpn-01 server (default: 443)")  # fmt: skip
    add(_ISSUE, "--dns-credentials", dest="dns_credentials", metavar="FILE",
        help="credentials file of a plug-in DNS provider chosen with -a dns-NAME")  # fmt: skip
    for name in DNS_PLUGIN_ONLY:
        add(_ISSUE, f"--{name}", dest="authenticator", action=AuthenticatorChoice, nargs=0,
            const=name, help=f"use the {name} plug-in (certsmith.dns_providers)")  # fmt: skip
    for name in (*DNS_AUTH, *DNS_PLUGIN_ONLY):
        dest = name.replace("-", "_")
        if name != "dns-route53":  # certbot's route53 reads the AWS credential chain
            add(_ISSUE, f"--{name}-credentials", dest=f"{dest}_credentials", metavar="FILE",
                help=f"{name} credentials file (certbot's format)")  # fmt: skip
        add(_ISSUE, f"--{name}-propagation-seconds", dest=f"{dest}_propagation_seconds",
            type=int_type(0, 86400), metavar="N",
            help="wait N seconds after writing records, then check the name servers")  # fmt: skip
    add(_ISSUE, "--dns-google-project", metavar="PROJECT",
        help="Google Cloud project of the zone (default: the key's project_id)")  # fmt: skip
    add(_ISSUE, "--dns-duckdns-token", metavar="TOKEN", help="DuckDNS token")
    add(
        _ISSUE,
        "--key-type",
        choices=("rsa", "ecdsa"),
        metavar="TYPE",
        help="rsa or ecdsa (default)",
    )
    add(_ISSUE, "--rsa-key-size", type=int_type(1, 1 << 16), metavar="N", help="(default: 2048)")
    add(_ISSUE, "--elliptic-curve", metavar="N", help="secp256r1 (default) or secp384r1")
    add(_ISSUE, "--reuse-key", dest="reuse_key", **flag, help="keep the private key on renewal")
    add(_ISSUE, "--no-reuse-key", dest="reuse_key", **off, help="new private key on renewal")
    add(_ISSUE, "--new-key", **flag, help="new private key now, even with --reuse-key")
    add(_ISSUE, "--preferred-chain", metavar="ISSUER_CN", help="alternate chain by issuer name")
    add(_ISSUE, "--preferred-profile", metavar="PROFILE", help="ACME profile, if offered")
    add(_ISSUE, "--required-profile", metavar="PROFILE", help="ACME profile, or fail")
    add(_ISSUE, "--pre-hook", metavar="CMD", help="run before obtaining any certificate")
    add(_ISSUE, "--post-hook", metavar="CMD", help="run after trying to obtain certificates")
    add(_ISSUE, "--deploy-hook", metavar="CMD", help="run once per certificate issued")
    add(_ISSUE, "--renew-hook", dest="deploy_hook", help=argparse.SUPPRESS)
    add(_ISSUE, "--no-directory-hooks", dest="directory_hooks", **off,
        help="skip renewal-hooks/ folders")  # fmt: skip
    add(_ISSUE, "--disable-hook-validation", dest="validate_hooks", **off,
        help="do not check that hook commands exist")  # fmt: skip
    add(_ISSUE, "--autorenew", dest="autorenew", **flag, help=argparse.SUPPRESS)
    add(_ISSUE, "--no-autorenew", dest="autorenew", **off,
        help="`renew` leaves this certificate alone (unless --force-renewal)")  # fmt: skip
    add(_ISSUE, "--run-deploy-hooks", **flag,
        help="with --dry-run, run deploy hooks anyway (on the current certificate)")  # fmt: skip
    add(_RENEW, "--parallel", type=int_type(1, 64), metavar="N", help="renew N at a time")
    add(_RENEW, "--no-random-sleep-on-renew", dest="random_sleep", **off,
        help="do not wait a random time when run non-interactively")  # fmt: skip
    add(_RENEW, "--ari-fetch-limit", type=int_type(0, 10_000_000), metavar="N",
        help="ask the CA's renewal info for at most N certificates (default 25000)")  # fmt: skip
    add(_EMAIL, "-m", "--email", metavar="EMAIL", help="contact address(es), comma-separated")
    add(_NEW_ACCOUNT, "--agree-tos", **flag, help="agree to the CA's terms of service")
    add(_NEW_ACCOUNT, "--register-unsafely-without-email", **flag, help="register, no e-mail")
    add(_NEW_ACCOUNT, "--eab-kid", metavar="KID", help="External Account Binding key id")
    add(_NEW_ACCOUNT, "--eab-hmac-key", metavar="KEY", help="EAB HMAC key (base64url)")
    add(_NEW_ACCOUNT, "--eab-hmac-alg", metavar="ALG", help="HS256 (default), HS384, HS512")
    add(_ACCOUNT, "--account", metavar="ACCOUNT_ID", help="account to use")
    add(frozenset({"update_account"}), "--rollover-key", **flag, help="new account key")
    add(frozenset({"revoke"}), "--reason", type=str.lower, choices=tuple(REASONS),
        help="(default: unspecified)")  # fmt: skip
    add(frozenset({"revoke", "certonly"}), "--cert-path", metavar="FILE",
        help="certificate to revoke; with --csr, where to write the certificate")  # fmt: skip
    add(frozenset({"revoke"}), "--key-path", metavar="FILE",
        help="sign with the certificate's own private key (no account needed)")  # fmt: skip
    add(_CO, "--csr", metavar="FILE",
        help="obtain a certificate for this CSR (PEM or DER); no lineage is made")  # fmt: skip
    add(_CO, "--fullchain-path", metavar="FILE", help="with --csr: where to write the full chain")
    add(_CO, "--chain-path", metavar="FILE", help="with --csr: where to write the chain")
    add(_CO, "--duplicate", **flag, help="a new lineage (NAME-0001) even if NAME exists")
    add(_ALL, "--no-verify-ssl", dest="verify_ssl", **off,
        help="do not check the CA's TLS certificate (test CAs only)")  # fmt: skip
    add(_ALL, "--user-agent", metavar="UA", help="HTTP User-Agent sent to the CA")
    add(_ALL, "--issuance-timeout", type=int_type(0, 86400), metavar="SECONDS",
        help="how long to wait for the CA to issue once an order is finalized")  # fmt: skip
    add(_ALL, "--user-agent-comment", metavar="TEXT", help="added to the User-Agent")
    add(_ALL, "--max-log-backups", type=int_type(0, 1_000_000), metavar="N",
        help="old log files to keep (0: never rotate the log, as certbot)")  # fmt: skip
    add(_RENEW, "--random-sleep-on-renew", dest="random_sleep", **flag,
        help=argparse.SUPPRESS)  # fmt: skip
    add(frozenset({"rollback"}), "--checkpoints", type=int_type(1, 1000), metavar="N",
        help="how many installer checkpoints to roll back (default: 1)")  # fmt: skip
    add(frozenset({"revoke"}), "--delete-after-revoke", dest="delete_after_revoke", **flag,
        help="delete the lineage too")  # fmt: skip
    add(frozenset({"revoke"}), "--no-delete-after-revoke", dest="delete_after_revoke", **off,
        help="keep the lineage")  # fmt: skip
    add(frozenset({"caa-check"}), "--issuer", metavar="DOMAIN", help="CAA issuer domain")
    add(frozenset({"caa-check"}), "--account-uri", metavar="URI", help="RFC 8657 accounturi")
    add(frozenset({"caa-check"}), "--method", metavar="METHOD", help="RFC 8657 method")
    add(_JSON, "--json", **flag, help="machine-readable output (see docs/cli.md)")
    add(frozenset({"persist-record"}), "--wildcard", **flag,
        help="policy=wildcard: the record also covers *.NAME and names below it")  # fmt: skip
    add(frozenset({"persist-record"}), "--until", metavar="DATE",
        help="persistUntil: YYYY-MM-DD, an ISO 8601 time or a Unix time")  # fmt: skip
    _add_monitoring(add)
    _add_certbot_only(add)
    return t


def _add_monitoring(add: Any) -> None:
    """`notify setup|test` (the action arrives as a hidden flag, see args.py) and `report`."""
    notify, report = frozenset({"notify"}), frozenset({"report"})
    add(notify, "--notify-action", action="append", choices=("setup", "test"),
        help=argparse.SUPPRESS)  # fmt: skip
    add(notify, "--smtp", metavar="HOST:PORT", help="setup: the SMTP server alerts go through")
    add(notify, "--mail-from", metavar="ADDR", help="setup: the alerts' sender address")
    add(notify, "--mail-to", metavar="ADDR", action="append",
        help="setup: where alerts go (repeat, or comma-separated)")  # fmt: skip
    add(notify, "--smtp-security", choices=("starttls", "tls", "none"),
        help="setup: starttls (default), tls (implicit, port 465) or none")  # fmt: skip
    add(notify, "--smtp-credentials", metavar="FILE",
        help="setup: username = / password = file, mode 0600")  # fmt: skip
    add(notify, "--webhook", metavar="URL", help="setup: POST alerts as JSON to URL")
    add(notify, "--webhook-format", choices=("json", "slack", "ntfy"),
        help="setup: the webhook's body (default json)")  # fmt: skip
    add(report, "--html", metavar="FILE", help="write the status page to FILE")
    add(report, "--serve", metavar="ADDR:PORT",
        help="serve the status page read-only on loopback, e.g. 127.0.0.1:8080")  # fmt: skip


def _add_certbot_only(add: Any) -> None:
    hidden = {"help": argparse.SUPPRESS}
    quiet = {"action": Note, "nargs": 0, "dest": "ignored", **hidden}
    valued = {"action": Note, "dest": "ignored", **hidden}
    names: tuple[str, ...]
    for names, why in _NOTES.items():
        add(_ALL, *names, const=why, **quiet)
    for names, why in _VALUED_NOTES.items():
        add(_ALL, *names, const=why, **valued)


def _add_installer_flags(add: Any) -> None:
    flag = {"action": "store_const", "const": True}
    off = {"action": "store_const", "const": False}
    for name in _WEB_SERVERS:
        add(_INSTALL, f"--{name}", dest="authenticator", action=AuthenticatorChoice, nargs=0,
            const=name, help=f"obtain and install with {name} (both plugins)")  # fmt: skip
    add(_INSTALL, "-i", "--installer", type=installer_name, metavar="NAME",
        help="install into: nginx, apache, or null (nowhere); the last -i wins")  # fmt: skip
    add(_INSTALL, "--configurator", type=str.lower, metavar="NAME",
        help="authenticator and installer at once")  # fmt: skip
    for option, text in _INSTALLER_OPTIONS:
        add(_INSTALL, option, metavar=option.split("-", 3)[-1].upper().replace("-", "_"),
            help=text)  # fmt: skip
    for name in ("redirect", "hsts", "uir"):
        add(_ENHANCE, f"--{name}", dest=name, **flag,
            help=f"with an installer: add the {name} enhancement")  # fmt: skip
        add(_ENHANCE, f"--no-{name}", dest=name, **off, help=argparse.SUPPRESS)
    add(_ALL, "--no-staple-ocsp", dest="staple_ocsp", **off, help=argparse.SUPPRESS)


def add_flags(parser: argparse.ArgumentParser, verb: str | None) -> None:
    """Add every flag, or (for ``certsmith VERB --help``) those ``verb`` uses, in two groups."""
    common = parser.add_argument_group("common options")
    own = parser.add_argument_group(f"{verb} options" if verb else "options")
    for verbs, names, kwargs in _table():
        if verb is not None and (verb not in verbs or kwargs.get("help") == argparse.SUPPRESS):
            continue
        group = common if verbs == _ALL else own
        group.add_argument(*names, default=None, **kwargs)


def dest_verbs() -> dict[str, frozenset[str]]:
    """For each option dest, the subcommands it means something to."""
    result: dict[str, frozenset[str]] = {}
    for verbs, names, kwargs in _table():
        dest = kwargs.get("dest") or names[-1].lstrip("-").replace("-", "_")
        result[dest] = result.get(dest, frozenset()) | verbs
    for dest in ("ignored", "unsupported"):
        result.pop(dest, None)
    # --random-sleep-on-renew shares renew's dest; --no-staple-ocsp is certbot's default anyway
    result.pop("staple_ocsp", None)
    return result


def flag_for_dest(dest: str) -> str:
    """The long flag users know an option by (for messages)."""
    for _verbs, names, kwargs in _table():
        if (kwargs.get("dest") or names[-1].lstrip("-").replace("-", "_")) == dest:
            return next(n for n in names if n.startswith("--"))
    return dest
