"""Minimal text edits of one nginx file: replace a directive, add lines to a block, add a block.

Every edit names a span of characters; everything outside the spans stays byte for byte.
Lines certsmith writes end with ``# managed by certsmith`` (certbot writes "managed by
Certbot") so a reader of the file knows where they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from certsmith.installers.nginx.spans import Node

__all__ = ["MARK", "Edit", "apply_edits", "block_copy", "insert_lines", "replace_directive"]

MARK = "# managed by certsmith"
_STEP = "    "


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    text: str


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (any order); insertions at one offset keep their order."""
    ordered = sorted(enumerate(edits), key=lambda pair: (pair[1].start, pair[0]), reverse=True)
    for _, edit in ordered:
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def _indent_of(text: str, offset: int) -> str | None:
    """The whitespace before ``offset`` on its line, or None when something else is there."""
    prefix = text[_line_start(text, offset) : offset]
    return prefix if prefix.strip() == "" else None


def _terminated(directive: str) -> str:
    return directive if directive.endswith("}") else directive + ";"


def _rest_of_line(text: str, offset: int) -> str:
    newline = text.find("\n", offset)
    return text[offset : newline if newline != -1 else len(text)]


def _nothing_follows(text: str, offset: int) -> bool:
    """Only blanks or a comment after ``offset`` on its line."""
    rest = _rest_of_line(text, offset).strip()
    return rest == "" or rest.startswith("#")


def replace_directive(text: str, node: Node, directive: str) -> Edit:
    """``directive`` (no ";") in place of ``node``; a comment after it on the line stays (the
    mark is left out when more directives follow on the line: it would comment them out)."""
    mark = f" {MARK}" if _rest_of_line(text, node.end).strip() == "" else ""
    return Edit(node.start, node.end, f"{directive};{mark}")


def insert_lines(text: str, block: Node, directives: Sequence[str], at_top: bool = False) -> Edit:
    """Add ``directives`` (each without ";") as lines of ``block``, at its end or its top,
    indented like its other lines."""
    assert block.body is not None
    block_indent = _indent_of(text, block.start) or ""
    first = block.children[0] if block.children else None
    indent = _indent_of(text, first.start) if first is not None else None
    indent = indent if indent is not None else block_indent + _STEP
    lines = "".join(f"{indent}{_terminated(d)} {MARK}\n" for d in directives)
    if at_top and first is not None and _indent_of(text, first.start) is not None:
        at = _line_start(text, first.start)
        return Edit(at, at, lines)
    close = block.body[1]
    if not at_top and _indent_of(text, close) is not None:
        at = _line_start(text, close)
        return Edit(at, at, lines)
    # A block on one line ("server { listen 80; }"): open it up at its brace.
    if at_top:
        at = block.body[0]
        return Edit(at, first.start if first is not None else at, "\n" + lines + indent)
    return Edit(close, close, "\n" + lines + block_indent)


def after_block(text: str, block: Node, new_text: str) -> Edit:
    """Insert ``new_text`` (whole lines) after ``block``'s closing brace, on a new line."""
    newline = text.find("\n", block.end)
    if newline != -1 and _nothing_follows(text, block.end):
        return Edit(newline + 1, newline + 1, "\n" + new_text)
    return Edit(block.end, block.end, "\n\n" + new_text)


def block_copy(text: str, block: Node, drop: Sequence[Node]) -> str:
    """The text of ``block``'s body without the directives ``drop`` (their lines go too when
    nothing else is on them)."""
    assert block.body is not None
    start, end = block.body
    edits = []
    for node in drop:
        begin, finish = node.start, node.end
        line_begin = _line_start(text, begin)
        newline = text.find("\n", finish)
        if (
            _indent_of(text, begin) is not None
            and _nothing_follows(text, finish)
            and line_begin >= start
        ):
            begin, finish = line_begin, (newline + 1 if newline != -1 else len(text))
        edits.append(Edit(begin - start, min(finish, end) - start, ""))
    return apply_edits(text[start:end], edits)
