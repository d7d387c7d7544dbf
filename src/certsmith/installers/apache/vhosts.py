"""Virtual hosts as httpd would load them, and which of them serve a name on a port.

httpd picks a virtual host by address and port first (``<VirtualHost 192.0.2.1:80>``,
``*:80``, ``_default_:443``, ``[2001:db8::1]:80``), then by name: ``ServerName`` exactly, or a
``ServerAlias`` exactly or as a wildcard pattern (``*`` and ``?``, case-insensitive). We rank
the same way: an exact ``ServerName`` beats an exact alias, which beats a wildcard alias.

Sections whose condition httpd would find false are skipped: ``<IfModule>`` tests the modules
named by ``LoadModule`` anywhere in the configuration, ``<IfDefine>`` the ``Define``s and ``-D``
names it was given. A ``<VirtualHost>`` counts as TLS when ``SSLEngine on`` is in it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from certsmith.installers.apache.parser import ApacheConfig, Node

__all__ = ["Address", "VirtualHost", "best_matches", "find_vhosts", "parse_address"]

# Sections whose content belongs to the enclosing context when their condition holds.
_CONDITIONAL = {"ifmodule", "ifdefine", "ifversion", "ifdirective", "iffile", "ifsection"}


@dataclass(frozen=True)
class Address:
    """One address of a ``<VirtualHost>``: host ``*``, ``_default_``, an IP (IPv6 in brackets)
    or a name, and a port (``*`` when none is given)."""

    host: str
    port: str

    def on_port(self, port: int) -> bool:
        return self.port in ("*", str(port))

    def with_port(self, port: int) -> str:
        return f"{self.host}:{port}"

    def __str__(self) -> str:
        return (
            self.host if self.port == "*" and ":" not in self.host else f"{self.host}:{self.port}"
        )


def parse_address(text: str) -> Address:
    if text.startswith("["):
        host, _, rest = text.partition("]")
        return Address(host + "]", rest[1:] if rest.startswith(":") and rest[1:] else "*")
    if text.count(":") > 1:  # a bare IPv6 address: httpd wants brackets, keep it whole
        return Address(text, "*")
    host, sep, port = text.partition(":")
    return Address(host, port if sep and port else "*")


def _server_name(value: str) -> str:
    """``ServerName [scheme://]fqdn[:port]`` -> ``fqdn``."""
    value = value.split("://", 1)[-1]
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _norm(name: str) -> str:
    return name.strip().lower().removesuffix(".")


@dataclass
class VirtualHost:
    node: Node
    addresses: tuple[Address, ...]
    server_name: str | None
    aliases: tuple[str, ...]
    ssl: bool

    @property
    def path(self) -> Path:
        return self.node.file.path

    @property
    def names(self) -> tuple[str, ...]:
        return ((self.server_name,) if self.server_name else ()) + self.aliases

    def on_port(self, port: int) -> bool:
        return any(a.on_port(port) for a in self.addresses)

    def rank(self, name: str) -> int:
        """3: ServerName; 2: an alias, exactly; 1: a wildcard alias; 0: not served by name."""
        wanted = _norm(name)
        if self.server_name and _norm(self.server_name) == wanted:
            return 3
        aliases = [_norm(a) for a in self.aliases]
        if wanted in aliases:
            return 2
        if not wanted.startswith("*"):
            for alias in aliases:
                if any(c in alias for c in "*?") and fnmatch.fnmatchcase(wanted, alias):
                    return 1
        return 0

    def active_nodes(self, config: ApacheConfig) -> Iterator[Node]:
        """The directives of this vhost httpd would apply (conditional sections resolved; the
        content of ``<Directory>`` and other sections is not walked)."""
        yield from _active(self.node, config, descend=False)


def _condition_holds(node: Node, config: ApacheConfig, modules: set[str]) -> bool:
    key, arg = node.key, (node.args[0] if node.args else "")
    negated = arg.startswith("!")
    arg = arg.lstrip("!")
    if key == "ifmodule":
        held = arg in modules
    elif key == "ifdefine":
        held = arg in config.defines
    else:
        return True  # IfVersion, IfDirective, IfFile: assume the server satisfies them
    return held != negated


def _active(node: Node, config: ApacheConfig, descend: bool) -> Iterator[Node]:
    modules = config.loaded_modules()
    stack = list(reversed(node.children or []))
    while stack:
        child = stack.pop()
        if child.key in _CONDITIONAL:
            if _condition_holds(child, config, modules):
                stack.extend(reversed(child.children or []))
            continue
        yield child
        if child.included:
            stack.extend(reversed(child.included))
        elif descend and child.is_section and child.key != "virtualhost":
            stack.extend(reversed(child.children or []))


def find_vhosts(config: ApacheConfig) -> list[VirtualHost]:
    """Every ``<VirtualHost>`` httpd would load, in the order it reads them."""
    found: list[VirtualHost] = []
    for node in _active(config.root, config, descend=True):
        if node.key != "virtualhost":
            continue
        addresses = tuple(parse_address(a) for a in node.args)
        name: str | None = None
        aliases: list[str] = []
        ssl = False
        for child in _active(node, config, descend=False):
            if child.key == "servername" and child.args:
                name = _server_name(child.args[0])
            elif child.key == "serveralias":
                aliases.extend(child.args)
            elif child.key == "sslengine" and child.args:
                ssl = child.args[0].lower() == "on"
        found.append(VirtualHost(node, addresses, name, tuple(aliases), ssl))
    return found


def best_matches(
    vhosts: list[VirtualHost], name: str, port: int | None, ssl: bool
) -> list[VirtualHost]:
    """The vhosts on ``port`` (any port: None) and with TLS on or off (``ssl``) that serve
    ``name`` best; several when equally good (an IPv4 and an IPv6 copy of one site)."""
    ranked = [
        (v.rank(name), v) for v in vhosts if (port is None or v.on_port(port)) and v.ssl == ssl
    ]
    top = max((r for r, _ in ranked), default=0)
    return [v for r, v in ranked if r == top and top > 0]
