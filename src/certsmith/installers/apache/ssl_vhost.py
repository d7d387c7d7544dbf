"""What the installer writes: certificate lines, a TLS copy of a plain vhost, a redirect.

All of it is built from the located lines of the existing configuration (``edits.Splices``), so
the rest of every file stays byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from certsmith.installers.apache.edits import Splices, body_indent, directive_line, line_ending
from certsmith.installers.apache.parser import ApacheConfig, Node
from certsmith.installers.apache.vhosts import VirtualHost

__all__ = ["add_redirect", "point_at", "redirects", "render"]

_TLS_KEYS = {"sslengine", "sslcertificatefile", "sslcertificatekeyfile", "sslcertificatechainfile"}
_REDIRECTS = {"redirect", "redirectpermanent", "redirectmatch"}


def point_at(
    splices: Splices, vhost: VirtualHost, config: ApacheConfig, live: Mapping[str, Path]
) -> None:
    """``SSLCertificateFile`` -> fullchain, ``SSLCertificateKeyFile`` -> privkey, wherever the
    vhost sets them (added at its end when it does not); ``SSLCertificateChainFile`` removed."""
    nodes = list(vhost.active_nodes(config))
    wanted = {
        "sslcertificatefile": ("SSLCertificateFile", str(live["fullchain"])),
        "sslcertificatekeyfile": ("SSLCertificateKeyFile", str(live["privkey"])),
    }
    missing: list[str] = []
    for key, (spelling, value) in wanted.items():
        found = [n for n in nodes if n.key == key]
        if not found:
            missing.append(
                directive_line(
                    body_indent(vhost.node), spelling, [value], line_ending(vhost.node.file)
                )
            )
            continue
        first, *others = found
        if first.args != [value]:
            splices.replace(
                first,
                [directive_line(first.indent(), first.name, [value], line_ending(first.file))],
            )
        for extra in others:  # a later one would win over the line just set
            splices.delete(extra)
    for node in nodes:
        if node.key == "sslcertificatechainfile":
            splices.delete(node)
    if missing:
        splices.before_close(vhost.node, missing)


def _https_target(node: Node) -> bool:
    if node.key == "rewriterule":
        return len(node.args) >= 2 and node.args[1].lower().startswith("https://")
    if node.key in _REDIRECTS:
        return any(a.lower().startswith("https://") for a in node.args)
    return False


def _own_nodes(vhost: VirtualHost) -> Iterator[Node]:
    """The nodes written inside the vhost's own lines (includes not followed)."""
    return (
        n
        for n in vhost.node.walk()
        if n.file is vhost.node.file and vhost.node.head_end <= n.start < vhost.node.close_start
    )


def redirects(vhost: VirtualHost, config: ApacheConfig) -> bool:
    """Does the vhost already send plain-HTTP visitors to https:// ?"""
    return any(_https_target(n) for n in vhost.active_nodes(config))


def _dropped_in_copy(vhost: VirtualHost) -> set[int]:
    """Lines the TLS copy leaves out: redirects to https (with their RewriteConds; they would
    loop on the TLS side) and TLS directives of the plain vhost."""
    dropped: set[int] = set()
    conditions: list[Node] = []
    for node in _own_nodes(vhost):
        if node.key == "rewritecond":
            conditions.append(node)
            continue
        drop = node.key in _TLS_KEYS or _https_target(node)
        if drop:
            for n in (*conditions, node) if node.key == "rewriterule" else (node,):
                dropped.update(range(n.start, n.end))
        conditions = []
    return dropped


def render(
    vhost: VirtualHost, https_port: int, live: Mapping[str, Path], options_file: Path, listen: bool
) -> str:
    """The ``<IfModule mod_ssl.c>`` block with the TLS copy of ``vhost`` on ``https_port``."""
    node = vhost.node
    newline = line_ending(node.file)
    indent = body_indent(node)
    addresses = " ".join(a.with_port(https_port) for a in vhost.addresses)
    dropped = _dropped_in_copy(vhost)
    body = [
        line if line.endswith(("\n", "\r")) else line + newline
        for i, line in enumerate(node.file.lines[node.head_end : node.close_start], node.head_end)
        if i not in dropped
    ]
    lines = [
        f"# certsmith: a TLS copy of the virtual host at {vhost.path}:{node.start + 1}{newline}",
        f"<IfModule mod_ssl.c>{newline}",
        *([f"Listen {https_port}{newline}"] if listen else []),
        f"<VirtualHost {addresses}>{newline}",
        *body,
        f"{indent}SSLEngine on{newline}",
        directive_line(indent, "SSLCertificateFile", [str(live["fullchain"])], newline),
        directive_line(indent, "SSLCertificateKeyFile", [str(live["privkey"])], newline),
        directive_line(indent, "Include", [str(options_file)], newline),
        f"</VirtualHost>{newline}",
        f"</IfModule>{newline}",
    ]
    return "".join(lines)


def _name_pattern(name: str) -> str:
    label = name.lower().removesuffix(".").replace(".", r"\.")
    return label.replace("*", "[^.]+", 1) if label.startswith("*") else label


def add_redirect(
    splices: Splices, vhost: VirtualHost, names: Sequence[str], https_port: int
) -> None:
    """A permanent redirect to https for ``names`` at the end of the plain ``vhost``; ACME
    http-01 requests are left alone so renewals through this vhost keep working."""
    indent = body_indent(vhost.node)
    newline = line_ending(vhost.node.file)
    port = "" if https_port == 443 else f":{https_port}"
    hosts = "|".join(dict.fromkeys(_name_pattern(n) for n in names))
    rules = [
        "RewriteEngine on",
        r"RewriteCond %{REQUEST_URI} !^/\.well-known/acme-challenge/",
        f"RewriteCond %{{SERVER_NAME}} ^(?:{hosts})$ [NC]",
        f"RewriteRule ^ https://%{{SERVER_NAME}}{port}%{{REQUEST_URI}} [END,NE,R=permanent]",
    ]
    splices.before_close(vhost.node, [f"{indent}{rule}{newline}" for rule in rules])
