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
import re
from collections.abc import Mapping
from typing import Any

from certsmith.cli.options import REVOCATION_REASONS as REASONS, Verb
from certsmith.errors import UsageError

# certbot verbs certsmith does not run, and why.
_NOT_SUPPORTED = (
    "certsmith does not install certificates into web servers; "
    "use 'certsmith certonly' and point your server at the files in live/"
)
UNSUPPORTED_VERBS: dict[str, str] = {
    "run": _NOT_SUPPORTED,
    "everything": _NOT_SUPPORTED,
    "install": _NOT_SUPPORTED,
    "enhance": _NOT_SUPPORTED,
    "rollback": _NOT_SUPPORTED,
    "plugins": "certsmith has no plugins; see 'certsmith certonly --help' for the authenticators",
    "reconfigure": "certsmith has no 'reconfigure'; run 'certsmith certonly --cert-name NAME' "
    "with the new settings (add --force-renewal to apply them now)",
}

_ALL = frozenset(v.value for v in Verb)
_ISSUE = frozenset({"certonly", "renew"})
_CO = frozenset({"certonly"})
_RENEW = frozenset({"renew"})
_NAMED = frozenset({"certonly", "renew", "certificates", "revoke", "delete", "doctor"})
_IDENT = frozenset({"certonly", "certificates", "caa-check", "doctor"})
_NEW_ACCOUNT = frozenset({"certonly", "register"})
_EMAIL = frozenset({"certonly", "register", "update_account", "unregister"})
_ACCOUNT = frozenset(
    {"certonly", "renew", "register", "show_account", "update_account", "unregister", "revoke"}
)
_JSON = frozenset({"certificates", "doctor", "caa-check"})
_DNS_AUTH = ("dns-rfc2136", "dns-acme-dns", "dns-duckdns")
_AUTHENTICATORS = ("standalone", "webroot", "manual", *_DNS_AUTH)
# -a dns-NAME: a DNS provider plug-in installed as a package (entry point certsmith.dns_providers)
_PLUGIN_RE = re.compile(r"dns-[a-z0-9][a-z0-9-]{0,62}")
_NO_INSTALLER = "certsmith does not configure web servers"
_NOT_NEEDED = "not needed by certsmith"


def _int_type(low: int, high: int) -> Any:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return convert


class _Append(argparse.Action):
    """Repeatable -d/--ip-address/-w; keeps their order for the webroot map."""

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        parts = [str(values)] if self.dest == "webroot_path" else str(values).split(",")
        parts = [p.strip() for p in parts if p.strip()]
        order = list(namespace.ident_order or [])
        order += [(self.dest, p) for p in parts]
        namespace.ident_order = order
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *parts])


class _PreferredChallenges(argparse.Action):
    ALIASES: Mapping[str, str] = {"http": "http-01", "dns": "dns-01", "tls-alpn": "tls-alpn-01"}

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        names = [n.strip().lower() for n in str(values).split(",") if n.strip()]
        names = [self.ALIASES.get(n, n) for n in names]
        bad = [n for n in names if n not in ("http-01", "dns-01", "tls-alpn-01")]
        if bad:
            raise argparse.ArgumentError(self, f"unrecognized challenges: {', '.join(bad)}")
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *names])


class _Authenticator(argparse.Action):
    """--standalone, --webroot, ... and -a NAME all set one authenticator; they must agree."""

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        name = str(self.const if self.nargs == 0 else values).lower()
        name = {"dns-acmedns": "dns-acme-dns"}.get(name, name)  # certbot-dns-acmedns's name
        if name in ("nginx", "apache"):
            raise UsageError(f"--{name} is not supported: {UNSUPPORTED_VERBS['install']}.")
        if name not in _AUTHENTICATORS and not _PLUGIN_RE.fullmatch(name):
            raise UsageError(
                f"authenticator {name!r} is not supported; use one of {', '.join(_AUTHENTICATORS)}."
            )
        previous = namespace.authenticator
        if previous is not None and previous != name:
            raise UsageError(f"Too many flags setting the authenticator: {previous} and {name}.")
        namespace.authenticator = name


