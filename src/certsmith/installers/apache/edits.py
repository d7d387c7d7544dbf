"""Minimal text edits: whole lines replaced, removed or added at located places.

Every edit is a splice of a file's line list, so the bytes of every line not named stay as they
were. New lines take the indentation of their neighbours and the file's own line ending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from certsmith.installers.apache.parser import ConfFile, Node

__all__ = ["Splices", "body_indent", "directive_line", "line_ending", "quote_arg"]

_NEEDS_QUOTES = re.compile(r"[\s\"']")


def quote_arg(value: str) -> str:
    """An argument as httpd reads it back (quoted when it holds blanks or quotes)."""
    if value and not _NEEDS_QUOTES.search(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line_ending(conf: ConfFile) -> str:
    for line in conf.lines:
        if line.endswith("\r\n"):
            return "\r\n"
        if line.endswith("\n"):
            return "\n"
    return "\n"


def directive_line(indent: str, name: str, args: Iterable[str], newline: str) -> str:
    return indent + " ".join([name, *(quote_arg(a) for a in args)]) + newline


def body_indent(section: Node) -> str:
    """The indentation of the first directive inside ``section`` (four spaces, or a tab when
    the file indents with tabs, more than the section when it is empty)."""
    for child in section.children or ():
        if child.file is section.file:
            return child.indent()
    outer = section.indent()
    return outer + ("\t" if outer.startswith("\t") else "    ")


@dataclass
class Splices:
    """Line replacements collected per file, applied bottom-up so indexes stay valid."""

    edits: dict[Path, list[tuple[int, int, list[str]]]] = field(default_factory=dict)
    files: dict[Path, ConfFile] = field(default_factory=dict)

    def _add(self, conf: ConfFile, start: int, end: int, lines: Sequence[str]) -> None:
        self.files[conf.path] = conf
        self.edits.setdefault(conf.path, []).append((start, end, list(lines)))

    def replace(self, node: Node, lines: Sequence[str]) -> None:
        self._add(node.file, node.start, node.end, lines)

    def delete(self, node: Node) -> None:
        self._add(node.file, node.start, node.end, [])

    def insert(self, conf: ConfFile, index: int, lines: Sequence[str]) -> None:
        self._add(conf, index, index, lines)

    def before_close(self, section: Node, lines: Sequence[str]) -> None:
        """Add ``lines`` as the last directives of ``section``."""
        self.insert(section.file, section.close_start, lines)

    def after_open(self, section: Node, lines: Sequence[str]) -> None:
        """Add ``lines`` as the first directives of ``section``."""
        self.insert(section.file, section.head_end, lines)

    def __bool__(self) -> bool:
        return any(self.edits.values())

    def results(self) -> dict[Path, bytes]:
        """The new content of every edited file. Insertions at one index keep their order."""
        out: dict[Path, bytes] = {}
        for path, edits in self.edits.items():
            lines = list(self.files[path].lines)
            appends = any(start >= len(lines) for start, _, _ in edits)
            if appends and lines and not lines[-1].endswith(("\n", "\r")):
                lines[-1] += line_ending(self.files[path])  # so an appended line starts anew
            ordered = sorted(enumerate(edits), key=lambda e: (e[1][0], e[1][1], e[0]))
            for _, (start, end, new) in reversed(ordered):
                lines[start:end] = new
            out[path] = "".join(lines).encode("utf-8", "surrogateescape")
        return out
