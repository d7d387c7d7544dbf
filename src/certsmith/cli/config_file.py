"""certbot's ``cli.ini`` files: where they are, their syntax, and how an item becomes argv words.

Only the standard library is imported here.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path

from certsmith.cli.usage import usage_error


def config_files(config_dir: Path, explicit: str | None) -> list[Path]:
    """``<config_dir>/cli.ini`` if it exists, then ``explicit`` (``-c FILE``), which must exist."""
    files = []
    default = config_dir / "cli.ini"
    if default.is_file():
        files.append(default)
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise usage_error("usage.config_missing", path=explicit)
        files.append(path)
    return files


def read_config_file(path: Path) -> dict[str, str | list[str]]:
    """certbot's cli.ini syntax: ``key = value``, ``key: value``, bare ``key`` (true), ``#``/``;``
    comments and ``[section]`` lines skipped, ``key = [a, b]`` lists."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise usage_error("usage.config_unreadable", path=path, error=err) from None
    items: dict[str, str | list[str]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line[0] in "#;[" or line.startswith("---"):
            continue
        key, value = _split_config_line(line)
        if not key:
            raise usage_error("usage.config_line", path=path, number=number, line=repr(line))
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


def config_action(
    actions: Mapping[str, argparse.Action], key: str, path: Path
) -> tuple[str, argparse.Action] | None:
    """The flag a config ``key`` from ``path`` sets, and its action; None for an unknown key.

    certbot hands a key it does not know in full to argparse as ``--key=value``, so a key that
    begins exactly one long flag is that flag (``rsa-key = 4096``). UsageError, as certbot
    refuses them: a key that begins several flags (argparse counts option strings, so ``dom``
    begins ``--domains`` and ``--domain``), or that shortens an on/off flag (``agree = true``:
    argparse then sees ``--agree=true``, "ignored explicit argument").
    """
    flag = f"--{key}"
    action = actions.get(flag)
    if action is not None:
        return flag, action
    matches = [option for option in actions if option.startswith(flag)]
    if not matches:
        return None
    if len(matches) > 1:
        raise usage_error(
            "usage.config_ambiguous", path=path, setting=key, names=", ".join(matches)
        )
    action = actions[matches[0]]
    if action.nargs == 0:
        name = matches[0].removeprefix("--")
        raise usage_error("usage.config_short_switch", path=path, setting=key, name=name)
    return matches[0], action


def item_words(action: argparse.Action, key: str, value: str | list[str], path: Path) -> list[str]:
    """The argv words for one config item (``key = value`` from ``path``); UsageError if the
    value of an on/off flag is not true/false/yes/no/on/off/1/0."""
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
    raise usage_error("usage.config_not_bool", path=path, setting=key, value=repr(value))
