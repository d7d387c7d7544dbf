"""certbot's renewal configuration files (``renewal/<name>.conf``), the configobj subset it uses.

Syntax handled: ``key = value`` lines, comma lists (``a, b``; one element ``a,``; empty ``,``),
single, double and single-line triple quotes, ``#`` comments (full-line and inline), ``[section]``
and ``[[subsection]]``. Parsing keeps the order of keys, unknown keys and full-line comments, so
a file certbot wrote survives a rewrite by certsmith; values certsmith never touched are written
back in the form configobj would write them. Scalars of a section are written before its
subsections, as configobj must (a key after ``[[x]]`` belongs to ``x``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from certsmith.errors import LineageCorrupt
from certsmith.wording import said

Value = str | list[str]
ALL_FOUR = ("cert", "privkey", "chain", "fullchain")

_SECTION_RE = re.compile(r"^(\[+)\s*(.*?)\s*(\]+)\s*(#.*)?$")
_KEY_RE = re.compile(r"""^("[^"]*"|'[^']*'|[^'"=][^=]*?)\s*=\s*(.*)$""")
_WSPACE_PLUS = " \r\n\v\t'\""


@dataclass
class ConfSection:
    """One level of the file: ordered scalar/list values, then named subsections."""

    values: dict[str, Value] = field(default_factory=dict)
    sections: dict[str, ConfSection] = field(default_factory=dict)
    # Full-line comments (and blank lines) written before a key or a section header.
    comments: dict[str, list[str]] = field(default_factory=dict)
    inline_comments: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: Value | None = None) -> Value | None:
        return self.values.get(key, default)

    def get_str(self, key: str, default: str | None = None) -> str | None:
        """A scalar value; a one-element list counts as its element."""
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, list):
            return value[0] if len(value) == 1 else ", ".join(value)
        return value

    def get_list(self, key: str) -> list[str]:
        value = self.values.get(key)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]

    def set(self, key: str, value: Value) -> None:
        self.values[key] = list(value) if isinstance(value, list) else value

    def remove(self, key: str) -> None:
        self.values.pop(key, None)
        self.comments.pop(key, None)
        self.inline_comments.pop(key, None)

    def section(self, name: str) -> ConfSection:
        """The subsection ``name``, created (empty, at the end) when missing."""
        if name not in self.sections:
            self.sections[name] = ConfSection()
        return self.sections[name]


@dataclass
class RenewalConf:
    """A parsed renewal configuration; ``root`` holds top-level keys and ``[renewalparams]``."""

    root: ConfSection = field(default_factory=ConfSection)
    final_comments: list[str] = field(default_factory=list)

    @classmethod
    def new(
        cls,
        archive_dir: str,
        live_paths: dict[str, str],
        renewalparams: Mapping[str, Value | dict[str, str]],
        version: str,
    ) -> RenewalConf:
        """A conf in the shape certbot writes: version, archive_dir, the four live paths,
        then ``[renewalparams]`` (a dict value becomes a subsection such as webroot_map)."""
        conf = cls()
        conf.root.set("version", version)
        conf.root.set("archive_dir", archive_dir)
        for kind in ALL_FOUR:
            conf.root.set(kind, live_paths[kind])
        conf.set_renewalparams(renewalparams)
        return conf

    @property
    def renewalparams(self) -> ConfSection:
        return self.root.section("renewalparams")

    def set_renewalparams(self, params: Mapping[str, Value | dict[str, str]]) -> None:
        """Replace the renewal parameters like certbot's atomic_rewrite: keys not in ``params``
        are dropped, comments of kept keys stay."""
        section = self.renewalparams
        for key in [k for k in section.values if k not in params]:
            section.remove(key)
        for key in [k for k in section.sections if k not in params]:
            del section.sections[key]
        for key, value in params.items():
            if isinstance(value, dict):
                sub = section.section(key)
                sub.values = {str(k): str(v) for k, v in value.items()}
            else:
                section.set(key, value)

    def get(self, key: str) -> str | None:
        return self.root.get_str(key)

    def path(self, kind: str) -> str:
        """The live path of ``kind`` (cert, privkey, chain, fullchain). Raises LineageCorrupt."""
        value = self.root.get_str(kind)
        if not value:
            raise LineageCorrupt(said("storage.conf.no_path", kind=kind))
        return value

    # --- text -------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> RenewalConf:
        """Parse configobj text. Raises LineageCorrupt naming the first bad line."""
        conf = cls()
        stack: list[ConfSection] = [conf.root]
        pending: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                pending.append(stripped)
                continue
            section_match = _SECTION_RE.match(stripped)
            if section_match:
                depth = len(section_match.group(1))
                name = _unquote_key(section_match.group(2))
                if depth != len(section_match.group(3)) or depth > len(stack) or not name:
                    raise LineageCorrupt(
                        said("storage.conf.bad_section", number=number, line=repr(stripped))
                    )
                del stack[depth:]
                parent = stack[-1]
                if name in parent.sections or name in parent.values:
                    raise LineageCorrupt(
                        said("storage.conf.duplicate_section", number=number, name=repr(name))
                    )
                parent.sections[name] = ConfSection()
                parent.comments[name] = pending
                pending = []
                stack.append(parent.sections[name])
                continue
            key_match = _KEY_RE.match(stripped)
            if not key_match:
                raise LineageCorrupt(
                    said("storage.conf.not_key_value", number=number, line=repr(stripped))
                )
            key = _unquote_key(key_match.group(1).strip())
            try:
                value, inline = parse_value(key_match.group(2))
            except ValueError as exc:
                raise LineageCorrupt(
                    said("storage.conf.bad_value", number=number, reason=exc)
                ) from None
            section = stack[-1]
            if key in section.values:
                raise LineageCorrupt(
                    said("storage.conf.duplicate_key", number=number, setting=repr(key))
                )
            section.values[key] = value
            if pending:
                section.comments[key] = pending
                pending = []
            if inline:
                section.inline_comments[key] = inline
        conf.final_comments = pending
        return conf

    def serialize(self) -> str:
        """The configobj text of this conf (ends with a newline)."""
        lines: list[str] = []
        _write_section(self.root, 0, lines)
        lines.extend(self.final_comments)
        return "\n".join(lines) + "\n"


def _write_section(section: ConfSection, depth: int, lines: list[str]) -> None:
    for key, value in section.values.items():
        lines.extend(section.comments.get(key, []))
        line = f"{quote_key(key)} = {quote_value(value)}"
        if key in section.inline_comments:
            line += " " + section.inline_comments[key]
        lines.append(line)
    for name, sub in section.sections.items():
        lines.extend(section.comments.get(name, []))
        brackets = depth + 1
        lines.append("[" * brackets + quote_key(name) + "]" * brackets)
        _write_section(sub, depth + 1, lines)


def _unquote_key(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        return key[1:-1]
    return key


def quote_key(key: str) -> str:
    """A key as configobj writes it (quoted when it holds '=', '#', ',' or edge spaces)."""
    if not key:
        return '""'
    if "=" in key or "#" in key or "," in key or key[0] in _WSPACE_PLUS or key[-1] in _WSPACE_PLUS:
        return _single_quote(key)
    return key


def quote_value(value: Value) -> str:
    """A value as configobj (list_values=True) writes it."""
    if isinstance(value, list):
        if not value:
            return ","
        if len(value) == 1:
            return _quote_scalar(value[0], in_list=True) + ","
        return ", ".join(_quote_scalar(item, in_list=True) for item in value)
    return _quote_scalar(value, in_list=False)


def _quote_scalar(value: str, in_list: bool) -> str:
    if not value:
        return '""'
    if "\n" in value or "\r" in value:
        raise ValueError(f"value {value!r} spans lines, which renewal files cannot hold")
    if "'" in value and '"' in value:
        if in_list:
            raise ValueError(f"value {value!r} cannot be quoted inside a list")
        return f"'''{value}'''" if "'''" not in value else f'"""{value}"""'
    plain = value[0] not in _WSPACE_PLUS and value[-1] not in _WSPACE_PLUS and "," not in value
    if plain and "#" not in value:
        return value
    return _single_quote(value)


def _single_quote(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


# configobj's grammar for the text after '=' (list_values=True). A quoted item ends at a quote
# of its kind that is followed by what may follow the item, so quotes may appear inside unquoted
# text (``echo "x" >> f``), which configobj also writes unquoted. An unquoted item runs up to a
# comma; a '#' ends the value and starts an inline comment.
_QUOTED = r"""".*?"|'.*?'"""
_LIST_ITEM = rf"""(?:{_QUOTED}|[^'",#][^,#]*?)\s*,\s*"""
_VALUE_RE = re.compile(
    rf"""^(?:((?:{_LIST_ITEM})*)({_QUOTED}|[^'",#\s][^,]*?|(?<!,))?|(,))\s*(#.*)?$"""
)
_LIST_ITEM_RE = re.compile(rf"""({_QUOTED}|[^'",#][^,#]*?)\s*,\s*""")


def _unquote(item: str) -> str:
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
        return item[1:-1]
    return item


def parse_value(text: str) -> tuple[Value, str]:
    """Split the text after '=' into a value (str or list) and an inline comment, as configobj
    reads it. Raises ValueError on text configobj rejects (an unterminated quote, text after a
    closing quote, an empty list member, a multi-line triple quote)."""
    text = text.strip()
    for triple in ('"""', "'''"):
        if text.startswith(triple):
            end = text.find(triple, 3)
            if end < 0:
                raise ValueError("multi-line triple-quoted values are not supported")
            rest = text[end + 3 :].strip()
            if rest and not rest.startswith("#"):
                raise ValueError(f"unexpected text {rest!r} after a quoted value")
            return text[3:end], rest
    match = _VALUE_RE.match(text)
    if match is None:
        raise ValueError(f"unbalanced quotes or an empty list member in {text!r}")
    listed, single, empty_list, comment = match.groups()
    comment = comment or ""
    if empty_list is not None:
        return [], comment
    if not listed:
        if single is None:
            raise ValueError(f"cannot read the value {text!r}")
        return _unquote(single), comment
    items = [_unquote(m.group(1)) for m in _LIST_ITEM_RE.finditer(listed)]
    if single:  # a list without a trailing comma: the last item
        items.append(_unquote(single))
    return items, comment
