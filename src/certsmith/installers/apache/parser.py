"""A faithful reader of Apache httpd configuration: the tree the server itself would build.

Why our own parser and not Augeas: Apache's grammar is line-based and small (httpd's
``ap_cfg_getline`` and ``ap_getword_conf``), so a reader that follows httpd's own rules is short,
and it gives what an installer needs most: the exact lines each directive occupies. Edits are then
splices of whole lines, and every byte certsmith does not change stays as it was by construction.
Augeas would add a C library and its Httpd lens, which rejects some configurations httpd accepts
and re-renders the nodes it touches.

httpd's rules followed here:

- A line ending in a backslash continues on the next line (joined before anything else, so a
  comment can continue too). Trailing whitespace is ignored.
- A line whose first non-blank character is ``#`` is a comment; ``#`` elsewhere is an argument.
- Arguments are split on blanks; double or single quotes group, a backslash escapes a quote.
- ``<Name args>`` opens a section, ``</Name>`` closes it (names are case-insensitive).
- ``Include``/``IncludeOptional`` take a path relative to ``ServerRoot``, with wildcards (sorted
  like httpd: by name), or a directory (every file below it); ``${VAR}`` comes from ``Define`` and
  the environment.

Files are decoded as UTF-8 with ``surrogateescape``, so any byte comes back unchanged.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from certsmith.errors import UsageError

__all__ = ["ApacheConfig", "ConfFile", "Node", "parse_config", "split_args"]

MAX_INCLUDE_DEPTH = 32
MAX_FILES = 5000
_VAR = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


def _unreadable(message: str) -> UsageError:
    """A configuration httpd would not read either: bad input, nothing is changed."""
    return UsageError(f"Apache configuration: {message}")


@dataclass
class ConfFile:
    """One file as lines (each with its line ending)."""

    path: Path
    lines: list[str]

    @classmethod
    def read(cls, path: Path) -> ConfFile:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
        return cls(path, text.splitlines(keepends=True))

    def data(self) -> bytes:
        return "".join(self.lines).encode("utf-8", "surrogateescape")


@dataclass(eq=False)
class Node:
    """A directive or a section; ``start``..``end`` are the file's line indexes it covers
    (``end`` exclusive; for a section its closing line included)."""

    name: str
    args: list[str]
    file: ConfFile
    start: int
    end: int
    parent: Node | None = None
    children: list[Node] | None = None  # None: a plain directive
    head_end: int = 0  # a section: the index past its opening line(s)
    close_start: int = 0  # a section: the index of its closing line
    included: list[Node] = field(default_factory=list)  # Include: the files' top-level nodes

    @property
    def key(self) -> str:
        return self.name.lower()

    @property
    def is_section(self) -> bool:
        return self.children is not None

    def indent(self) -> str:
        line = self.file.lines[self.start]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def walk(self) -> Iterator[Node]:
        """Every node below this one, includes followed, in httpd's reading order."""
        for child in self.children or ():
            yield child
            yield from child.walk()
            for top in child.included:
                yield top
                yield from top.walk()

    def find(self, name: str) -> list[Node]:
        return [n for n in self.walk() if n.key == name.lower()]


@dataclass
class ApacheConfig:
    """The whole loaded configuration: a root section holding the main file's nodes."""

    server_root: Path
    main: Path
    root: Node
    files: dict[Path, ConfFile]
    defines: dict[str, str]  # Define'd names (what <IfDefine> tests)

    def walk(self) -> Iterator[Node]:
        return self.root.walk()

    def loaded_modules(self) -> set[str]:
        """Module identifiers an ``<IfModule>`` may test: ``ssl_module`` and ``mod_ssl.c``."""
        found: set[str] = set()
        for node in self.root.find("LoadModule"):
            if len(node.args) >= 2:
                found.add(node.args[0])
                stem = Path(node.args[1]).name.removesuffix(".so")
                found.add(f"{stem}.c")
        return found


