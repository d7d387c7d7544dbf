"""Command-line parsing compatible with certbot's command lines.

Like certbot, certsmith has one flat set of flags: the subcommand may stand anywhere in argv and
every flag is accepted before or after it. A flag that means nothing to the chosen subcommand is
recorded in ``CommonOptions.ignored_flags`` (the CLI notes it under ``-v``); certbot flags that
certsmith accepts but does not act on are recorded the same way; what certsmith cannot honour
(installers, other DNS plugins, ``--csr``) is a :class:`UsageError`.

Defaults come from ``<config_dir>/cli.ini`` and ``-c/--config FILE`` (certbot's syntax), and the
command line overrides them. Only the standard library is imported here.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from certsmith import __version__
from certsmith.cli.options import REVOCATION_REASONS as REASONS
from certsmith.cli.options import Command, HelpRequest, IgnoredFlag, Verb, build_command
from certsmith.errors import UsageError

USAGE_EXIT_CODE = 2

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
VERB_ALIASES = {"auth": Verb.CERTONLY.value, "rollover": Verb.UPDATE_ACCOUNT.value}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message.removeprefix("argument ").rstrip(".") + ".")


def parse_args(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    is_root: bool | None = None,
) -> Command | HelpRequest:
    """Parse a certbot-style command line into one subcommand's options, or a help request.

    ``argv`` excludes the program name (defaults to ``sys.argv[1:]``); ``environ`` and
    ``is_root`` choose the default folders (see docs/cli.md) and default to the real process.
    Raises UsageError (one sentence, no traceback; exit code USAGE_EXIT_CODE) for bad input.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    root = (os.geteuid() == 0) if is_root is None else is_root
    help_request = _help_request(args)
    if help_request is not None:
        return help_request
    parser = build_parser()
    verb, rest, typed = split_verb(args, parser)
    cli_ns = _parse_tokens(parser, rest)
    given = {dest for dest, value in vars(cli_ns).items() if value is not None}
    defaults = default_dirs(env, root)
    config_dir = Path(cli_ns.config_dir or defaults["config_dir"])
    files = _config_files(config_dir, cli_ns.config_file)
    config_tokens, ignored = _config_tokens(parser, files, given, verb)
    ns = _parse_tokens(parser, rest + config_tokens) if config_tokens else cli_ns
    ignored += _cli_ignored(cli_ns, verb)
    return build_command(
        Verb(verb),
        vars(ns),
        given=frozenset(given),
        defaults=defaults,
        config_files=tuple(files),
        ignored=tuple(ignored),
        rollover=typed == "rollover",
    )


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The argparse parser: every flag, or (for help) only those ``verb`` uses."""
    parser = _Parser(
        prog=f"certsmith {verb}" if verb else "certsmith",
        usage=f"certsmith {verb} [options]" if verb else None,
        add_help=False,
        allow_abbrev=True,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=VERB_HELP.get(verb or "", ""),
    )
    add_flags(parser, verb)
    parser.set_defaults(ident_order=None, ignored=None, unsupported=None)
    return parser


def split_verb(
    args: list[str], parser: argparse.ArgumentParser
) -> tuple[str, list[str], str | None]:
    """Find the subcommand (the first word that is not a flag or a flag's value).

    Returns the verb (``certonly`` when none is given), argv without it, and the word as typed
    (an alias such as ``auth`` or ``rollover``; None when no subcommand was given).
    """
    skip_next = False
    for index, token in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if token == "--":  # noqa: S105 - the end-of-options marker, not a password
            break
        if token.startswith("-") and len(token) > 1:
            skip_next = _takes_value(parser, token)
            continue
        word = VERB_ALIASES.get(token, token)
        if word in UNSUPPORTED_VERBS:
            raise UsageError(f"'{token}' is not supported: {UNSUPPORTED_VERBS[word]}.")
        if word not in {v.value for v in Verb}:
            raise UsageError(_unknown_word(token))
        return word, args[:index] + args[index + 1 :], token
    return Verb.CERTONLY.value, list(args), None


def _takes_value(parser: argparse.ArgumentParser, token: str) -> bool:
    """Whether ``token`` (a flag as typed) consumes the next argv word; UsageError if unknown."""
    actions = parser._option_string_actions
    if token.startswith("--"):
        flag = token.split("=", 1)[0]
        action = actions.get(flag)
        if action is None:
            matches = {s: a for s, a in actions.items() if s.startswith(flag)}
            if len(set(matches.values())) > 1:
                names = ", ".join(sorted(matches)[:6])
                raise UsageError(f"Ambiguous flag {flag}: it could be {names}.")
            if not matches:
                raise UsageError(_unknown_flag(parser, flag))
            action = next(iter(matches.values()))
        return "=" not in token and action.nargs != 0
    # -d NAME, -dNAME, or a cluster such as -nvd NAME.
    for position, char in enumerate(token[1:], start=1):
        action = actions.get(f"-{char}")
        if action is None:
            if position == 1:
                raise UsageError(_unknown_flag(parser, token))
            return False
        if action.nargs != 0:
            return position == len(token) - 1
    return False


def _unknown_word(token: str) -> str:
    words = [v.value for v in Verb]
    close = difflib.get_close_matches(token, words, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; subcommands: {', '.join(words)}."
    return f"Unknown subcommand or unexpected argument '{token}'{hint}"


def _parse_tokens(parser: argparse.ArgumentParser, tokens: list[str]) -> argparse.Namespace:
    try:
        ns, extras = parser.parse_known_args(tokens)
    except argparse.ArgumentError as err:  # raised directly for some errors on 3.11+
        raise UsageError(str(err).removeprefix("argument ")) from None
    if extras:
        raise UsageError(_unknown_flag(parser, extras[0]))
    unsupported = ns.unsupported or []
    if unsupported:
        raise UsageError(unsupported[0])
    return ns


def _unknown_flag(parser: argparse.ArgumentParser, token: str) -> str:
    if not token.startswith("-"):
        return _unknown_word(token)
    flag = token.split("=", 1)[0]
    known = [s for s in parser._option_string_actions if s.startswith("--")]
    close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else "; see 'certsmith --help all'."
    return f"Unknown flag {flag}{hint}"


def _cli_ignored(ns: argparse.Namespace, verb: str) -> list[IgnoredFlag]:
    found = [IgnoredFlag(flag, reason) for flag, reason in (ns.ignored or [])]
    for dest, verbs in dest_verbs().items():
        if getattr(ns, dest, None) is not None and verb not in verbs:
            if dest == "dry_run":
                raise UsageError("--dry-run only works with 'certonly' and 'renew'.")
            found.append(IgnoredFlag(flag_for_dest(dest), f"not used by {verb}"))
    return found


# -- the flags ----------------------------------------------------------------------------------

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

VERB_HELP: dict[str, str] = {
    "certonly": "Obtain or renew a certificate and save it; never touches a web server.",
    "renew": "Renew every certificate that is near expiry (or the one named by --cert-name).",
    "certificates": "List the certificates certsmith manages (--json for a stable schema).",
    "revoke": "Revoke a certificate (supply --cert-name or --cert-path).",
    "delete": "Delete a certificate's files (supply --cert-name).",
    "register": "Create an ACME account.",
    "show_account": "Show the ACME account's URI and contacts.",
    "update_account": "Change the account's e-mail, or roll its key over with --rollover-key "
    "('certsmith rollover' is a shorthand).",
    "unregister": "Deactivate the ACME account.",
    "caa-check": "Check whether CAA records let the CA issue for the given names.",
    "doctor": "Check certificates, accounts, hooks and DNS, and explain what is wrong.",
}

OVERVIEW = """usage:
  certsmith [SUBCOMMAND] [options] [-d DOMAIN] [-d DOMAIN] ...

certsmith obtains, renews and guards TLS certificates from ACME CAs; its command lines are
certbot's. The default subcommand is certonly.

obtain and renew certificates:
  certonly         {certonly}
  renew            {renew}
  -d DOMAINS       Comma-separated list of domains to obtain a certificate for
  --standalone     Answer http-01 with a built-in web server
  --webroot        Place files in a server's webroot folder (-w PATH)
  --manual         Answer challenges by hand or with --manual-auth-hook scripts
  --dns-rfc2136    Answer dns-01 with RFC 2136 dynamic updates
  -n               Run non-interactively
  --test-cert      Use the Let's Encrypt staging server
  --dry-run        Test "renew" or "certonly" without saving any certificates

manage certificates:
  certificates     {certificates}
  revoke           {revoke}
  delete           {delete}
  caa-check        {caa_check}
  doctor           {doctor}

manage your account:
  register         {register}
  unregister       {unregister}
  update_account   {update_account}
  show_account     {show_account}
  --agree-tos      Agree to the ACME server's Subscriber Agreement
  -m EMAIL         Email address for important account notifications

certbot's run, install, enhance, rollback and reconfigure are not supported: certsmith does not
configure web servers.

  -h, --help [TOPIC]  this message, 'all', or a subcommand's flags (certsmith --help renew)
  --version           print the version number
""".format(**{k.replace("-", "_"): v for k, v in VERB_HELP.items()})

_NO_INSTALLER = "certsmith does not configure web servers"
_NOT_NEEDED = "not needed by certsmith"


def default_dirs(environ: Mapping[str, str], is_root: bool) -> dict[str, str]:
    """Default config, work and logs folders: certbot's when root, else per-user XDG folders."""
    if is_root:
        return {
            "config_dir": "/etc/letsencrypt",
            "work_dir": "/var/lib/letsencrypt",
            "logs_dir": "/var/log/letsencrypt",
        }
    home = Path(environ.get("HOME") or Path.home())

    def xdg(name: str, fallback: str) -> Path:
        value = environ.get(name, "")
        return Path(value) if value.startswith("/") else home / fallback

    return {
        "config_dir": str(xdg("XDG_CONFIG_HOME", ".config") / "certsmith"),
        "work_dir": str(xdg("XDG_DATA_HOME", ".local/share") / "certsmith"),
        "logs_dir": str(xdg("XDG_STATE_HOME", ".local/state") / "certsmith" / "logs"),
    }


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
        if name in ("nginx", "apache"):
            raise UsageError(f"--{name} is not supported: {UNSUPPORTED_VERBS['install']}.")
        if name not in _AUTHENTICATORS:
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
                  ("--strict-permissions",), ("--autorenew",), ("--no-autorenew",),
                  ("--random-sleep-on-renew",), ("--renew-with-new-domains",),
                  ("--break-my-certs",), ("--force-interactive",), ("-t", "--text"),
                  ("--preconfigured-renewal",), ("--run-deploy-hooks",),
                  ("--manual-public-ip-logging-ok",)):  # fmt: skip
        add(_ALL, *names, const=_NOT_NEEDED, **quiet)
    for names in (("--max-log-backups",), ("--user-agent",), ("--user-agent-comment",),
                  ("--key-path",), ("--fullchain-path",), ("--chain-path",), ("--https-port",),
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


# -- cli.ini ------------------------------------------------------------------------------------


def _config_files(config_dir: Path, explicit: str | None) -> list[Path]:
    files = []
    default = config_dir / "cli.ini"
    if default.is_file():
        files.append(default)
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise UsageError(f"--config {explicit}: no such file.")
        files.append(path)
    return files


def read_config_file(path: Path) -> dict[str, str | list[str]]:
    """certbot's cli.ini syntax: ``key = value``, ``key: value``, bare ``key`` (true), ``#``/``;``
    comments and ``[section]`` lines skipped, ``key = [a, b]`` lists."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read config file {path}: {err}") from None
    items: dict[str, str | list[str]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line[0] in "#;[" or line.startswith("---"):
            continue
        key, value = _split_config_line(line)
        if not key:
            raise UsageError(f"{path}, line {number}: cannot read {line!r}.")
        if value.startswith("[") and value.endswith("]"):
            items[key] = [v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip()]
        else:
            items[key] = value
    return items


_CONFIG_LINE = re.compile(r"^(?:--)?(?P<key>[^:=;#\s]+)\s*(?:[:=\s]\s*(?P<value>.*?))?\s*$")


def _split_config_line(line: str) -> tuple[str, str]:
    match = _CONFIG_LINE.match(line)
    if match is None:
        return "", ""
    value = match.group("value")
    if value is None:
        return match.group("key"), "true"
    for marker in (" #", " ;"):
        value = value.split(marker, 1)[0].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return match.group("key"), value


def _config_tokens(
    parser: argparse.ArgumentParser, files: list[Path], given: set[str], verb: str
) -> tuple[list[str], list[IgnoredFlag]]:
    """Turn config items into argv words, skipping options the command line already set."""
    merged: dict[str, tuple[str | list[str], Path]] = {}
    for path in files:  # later files (--config) win over <config_dir>/cli.ini
        for key, value in read_config_file(path).items():
            merged[key] = (value, path)
    tokens: list[str] = []
    ignored: list[IgnoredFlag] = []
    actions = parser._option_string_actions
    for key, (value, path) in merged.items():
        action = actions.get(f"--{key}")
        if action is None:
            ignored.append(IgnoredFlag(f"--{key}", "unknown option", str(path)))
            continue
        if action.dest == "ignored":
            ignored.append(IgnoredFlag(f"--{key}", str(action.const), str(path)))
            continue
        if value in ("", []) or action.dest in given or action.dest == "config_file":
            continue
        if action.dest in ("domains", "ip_addresses") and verb == "renew":
            continue  # certbot issue 4096: cli.ini domains must not change every lineage
        words = _item_words(action, key, value, path)
        try:
            _parse_tokens(parser, words)
        except UsageError as err:
            raise UsageError(f"{path}: {err}") from None
        tokens += words
    return tokens, ignored


def _item_words(action: argparse.Action, key: str, value: str | list[str], path: Path) -> list[str]:
    flag = f"--{key}"
    values = value if isinstance(value, list) else [value]
    if action.nargs != 0:
        return [word for v in values for word in (flag, v)]
    text = str(value).lower()
    if isinstance(action, argparse._CountAction) and text.isdigit():
        return [flag] * int(text)
    if text in ("true", "yes", "on", "1"):
        return [flag]
    if text in ("false", "no", "off", "0"):
        return []
    raise UsageError(f"{path}: {key} = {value!r}; expected true or false.")


# -- help ---------------------------------------------------------------------------------------


def _help_request(args: list[str]) -> HelpRequest | None:
    if "--version" in args:
        return HelpRequest(f"certsmith {__version__}")
    if args[:1] == ["help"]:
        args = ["--help", *args[1:]]
    flag = next((a for a in args if a in ("-h", "--help")), None)
    if flag is None:
        return None
    after = args[args.index(flag) + 1 : args.index(flag) + 2]
    topic = after[0] if after and not after[0].startswith("-") else None
    if topic is None:
        topic = next((a for a in args if VERB_ALIASES.get(a, a) in VERB_HELP), None)
    return HelpRequest(help_text(topic))


def help_text(topic: str | None = None) -> str:
    """The text of ``certsmith --help [TOPIC]``: the overview, a subcommand's flags, or ``all``."""
    topic = VERB_ALIASES.get(topic or "", topic)
    if topic == "all":
        full = build_parser().format_help()
        return OVERVIEW + "\n" + full.split("\n", 1)[1]
    if topic in VERB_HELP:
        return build_parser(topic).format_help()
    if topic in UNSUPPORTED_VERBS:
        return f"'{topic}' is not supported: {UNSUPPORTED_VERBS[topic]}.\n"
    return OVERVIEW