class _Note(argparse.Action):
    """Records a certbot flag certsmith ignores (const = reason) or refuses (dest unsupported)."""

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        flag = option_string or self.option_strings[0]
        if self.dest == "unsupported":
            entry: Any = f"{flag} is not supported: {self.const}."
        else:
            entry = (flag, self.const)
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), entry])


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
    add(_IDENT, "-d", "--domains", "--domain", dest="domains", action=_Append, metavar="DOMAIN",
        help="domain names, repeatable or comma-separated")  # fmt: skip
    add(_IDENT - {"caa-check", "doctor"}, "--ip-address", dest="ip_addresses", action=_Append,
        metavar="ADDRESS", help="IP address identifiers (RFC 8738), repeatable")  # fmt: skip
    add(_NAMED, "--cert-name", metavar="CERTNAME", help="certificate (lineage) name")
    add(_CO, "--expand", **flag, help="replace a certificate with a superset of its names")
    add(_ISSUE, "--allow-subset-of-names", **flag, help="drop names that fail validation")
    add(_ISSUE, "--dry-run", **flag, help="test against staging, save nothing")
    add(_ISSUE, "--force-renewal", "--renew-by-default", dest="force_renewal", **flag,
        help="renew now even if not due")  # fmt: skip
    add(_ISSUE, "--no-preflight", dest="preflight", **off, help="skip CAA/DNS checks")
    for name in _AUTHENTICATORS:
        add(_ISSUE, f"--{name}", dest="authenticator", action=_Authenticator, nargs=0, const=name,
            help=f"use the {name} authenticator")  # fmt: skip
    add(_ISSUE, "-a", "--authenticator", dest="authenticator", action=_Authenticator,
        metavar="NAME", help=f"authenticator: {', '.join(_AUTHENTICATORS)}")  # fmt: skip
    add(_ISSUE, "-w", "--webroot-path", dest="webroot_path", action=_Append, metavar="PATH",
        help="webroot for the -d flags that follow (repeatable)")  # fmt: skip
    add(_ISSUE, "--webroot-map", metavar="JSON", help='{"a.com,www.a.com": "/var/www/a"}')
    add(_ISSUE, "--manual-auth-hook", metavar="CMD", help="script that publishes a challenge")
    add(_ISSUE, "--manual-cleanup-hook", metavar="CMD", help="script that removes it")
    add(_ISSUE, "--preferred-challenges", dest="preferred_challenges",
        action=_PreferredChallenges, metavar="TYPES",
        help="e.g. dns or http-01,dns-01")  # fmt: skip
    add(_ISSUE, "--http-01-port", dest="http01_port", type=_int_type(1, 65535), metavar="PORT",
        help="port of the standalone http-01 server (default: 80)")  # fmt: skip
    add(_ISSUE, "--http-01-address", dest="http01_address", metavar="ADDRESS",
        help="address it listens on (default: all)")  # fmt: skip
    add(_ISSUE, "--tls-alpn-01-port", dest="tls_alpn01_port", type=_int_type(1, 65535),
        metavar="PORT", help="port of the tls-alpn-01 server (default: 443)")  # fmt: skip
    add(_ISSUE, "--dns-credentials", dest="dns_credentials", metavar="FILE",
        help="credentials file of a plug-in DNS provider chosen with -a dns-NAME")  # fmt: skip
    for name in _DNS_AUTH:
        dest = name.replace("-", "_")
        add(_ISSUE, f"--{name}-credentials", dest=f"{dest}_credentials", metavar="FILE",
            help=f"{name} credentials file (certbot's format)")  # fmt: skip
        add(_ISSUE, f"--{name}-propagation-seconds", dest=f"{dest}_propagation_seconds",
            type=_int_type(0, 86400), metavar="N",
            help="accepted for certbot; certsmith polls the name servers instead")  # fmt: skip
    add(_ISSUE, "--dns-duckdns-token", metavar="TOKEN", help="DuckDNS token")
    add(
        _ISSUE,
        "--key-type",
        choices=("rsa", "ecdsa"),
        metavar="TYPE",
        help="rsa or ecdsa (default)",
    )
    add(_ISSUE, "--rsa-key-size", type=_int_type(1, 1 << 16), metavar="N", help="(default: 2048)")
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
    add(_RENEW, "--parallel", type=_int_type(1, 64), metavar="N", help="renew N at a time")
    add(_RENEW, "--no-random-sleep-on-renew", dest="random_sleep", **off,
        help="do not wait a random time when run non-interactively")  # fmt: skip
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
    add(frozenset({"revoke"}), "--cert-path", metavar="FILE", help="certificate to revoke")
    add(frozenset({"revoke"}), "--key-path", metavar="FILE",
        help="sign with the certificate's own private key (no account needed)")  # fmt: skip
    add(frozenset({"revoke"}), "--delete-after-revoke", dest="delete_after_revoke", **flag,
        help="delete the lineage too")  # fmt: skip
    add(frozenset({"revoke"}), "--no-delete-after-revoke", dest="delete_after_revoke", **off,
        help="keep the lineage")  # fmt: skip
    add(frozenset({"caa-check"}), "--issuer", metavar="DOMAIN", help="CAA issuer domain")
    add(frozenset({"caa-check"}), "--account-uri", metavar="URI", help="RFC 8657 accounturi")
    add(frozenset({"caa-check"}), "--method", metavar="METHOD", help="RFC 8657 method")
    add(_JSON, "--json", **flag, help="machine-readable output (see docs/cli.md)")
    _add_certbot_only(add)
    return t


