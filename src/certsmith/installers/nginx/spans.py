"""Where each directive of an nginx file sits, as character offsets, for minimal text edits.

crossplane (parse.py) says what the configuration means: which files, which directives, which
includes. To change one directive and keep every other byte (comments, indentation, blank
lines), the installer needs offsets, which crossplane does not give; this lexer follows the
same rules as nginx's own (``ngx_conf_read_token``: whitespace, ``;``, ``{``, ``}``, ``#``
comments, quotes with backslash escapes, ``${var}``) and records where each directive starts
and ends. parse.py checks that both agree on every directive before an edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from certsmith.renewal.install import InstallError
from certsmith.wording import said

__all__ = ["Node", "parse_spans"]


@dataclass
class Node:
    """One directive: ``name args...;`` or ``name args... { children }``."""

    name: str
    args: list[str]
    start: int  # offset of the name's first character
    end: int  # offset just past its ";" or closing "}"
    line: int  # 1-based line of the name (crossplane's "line")
    body: tuple[int, int] | None = None  # (just past "{", at "}") for a block
    children: list[Node] = field(default_factory=list)


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int
    line: int
    quoted: bool


def _tokens(text: str, filename: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in ";{}":
            tokens.append(_Token(ch, i, i + 1, line, False))
            i += 1
        elif ch in "\"'":
            start, start_line, value = i, line, []
            i += 1
            while i < n and text[i] != ch:
                if text[i] == "\\" and i + 1 < n:
                    value.append(text[i : i + 2] if text[i + 1] != ch else ch)
                    i += 2
                    continue
                line += text[i] == "\n"
                value.append(text[i])
                i += 1
            if i >= n:
                raise InstallError(
                    said("nginx.unterminated_quote", filename=filename, line=start_line)
                )
            i += 1
            tokens.append(_Token("".join(value), start, i, start_line, True))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in ";{}":
                if text[i] == "\\" and i + 1 < n:
                    i += 2
                    continue
                if text[i] == "$" and i + 1 < n and text[i + 1] == "{":  # ${var}
                    close = text.find("}", i)
                    i = close + 1 if close != -1 else n
                    continue
                i += 1
            tokens.append(_Token(text[start:i], start, i, line, False))
    return tokens


def parse_spans(text: str, filename: str = "<config>") -> list[Node]:
    """The directives of one file (includes are not followed), with their offsets."""
    tokens = _tokens(text, filename)
    root: list[Node] = []
    stack: list[tuple[list[Node], Node | None]] = [(root, None)]
    pending: list[_Token] = []
    for token in tokens:
        if token.quoted or token.text not in ";{}":
            pending.append(token)
            continue
        siblings, parent = stack[-1]
        if token.text == "}":
            if pending or parent is None or parent.body is None:
                raise InstallError(
                    said("nginx.unexpected_brace", filename=filename, line=token.line)
                )
            parent.body = (parent.body[0], token.start)
            parent.end = token.end
            stack.pop()
            continue
        if not pending:
            raise InstallError(
                said("nginx.unexpected_token", filename=filename, line=token.line, token=token.text)
            )
        first = pending[0]
        node = Node(first.text, [t.text for t in pending[1:]], first.start, token.end, first.line)
        siblings.append(node)
        pending = []
        if token.text == "{":
            node.body = (token.end, token.end)
            stack.append((node.children, node))
    if pending or len(stack) > 1:
        raise InstallError(said("nginx.unexpected_end", filename=filename))
    return root
