"""nginx's configuration as the installer sees it: files, server blocks, names and listens.

crossplane (nginx's own parser, pure Python) reads the main file and follows ``include``
(globs sorted, as nginx does); the server blocks are collected in the order nginx reads them.
Each directive keeps where it is written (file and position in that file's tree), so
spans.py can find its exact characters for an edit. A file that cannot be parsed raises
InstallError before anything is changed.

Name matching follows nginx's order (``ngx_http_find_virtual_server``): an exact name, then the
longest wildcard starting with ``*`` (or ``.example.com``), then the longest ending with ``*``,
then the first regular expression (``~...``, case-insensitive) in configuration order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crossplane  # type: ignore[import-untyped]

from certsmith.installers.nginx.spans import Node, parse_spans
from certsmith.renewal.install import InstallError
from certsmith.wording import said

__all__ = ["Directive", "Listen", "NginxConfig", "ServerBlock", "best_match", "load_config"]


@dataclass(frozen=True)
class Directive:
    """One directive as nginx reads it, and where it is written (file + child indexes)."""

    name: str
    args: tuple[str, ...]
    file: Path
    where: tuple[int, ...]
    line: int


@dataclass(frozen=True)
class Listen:
    address: str  # "" for every address, "127.0.0.1", "[::]"
    port: int
    ssl: bool
    default_server: bool

    @property
    def ipv6(self) -> bool:
        return self.address.startswith("[")


@dataclass
class ServerBlock:
    """A ``server { }`` of the http context; ``directives`` include its included files."""

    file: Path
    where: tuple[int, ...]
    line: int
    names: list[str]
    listens: list[Listen]
    directives: list[Directive] = field(default_factory=list)

    @property
    def ssl(self) -> bool:
        return any(listen.ssl for listen in self.listens) or any(
            d.name == "ssl" and d.args[:1] == ("on",) for d in self.directives
        )

    def listens_plain_on(self, port: int) -> bool:
        return any(listen.port == port and not listen.ssl for listen in self.listens)

    def find(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.name == name]


@dataclass
class NginxConfig:
    main: Path
    files: list[Path]
    servers: list[ServerBlock]
    http: Directive  # the main file's http block (where certsmith includes its own files)

    def spans(self, path: Path) -> tuple[str, list[Node]]:
        text = path.read_text()
        return text, parse_spans(text, str(path))

    def node(self, directive: Directive, nodes: list[Node]) -> Node:
        """The characters of ``directive`` in its file's span tree (checked to agree)."""
        children, node = nodes, None
        for index in directive.where:
            if node is not None:
                children = node.children
            if index >= len(children):
                break
            node = children[index]
        if node is None or node.name != directive.name or node.line != directive.line:
            raise InstallError(
                said(
                    "nginx.locate_failed",
                    file=directive.file,
                    line=directive.line,
                    directive=directive.name,
                )
            )
        return node


def load_config(main: Path) -> NginxConfig:
    """Parse ``main`` and every file it includes; InstallError when nginx would not read it."""
    if not main.is_file():
        raise InstallError(said("nginx.no_main", main=main))
    payload = crossplane.parse(str(main), check_ctx=False, check_args=False, comments=False)
    if payload["status"] != "ok":
        first = payload["errors"][0]
        raise InstallError(
            said(
                "nginx.unparsable",
                file=first.get("file"),
                line=first.get("line"),
                error=first.get("error"),
            )
        )
    configs: list[dict[str, Any]] = payload["config"]
    files = [Path(c["file"]) for c in configs]
    servers: list[ServerBlock] = []
    http: Directive | None = None
    for stmt, where in _enumerate(configs[0]["parsed"], ()):
        if stmt["directive"] == "http" and len(where) == 1:
            http = _directive(stmt, files[0], where)
            for directive, block in _walk(configs, stmt["block"], files[0], where):
                if directive.name == "server" and block is not None:
                    servers.append(_server(configs, directive, block))
    if http is None:
        raise InstallError(said("nginx.no_http_block", main=main))
    return NginxConfig(main, files, servers, http)


