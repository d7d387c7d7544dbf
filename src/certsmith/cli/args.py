"""Command-line parsing compatible with certbot's command lines.

Like certbot, certsmith has one flat set of flags: the subcommand may stand anywhere in argv and
every flag is accepted before or after it. A flag that means nothing to the chosen subcommand is
recorded in ``CommonOptions.ignored_flags`` (the CLI notes it under ``-v``); certbot flags that
certsmith accepts but does not act on are recorded the same way; what certsmith cannot honour
(installers, other DNS plugins, ``--csr``) is a :class:`UsageError`.

Defaults come from ``<config_dir>/cli.ini`` and ``-c/--config FILE`` (certbot's syntax), and the
command line overrides them. Only the standard library is imported here, and the flag tables and
option classes only when a command line is parsed: ``certsmith --help`` and ``--version`` (see
``help_request_text``) need neither.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from certsmith import __version__
from certsmith.cli.help import OVERVIEW, VERB_ALIASES, VERB_HELP
from certsmith.cli.usage import said_of, usage_error
from certsmith.errors import UsageError
from certsmith.wording import said

if TYPE_CHECKING:
    from certsmith.cli.config_file import read_config_file
    from certsmith.cli.flags import UNSUPPORTED_VERBS, add_flags, dest_verbs, flag_for_dest
    from certsmith.cli.options import Command, HelpRequest, IgnoredFlag

__all__ = [
    "OVERVIEW",
    "UNSUPPORTED_VERBS",
    "USAGE_EXIT_CODE",
    "VERB_ALIASES",
    "VERB_HELP",
    "add_flags",
    "build_parser",
    "default_dirs",
    "dest_verbs",
    "flag_for_dest",
    "help_request_text",
    "help_text",
    "parse_args",
    "read_config_file",
    "split_verb",
]

USAGE_EXIT_CODE = 2

# Re-exported names, imported on first use (PEP 562) to keep the help path light.
_LAZY = {
    "UNSUPPORTED_VERBS": "certsmith.cli.flags",
    "add_flags": "certsmith.cli.flags",
    "dest_verbs": "certsmith.cli.flags",
    "flag_for_dest": "certsmith.cli.flags",
    "read_config_file": "certsmith.cli.config_file",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of printing and exiting (worded from
    the catalogue: certsmith.cli.arg_errors)."""

    def error(self, message: str) -> NoReturn:
        from certsmith.cli.arg_errors import usage_of_message

        raise usage_of_message(message)


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
    from certsmith.cli.config_file import config_files
    from certsmith.cli.options import Verb, build_command

    args = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    root = (os.geteuid() == 0) if is_root is None else is_root
    help_request = _help_request(args)
    if help_request is not None:
        return help_request
    parser = build_parser()
    verb, rest, typed = split_verb(args, parser)
    if verb in (Verb.CAA_CHECK.value, Verb.DOCTOR.value):  # `doctor NAME` as `doctor -d NAME`
        rest = _positional_domains(rest, parser)
    elif verb == Verb.NOTIFY.value:  # `notify setup` as `notify --notify-action setup`
        rest = _positional_domains(rest, parser, "--notify-action")
    cli_ns = _parse_tokens(parser, rest)
    given = {dest for dest, value in vars(cli_ns).items() if value is not None}
    defaults = default_dirs(env, root)
    config_dir = Path(cli_ns.config_dir or defaults["config_dir"])
    files = config_files(config_dir, cli_ns.config_file)
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
    from certsmith.cli.flags import add_flags

    parser = _Parser(
        prog=f"certsmith {verb}" if verb else "certsmith",
        usage=f"certsmith {verb} [options]" if verb else None,
        add_help=False,
        allow_abbrev=True,
        exit_on_error=False,  # its ArgumentError reaches _parse_tokens whole
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

    Returns the verb (``run`` when none is given, as certbot), argv without it, and the word as
    typed (an alias such as ``auth`` or ``rollover``; None when no subcommand was given).
    """
    from certsmith.cli.flags import UNSUPPORTED_VERBS
    from certsmith.cli.options import Verb

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
            raise usage_error("usage.unsupported_verb", token=token, why=UNSUPPORTED_VERBS[word])
        if word not in {v.value for v in Verb}:
            raise _unknown_word(token)
        return word, args[:index] + args[index + 1 :], token
    return Verb.RUN.value, list(args), None


def _positional_domains(
    args: list[str], parser: argparse.ArgumentParser, flag: str = "-d"
) -> list[str]:
    """``caa-check DOMAIN`` (the documented contract): bare words become ``-d`` values."""
    out: list[str] = []
    skip_next = False
    for token in args:
        if skip_next or (token.startswith("-") and len(token) > 1):
            skip_next = not skip_next and _takes_value(parser, token)
            out.append(token)
        else:
            out += [flag, token]
    return out


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
                raise usage_error("usage.ambiguous_flag", flag=flag, names=names)
            if not matches:
                raise _unknown_flag(parser, flag)
            action = next(iter(matches.values()))
        return "=" not in token and action.nargs != 0
    # -d NAME, -dNAME, or a cluster such as -nvd NAME.
    for position, char in enumerate(token[1:], start=1):
        action = actions.get(f"-{char}")
        if action is None:
            if position == 1:
                raise _unknown_flag(parser, token)
            return False
        if action.nargs != 0:
            return position == len(token) - 1
    return False


def _unknown_word(token: str) -> UsageError:
    import difflib

    from certsmith.cli.options import Verb

    words = [v.value for v in Verb]
    close = difflib.get_close_matches(token, words, n=1)
    if close:
        return usage_error("usage.unknown_word.close", token=token, close=f"'{close[0]}'")
    return usage_error("usage.unknown_word", token=token, words=", ".join(words))


def _parse_tokens(parser: argparse.ArgumentParser, tokens: list[str]) -> argparse.Namespace:
    try:
        ns, extras = parser.parse_known_args(tokens)
    except argparse.ArgumentError as err:
        from certsmith.cli.arg_errors import usage_of

        raise usage_of(err) from None
    if extras:
        raise _unknown_flag(parser, extras[0])
    unsupported = ns.unsupported or []
    if unsupported:
        raise UsageError(unsupported[0])
    return ns


def _unknown_flag(parser: argparse.ArgumentParser, token: str) -> UsageError:
    if not token.startswith("-"):
        return _unknown_word(token)
    import difflib

    flag = token.split("=", 1)[0]
    known = [s for s in parser._option_string_actions if s.startswith("--")]
    close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
    if close:
        return usage_error("usage.unknown_flag.close", flag=flag, close=close[0])
    return usage_error("usage.unknown_flag", flag=flag)


def _cli_ignored(ns: argparse.Namespace, verb: str) -> list[IgnoredFlag]:
    from certsmith.cli.flags import dest_verbs, flag_for_dest
    from certsmith.cli.options import IgnoredFlag

    found = [IgnoredFlag(flag, reason, announce=True) for flag, reason in (ns.ignored or [])]
    for dest, verbs in dest_verbs().items():
        if getattr(ns, dest, None) is not None and verb not in verbs:
            if dest == "dry_run":
                raise usage_error("usage.dry_run_verbs")
            found.append(IgnoredFlag(flag_for_dest(dest), said("flag.why.not_used", verb=verb)))
    return found


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


# -- cli.ini ------------------------------------------------------------------------------------


def _config_tokens(
    parser: argparse.ArgumentParser, files: list[Path], given: set[str], verb: str
) -> tuple[list[str], list[IgnoredFlag]]:
    """Turn config items into argv words, skipping options the command line already set."""
    from certsmith.cli.config_file import config_action, item_words, read_config_file
    from certsmith.cli.options import IgnoredFlag

    merged: dict[str, tuple[str | list[str], Path]] = {}
    for path in files:  # later files (--config) win over <config_dir>/cli.ini
        for key, value in read_config_file(path).items():
            merged[key] = (value, path)
    tokens: list[str] = []
    ignored: list[IgnoredFlag] = []
    actions = parser._option_string_actions
    for key, (value, path) in merged.items():
        found = config_action(actions, key, path)  # the key in full, or a unique prefix
        if found is None:
            # Said at every run (certbot refuses the file): a typo must not pass unnoticed.
            reason = said("flag.why.unknown_option")
            ignored.append(IgnoredFlag(f"--{key}", reason, str(path), announce=True))
            continue
        flag, action = found
        if action.dest == "ignored":
            # Not announced: a cli.ini (certbot's snap writes max-log-backups = 0) would print
            # on every cron run; -v shows it.
            ignored.append(IgnoredFlag(flag, action.const, str(path)))
            continue
        if value in ("", []) or action.dest in given or action.dest == "config_file":
            continue
        if action.dest in ("domains", "ip_addresses") and verb == "renew":
            continue  # certbot issue 4096: cli.ini domains must not change every lineage
        words = item_words(action, flag.removeprefix("--"), value, path)
        try:
            _parse_tokens(parser, words)
        except UsageError as err:
            raise usage_error("usage.in_config", path=path, error=said_of(err)) from None
        tokens += words
    return tokens, ignored


# -- help ---------------------------------------------------------------------------------------


def _help_request(args: list[str]) -> HelpRequest | None:
    text = help_request_text(args)
    if text is None:
        return None
    from certsmith.cli.options import HelpRequest

    return HelpRequest(text)


def help_request_text(args: Sequence[str]) -> str | None:
    """The text to print when ``args`` (argv without the program name) asks for help or the
    version, else None. The overview and the version need neither the flag tables nor the
    option classes, so ``certsmith --help`` imports little more than this module."""
    args = list(args)
    if "--version" in args:
        return f"certsmith {__version__}"
    if args[:1] == ["help"]:
        args = ["--help", *args[1:]]
    flag = next((a for a in args if a in ("-h", "--help")), None)
    if flag is None:
        return None
    after = args[args.index(flag) + 1 : args.index(flag) + 2]
    topic = after[0] if after and not after[0].startswith("-") else None
    if topic is None:
        topic = next((a for a in args if VERB_ALIASES.get(a, a) in VERB_HELP), None)
    return help_text(topic)


def help_text(topic: str | None = None) -> str:
    """The text of ``certsmith --help [TOPIC]``: the overview, a subcommand's flags, or ``all``."""
    if topic is None:
        return OVERVIEW
    from certsmith.cli.flags import UNSUPPORTED_VERBS

    topic = VERB_ALIASES.get(topic, topic)
    if topic == "all":
        full = build_parser().format_help()
        return OVERVIEW + "\n" + full.split("\n", 1)[1]
    if topic in VERB_HELP:
        return build_parser(topic).format_help()
    if topic in UNSUPPORTED_VERBS:
        return f"'{topic}' is not supported: {UNSUPPORTED_VERBS[topic]}.\n"
    return OVERVIEW