def _add_certbot_only(add: Any) -> None:
    hidden = {"help": argparse.SUPPRESS}
    quiet = {"action": _Note, "nargs": 0, "dest": "ignored", **hidden}
    valued = {"action": _Note, "dest": "ignored", **hidden}
    names: tuple[str, ...]
    for names in (("--uir",), ("--no-uir",), ("--hsts",), ("--no-hsts",), ("--auto-hsts",),
                  ("--redirect",), ("--no-redirect",), ("--staple-ocsp",), ("--no-staple-ocsp",),
                  ("--disable-renew-updates",)):  # fmt: skip
        add(_ALL, *names, const=_NO_INSTALLER, **quiet)
    for names in (("--no-bootstrap",), ("--no-self-upgrade",), ("--os-packages-only",),
                  ("--no-permissions-check",), ("--must-staple",), ("--no-verify-ssl",),
                  ("--keep-until-expiring", "--keep", "--reinstall"), ("--duplicate",),
                  ("--debug",), ("--debug-challenges",), ("--eff-email",), ("--no-eff-email",),
                  ("--strict-permissions",),
                  ("--random-sleep-on-renew",), ("--renew-with-new-domains",),
                  ("--break-my-certs",), ("--force-interactive",), ("-t", "--text"),
                  ("--preconfigured-renewal",),
                  ("--manual-public-ip-logging-ok",)):  # fmt: skip
        add(_ALL, *names, const=_NOT_NEEDED, **quiet)
    for names in (("--max-log-backups",), ("--user-agent",), ("--user-agent-comment",),
                  ("--fullchain-path",), ("--chain-path",), ("--https-port",),
                  ("--issuance-timeout",), ("--checkpoints",), ("--verbose-level",),
                  ("-i", "--installer")):  # fmt: skip
        add(_ALL, *names, const=_NOT_NEEDED, **valued)
    refuse = {"action": _Note, "dest": "unsupported", **hidden}
    for name in ("nginx", "apache"):
        add(_ALL, f"--{name}", nargs=0, const=UNSUPPORTED_VERBS["install"], **refuse)
    add(_ALL, "--configurator", const=UNSUPPORTED_VERBS["install"], **refuse)
    add(_ALL, "--csr", const="certsmith makes its own CSR from -d and --key-type", **refuse)
    for name in ("cloudflare", "digitalocean", "dnsimple", "dnsmadeeasy", "gehirn", "google",
                 "linode", "luadns", "nsone", "ovh", "route53", "sakuracloud"):  # fmt: skip
        why = "use --dns-rfc2136, --dns-acme-dns, --dns-duckdns or --manual-auth-hook"
        add(_ALL, f"--dns-{name}", nargs=0, const=why, **refuse)


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
    return result


def flag_for_dest(dest: str) -> str:
    """The long flag users know an option by (for messages)."""
    for _verbs, names, kwargs in _table():
        if (kwargs.get("dest") or names[-1].lstrip("-").replace("-", "_")) == dest:
            return next(n for n in names if n.startswith("--"))
    return dest