def _enumerate(stmts: list[dict[str, Any]], where: tuple[int, ...]) -> Iterator[Any]:
    for index, stmt in enumerate(stmts):
        yield stmt, (*where, index)


def _directive(stmt: dict[str, Any], file: Path, where: tuple[int, ...]) -> Directive:
    return Directive(stmt["directive"], tuple(stmt["args"]), file, where, stmt["line"])


def _walk(
    configs: list[dict[str, Any]], stmts: list[dict[str, Any]], file: Path, where: tuple[int, ...]
) -> Iterator[tuple[Directive, list[dict[str, Any]] | None]]:
    """The directives of a block in nginx's reading order, included files expanded in place
    (their blocks are not entered: a server's own walk does that)."""
    for stmt, at in _enumerate(stmts, where):
        if stmt["directive"] == "include" and "includes" in stmt:
            yield _directive(stmt, file, at), None
            for index in stmt["includes"]:
                included = configs[index]
                yield from _walk(configs, included["parsed"], Path(included["file"]), ())
        else:
            yield _directive(stmt, file, at), stmt.get("block")


def _server(
    configs: list[dict[str, Any]], directive: Directive, block: list[dict[str, Any]]
) -> ServerBlock:
    directives = [d for d, _ in _walk(configs, block, directive.file, directive.where)]
    names = [n.lower() for d in directives if d.name == "server_name" for n in d.args]
    listens = [parse_listen(d.args) for d in directives if d.name == "listen"]
    real = [listen for listen in listens if listen is not None]
    if not any(d.name == "listen" for d in directives):
        real = [Listen("", 80, False, False)]  # nginx's default when running as root
    return ServerBlock(directive.file, directive.where, directive.line, names, real, directives)


def parse_listen(args: tuple[str, ...]) -> Listen | None:
    """``listen`` as nginx reads it; None for a unix socket or a QUIC (UDP) listener."""
    if not args or args[0].startswith("unix:") or "quic" in args[1:]:
        return None
    spec = args[0]
    address, port = "", 80
    if spec.startswith("["):
        end = spec.find("]")
        address = spec[: end + 1]
        rest = spec[end + 1 :]
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 80
    elif spec.isdigit():
        port = int(spec)
    elif ":" in spec:
        host, _, number = spec.rpartition(":")
        address = "" if host == "*" else host
        port = int(number) if number.isdigit() else 80
    else:
        address = "" if spec == "*" else spec
    params = set(args[1:])
    return Listen(address, port, "ssl" in params, bool(params & {"default_server", "default"}))


def _name_rank(pattern: str, name: str) -> tuple[int, int] | None:
    """How well a server_name ``pattern`` matches ``name``: (class, length), lower class wins."""
    if pattern.startswith("~"):
        regex = re.sub(r"\(\?<([A-Za-z_])", r"(?P<\1", pattern[1:])  # PCRE named groups
        try:
            return (3, 0) if re.search(regex, name, re.IGNORECASE) else None
        except re.error:
            return None
    if pattern == name:
        return (0, len(pattern))
    if pattern.startswith("*.") and name.endswith(pattern[1:]):
        return (1, -len(pattern))
    if pattern.startswith(".") and (name == pattern[1:] or name.endswith(pattern)):
        return (1, -len(pattern))
    if pattern.endswith(".*") and name.startswith(pattern[:-1]):
        return (2, -len(pattern))
    return None


def best_match(blocks: list[ServerBlock], name: str) -> ServerBlock | None:
    """The block nginx would choose for ``Host: name`` among ``blocks`` (by name only: a
    default_server that does not name it is not a match); None when no block names it."""
    name = name.lower().rstrip(".")
    best: tuple[tuple[int, int], int, ServerBlock] | None = None
    for order, block in enumerate(blocks):
        ranks = [r for r in (_name_rank(p, name) for p in block.names) if r is not None]
        if not ranks:
            continue
        key = (min(ranks), order)
        if best is None or key < best[:2]:
            best = (key[0], order, block)
    return best[2] if best else None