def split_args(text: str) -> list[str]:
    """httpd's ``ap_getword_conf``: blanks separate, quotes group; ``\\\\`` reads as one
    backslash, and inside quotes a backslash before the quote reads as the quote."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        quote = text[i] if text[i] in "\"'" else ""
        i += 1 if quote else 0
        word: list[str] = []
        while i < n and not (text[i] == quote if quote else text[i] in " \t\r\n"):
            escaped = text[i + 1 : i + 2] in ("\\", quote or "\\")
            if text[i] == "\\" and i + 1 < n and escaped:
                i += 1
            word.append(text[i])
            i += 1
        i += 1 if quote else 0  # the closing quote (httpd accepts a missing one at the end)
        words.append("".join(word))
    return words


def _logical_lines(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """(first index, index past the last, joined text) per logical line."""
    i = 0
    while i < len(lines):
        start, text = i, lines[i].rstrip()
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + lines[i].rstrip()
        i += 1
        yield start, i, text.strip()


class _Reader:
    def __init__(self, server_root: Path, env: Mapping[str, str]) -> None:
        self.server_root = server_root
        self.env = env
        self.defines: dict[str, str] = {}
        self.files: dict[Path, ConfFile] = {}
        self.stack: list[Path] = []

    def read_file(self, path: Path, parent: Node) -> list[Node]:
        path = Path(path).resolve()
        if path in self.stack or len(self.stack) >= MAX_INCLUDE_DEPTH:
            raise _unreadable(f"{path}: included from itself (an Include loop)")
        if len(self.files) >= MAX_FILES:
            raise _unreadable(f"more than {MAX_FILES} configuration files; refusing to go on")
        try:
            conf = self.files.get(path) or ConfFile.read(path)
        except OSError as exc:
            raise _unreadable(f"cannot read {path}: {exc.strerror or exc}") from exc
        self.files[path] = conf
        self.stack.append(path)
        try:
            return self._parse(conf, parent)
        finally:
            self.stack.pop()

    def _parse(self, conf: ConfFile, parent: Node) -> list[Node]:
        top: list[Node] = []
        open_sections: list[Node] = []
        for start, end, text in _logical_lines(conf.lines):
            if not text or text.startswith("#"):
                continue
            where = f"{conf.path}:{start + 1}"
            if text.startswith("</"):
                name = text[2:].rstrip(">").strip()
                if not open_sections or open_sections[-1].key != name.lower():
                    raise _unreadable(f"{where}: </{name}> closes no open <{name}>")
                section = open_sections.pop()
                section.close_start, section.end = start, end
                continue
            owner = open_sections[-1] if open_sections else parent
            siblings = open_sections[-1].children if open_sections else top
            if text.startswith("<"):
                if not text.endswith(">"):
                    raise _unreadable(f"{where}: a section line must end with '>': {text[:60]}")
                words = split_args(text[1:-1])
                if not words:
                    raise _unreadable(f"{where}: an empty section name")
                node = Node(words[0], words[1:], conf, start, end, owner, [], head_end=end)
                open_sections.append(node)
            else:
                words = split_args(text)
                node = Node(words[0], words[1:], conf, start, end, owner)
                self._directive(node, where)
            assert siblings is not None  # a section always has a list
            siblings.append(node)
        if open_sections:
            section = open_sections[-1]
            raise _unreadable(f"{conf.path}:{section.start + 1}: <{section.name}> is never closed")
        return top

    def _directive(self, node: Node, where: str) -> None:
        key = node.key
        if key == "define" and node.args:
            self.defines[node.args[0]] = node.args[1] if len(node.args) > 1 else ""
        elif key == "serverroot" and node.args:
            self.server_root = Path(self.expand(node.args[0]))
        elif key in ("include", "includeoptional") and node.args:
            optional = key == "includeoptional"
            for path in self.include_paths(self.expand(node.args[0]), optional, where):
                node.included.extend(self.read_file(path, node))

    def expand(self, value: str) -> str:
        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            return self.defines.get(name, self.env.get(name, match.group(0)))

        return _VAR.sub(value_of, value)

    def include_paths(self, pattern: str, optional: bool, where: str) -> list[Path]:
        full = Path(pattern) if Path(pattern).is_absolute() else self.server_root / pattern
        if glob.has_magic(str(full)):
            matches = glob.glob(str(full))  # noqa: PTH207 (httpd's patterns are absolute)
            found = sorted(Path(p) for p in matches if Path(p).is_file())
        elif full.is_dir():
            found = sorted(p for p in full.rglob("*") if p.is_file())
        elif full.is_file():
            found = [full]
        else:
            found = []
            if not optional:
                raise _unreadable(f"{where}: Include {pattern}: no such file")
        return found


def parse_config(
    server_root: Path, main_file: str = "apache2.conf", env: Mapping[str, str] | None = None
) -> ApacheConfig:
    """Read ``server_root/main_file`` and everything it includes. UsageError when httpd could
    not read it either (unbalanced sections, a missing non-optional Include, a loop)."""
    main = Path(main_file) if Path(main_file).is_absolute() else server_root / main_file
    reader = _Reader(server_root, os.environ if env is None else env)
    root = Node("", [], ConfFile(main, []), 0, 0, children=[])
    root.children = reader.read_file(main, root)
    return ApacheConfig(server_root, main, root, reader.files, reader.defines)
