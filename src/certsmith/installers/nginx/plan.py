"""What a deployment or an enhancement changes, as new file texts (nothing is written here).

deploy, for each name: the TLS server block nginx would pick for it gets ``ssl_certificate`` /
``ssl_certificate_key`` pointing at the lineage's live files (replaced where they are written,
also in an included file; added to the block otherwise). With no TLS block for the name, a copy
of its plain-HTTP block is added right after it, listening on the same addresses at the https
port with ``ssl``, with certsmith's TLS settings included.

enhancements: ``redirect`` adds, at the top of the plain-HTTP block, a ``rewrite ... break`` that
exempts ``/.well-known/acme-challenge/`` (so http-01 keeps working through any authenticator) and
the ``return 301`` to https; ``hsts`` and ``uir`` add an ``add_header ... always`` to the TLS
block unless that header is already set there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from certsmith.installers.nginx.edits import (
    MARK,
    Edit,
    after_block,
    apply_edits,
    block_copy,
    insert_lines,
    replace_directive,
)
from certsmith.installers.nginx.parse import Directive, NginxConfig, ServerBlock, best_match
from certsmith.installers.nginx.spans import Node
from certsmith.renewal.install import InstallError
from certsmith.wording import said

__all__ = ["ACME_EXEMPTION", "ENHANCEMENTS", "Plan", "plan_deploy", "plan_enhancement"]

ACME_EXEMPTION = r"rewrite ^(/\.well-known/acme-challenge/.*)$ $1 break"
_REDIRECTS = re.compile(r"^[^#\n]*\breturn\s+30[178]\s+[\"']?https://", re.MULTILINE)
ENHANCEMENTS = {
    "hsts": ("Strict-Transport-Security", '"max-age=31536000"'),
    "uir": ("Content-Security-Policy", '"upgrade-insecure-requests"'),
}


@dataclass
class Plan:
    """Edits per file, on the texts as they were read; ``texts()`` gives the new contents."""

    config: NginxConfig
    edits: dict[Path, list[Edit]] = field(default_factory=dict)
    _read: dict[Path, tuple[str, list[Node]]] = field(default_factory=dict)
    _done: set[tuple[Path, tuple[int, ...]]] = field(default_factory=set)

    def file(self, path: Path) -> tuple[str, list[Node]]:
        if path not in self._read:
            self._read[path] = self.config.spans(path)
        return self._read[path]

    def node(self, directive: Directive | ServerBlock) -> tuple[str, Node]:
        text, nodes = self.file(directive.file)
        target = (
            directive
            if isinstance(directive, Directive)
            else Directive("server", (), directive.file, directive.where, directive.line)
        )
        return text, self.config.node(target, nodes)

    def add(self, path: Path, edit: Edit) -> None:
        self.edits.setdefault(path, []).append(edit)

    def first_time(self, block: ServerBlock) -> bool:
        key = (block.file, block.where)
        if key in self._done:
            return False
        self._done.add(key)
        return True

    def texts(self) -> dict[Path, str]:
        """The files whose text changes (a renewal rewriting the same paths changes none)."""
        new = {path: apply_edits(self.file(path)[0], edits) for path, edits in self.edits.items()}
        return {path: text for path, text in new.items() if text != self.file(path)[0]}


def _plain_block(config: NginxConfig, name: str, http_port: int) -> ServerBlock | None:
    plain = [b for b in config.servers if any(not listen.ssl for listen in b.listens)]
    on_port = [b for b in plain if b.listens_plain_on(http_port)]
    return best_match(on_port, name) or best_match(plain, name)


def plan_deploy(
    config: NginxConfig,
    domains: Sequence[str],
    cert: Path,
    key: Path,
    tls_settings: Path,
    https_port: int,
    http_port: int,
) -> Plan:
    plan = Plan(config)
    ssl_blocks = [b for b in config.servers if b.ssl]
    for domain in domains:
        block = best_match(ssl_blocks, domain)
        if block is not None:
            if plan.first_time(block):
                _point_at(plan, block, cert, key)
            continue
        plain = _plain_block(config, domain, http_port)
        if plain is None:
            raise InstallError(said("nginx.no_server_block", domain=domain))
        if plan.first_time(plain):
            _add_tls_copy(plan, plain, cert, key, tls_settings, https_port)
    return plan


def _point_at(plan: Plan, block: ServerBlock, cert: Path, key: Path) -> None:
    missing = []
    for name, path in (("ssl_certificate", cert), ("ssl_certificate_key", key)):
        found = block.find(name)
        if found:
            _, node = plan.node(found[0])
            text = plan.file(found[0].file)[0]
            plan.add(found[0].file, replace_directive(text, node, f"{name} {path}"))
        else:
            missing.append(f"{name} {path}")
    if missing:
        text, node = plan.node(block)
        plan.add(block.file, insert_lines(text, node, missing))


def _add_tls_copy(
    plan: Plan, plain: ServerBlock, cert: Path, key: Path, tls_settings: Path, https_port: int
) -> None:
    text, node = plan.node(plain)
    drop = [c for c in node.children if c.name == "listen" or MARK in _line(text, c)]
    drop += [
        c
        for c in node.children
        if c.name == "return" and any(a.startswith("https://") for a in c.args)
    ]
    listens = []
    for listen in plain.listens:
        address = f"{listen.address}:{https_port}" if listen.address else str(https_port)
        if not listen.ssl and f"listen {address} ssl" not in listens:
            listens.append(f"listen {address} ssl")
    indent = text[text.rfind("\n", 0, node.start) + 1 : node.start]
    inner = indent + "    "
    added = [*listens, f"ssl_certificate {cert}", f"ssl_certificate_key {key}"]
    if not any(d.name.startswith("ssl_") for d in plain.directives):
        added.append(f"include {tls_settings}")
    body = block_copy(text, node, drop)
    head = "".join(f"{inner}{line}; {MARK}\n" for line in added)
    first, newline, rest = body.partition("\n")
    if newline:  # the usual layout: keep the lines (and a comment after "server {") as written
        copied = f"{first.rstrip()}\n{head}{rest}"
    else:  # a block on one line
        copied = f"\n{head}{inner}{body.strip()}\n{indent}"
    comment = f"{indent}# certsmith: the server block above, served over TLS\n"
    new_block = f"{comment}{indent}server {{{copied}}}\n"
    plan.add(plain.file, after_block(text, node, new_block))


def _line(text: str, node: Node) -> str:
    end = text.find("\n", node.end)
    return text[node.start : end if end != -1 else len(text)]


def plan_enhancement(
    config: NginxConfig, domains: Sequence[str], enhancement: str, https_port: int, http_port: int
) -> Plan:
    plan = Plan(config)
    redirect_only: dict[tuple[Path, tuple[int, ...]], tuple[ServerBlock, list[str]]] = {}
    for domain in domains:
        if enhancement == "redirect":
            block = _plain_block(config, domain, http_port)
            if block is None:  # a TLS-only site: a new plain block that only redirects
                tls = _tls_block(config, domain)
                redirect_only.setdefault((tls.file, tls.where), (tls, []))[1].append(domain)
            elif plan.first_time(block):
                _add_redirect(plan, block, https_port)
        elif enhancement in ENHANCEMENTS:
            ssl_block = _tls_block(config, domain)
            if plan.first_time(ssl_block):
                _add_header(plan, ssl_block, *ENHANCEMENTS[enhancement])
        else:
            raise InstallError(said("nginx.unknown_enhancement", enhancement=repr(enhancement)))
    for tls, names in redirect_only.values():
        _add_redirect_block(plan, tls, names, http_port, https_port)
    return plan


def _tls_block(config: NginxConfig, domain: str) -> ServerBlock:
    block = best_match([b for b in config.servers if b.ssl], domain)
    if block is None:
        raise InstallError(said("nginx.no_tls_block", domain=domain))
    return block


def _redirect_target(https_port: int) -> str:
    return "https://$host" + ("" if https_port == 443 else f":{https_port}") + "$request_uri"


def _add_redirect_block(
    plan: Plan, tls: ServerBlock, names: list[str], http_port: int, https_port: int
) -> None:
    text, node = plan.node(tls)
    indent = text[text.rfind("\n", 0, node.start) + 1 : node.start]
    addresses = sorted({listen.address for listen in tls.listens})
    lines = [
        *(f"listen {a + ':' if a else ''}{http_port}" for a in addresses),
        f"server_name {' '.join(names)}",
        ACME_EXEMPTION,
        f"return 301 {_redirect_target(https_port)}",
    ]
    body = "".join(f"{indent}    {line}; {MARK}\n" for line in lines)
    comment = f"{indent}# certsmith: plain HTTP for the block above\n"
    new_block = f"{comment}{indent}server {{\n{body}{indent}}}\n"
    plan.add(tls.file, after_block(text, node, new_block))


def _add_redirect(plan: Plan, block: ServerBlock, https_port: int) -> None:
    text, node = plan.node(block)
    if _REDIRECTS.search(text[node.start : node.end]):
        return  # it already redirects to https (certbot's `if ($host = ...)` form included)
    target = _redirect_target(https_port)
    redirect = f"return 301 {target}"
    if block.ssl:  # one block serving both schemes: redirect only plain requests
        redirect = f'if ($scheme != "https") {{ return 301 {target}; }}'
    plan.add(block.file, insert_lines(text, node, [ACME_EXEMPTION, redirect], at_top=True))


def _add_header(plan: Plan, block: ServerBlock, header: str, value: str) -> None:
    for directive in block.find("add_header"):
        if directive.args[:1] and directive.args[0].lower() == header.lower():
            return
    text, node = plan.node(block)
    plan.add(block.file, insert_lines(text, node, [f"add_header {header} {value} always"]))
