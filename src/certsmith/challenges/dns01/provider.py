"""The DNS provider interface, and how providers are found.

A provider writes and removes TXT records at one DNS hosting service. Third parties ship one in
their own package and register a factory under the entry point group ``certsmith.dns_providers``;
the entry point's name is the provider's name::

    # pyproject.toml of certsmith-dns-example
    [project.entry-points."certsmith.dns_providers"]
    example = "certsmith_dns_example:make_provider"

    # certsmith_dns_example/__init__.py
    def make_provider(options: Mapping[str, str]) -> ExampleProvider: ...

Duties of a provider (the solver relies on them):

- ``add_txt(fqdn, value)`` adds ``value`` to the TXT set at ``fqdn`` (no trailing dot, already
  the CNAME target) and keeps other values there: a wildcard and its base name put two values
  at the same name. It must be idempotent and return only once the provider's API accepted it.
- ``remove_txt(fqdn, value)`` removes just that value; removing an absent value is not an error.
- Failures raise ``certsmith.errors.SolverError`` with one sentence a user can act on; any other
  exception is wrapped by the solver. Every network call has a timeout.
- ``options`` are strings, usually read with ``read_credentials`` from a certbot-style
  credentials file (``dns_<provider>_<key> = value``); a missing or bad option raises
  ``UsageError``. Factories must not do network I/O.

Built-in providers win over entry points with the same name (a package cannot silently replace
``rfc2136``); the conflict is logged.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from certsmith.errors import UsageError

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "certsmith.dns_providers"


@runtime_checkable
class DnsProvider(Protocol):
    """Adds and removes TXT values at a DNS hosting service (see the module docstring)."""

    async def add_txt(self, fqdn: str, value: str) -> None: ...

    async def remove_txt(self, fqdn: str, value: str) -> None: ...


ProviderFactory = Callable[[Mapping[str, str]], DnsProvider]


def _rfc2136(options: Mapping[str, str]) -> DnsProvider:
    from certsmith.challenges.dns01.rfc2136 import Rfc2136Provider

    return Rfc2136Provider.from_options(options)


def _acmedns(options: Mapping[str, str]) -> DnsProvider:
    from certsmith.challenges.dns01.acmedns import AcmeDnsProvider

    return AcmeDnsProvider.from_options(options)


def _duckdns(options: Mapping[str, str]) -> DnsProvider:
    from certsmith.challenges.dns01.duckdns import DuckDnsProvider

    return DuckDnsProvider.from_options(options)


def builtin_providers() -> dict[str, ProviderFactory]:
    """The providers shipped with certsmith: name -> factory."""
    return {"rfc2136": _rfc2136, "acme-dns": _acmedns, "duckdns": _duckdns}


def discover_providers(
    entry_points: Callable[..., Any] | None = None,
) -> dict[str, ProviderFactory]:
    """Built-in providers merged with the entry points of ``certsmith.dns_providers``.

    ``entry_points`` defaults to ``importlib.metadata.entry_points`` (looked up at call time).

    An entry point that fails to load is logged and skipped (a broken plug-in must not break
    the others); it is reported again by ``load_provider`` if the user asks for it by name.
    """
    found = builtin_providers()
    entry_points = entry_points or importlib.metadata.entry_points
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.name
        if name in found:
            logger.warning("ignoring DNS provider plug-in %r: a built-in has that name", name)
            continue
        found[name] = _lazy_factory(entry_point)
    return found


def _lazy_factory(entry_point: Any) -> ProviderFactory:
    def factory(options: Mapping[str, str]) -> DnsProvider:
        try:
            loaded = entry_point.load()
        except Exception as exc:  # a broken plug-in: say which one, never a traceback
            raise UsageError(
                f"DNS provider {entry_point.name!r} ({entry_point.value}) failed to load: {exc}"
            ) from exc
        provider = loaded(options)
        if not isinstance(provider, DnsProvider):
            raise UsageError(
                f"DNS provider {entry_point.name!r} returned {type(provider).__name__}, "
                "which has no add_txt/remove_txt"
            )
        return provider

    return factory


def load_provider(
    name: str,
    options: Mapping[str, str],
    entry_points: Callable[..., Any] | None = None,
) -> DnsProvider:
    """Make the provider called ``name`` with ``options``; ``UsageError`` if it is unknown."""
    providers = discover_providers(entry_points)
    factory = providers.get(name)
    if factory is None:
        raise UsageError(
            f"unknown DNS provider {name!r}; available: {', '.join(sorted(providers))}"
        )
    return factory(options)


MAX_CREDENTIALS_BYTES = 64 * 1024


def _check_private_info(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"credentials file {path} is not a regular file")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"credentials file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`"
        )
    # Another (non-root) owner could rewrite the secrets or the server they are sent to.
    if info.st_uid not in (0, os.geteuid()):
        raise UsageError(
            f"credentials file {path} is owned by uid {info.st_uid}, not by this user or root"
        )
    if info.st_size > MAX_CREDENTIALS_BYTES:
        raise UsageError(f"credentials file {path} is too large for a credentials file")


def _read_private(path: Path) -> bytes:
    """Open ``path`` (a symlink is followed), check what was opened, and read it.

    The checks run on the open descriptor, so the file read is the file checked; O_NONBLOCK
    keeps a FIFO at that name from hanging the open.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise UsageError(f"cannot read credentials file {path}: {exc.strerror}") from None
    try:
        _check_private_info(path, os.fstat(fd))
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 65536):
            size += len(chunk)
            if size > MAX_CREDENTIALS_BYTES:
                raise UsageError(f"credentials file {path} is too large for a credentials file")
            chunks.append(chunk)
    except OSError as exc:
        raise UsageError(f"cannot read credentials file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_credentials(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a certbot-style credentials file: ``key = value`` lines, ``#``/``;`` comments.

    Refuses a file that group or others may access (certbot only warns; a TSIG secret or API
    token readable by other users is a way to take over the domain's certificates), one owned
    by another user, and anything but a regular file (see ``_read_private``). Values may
    be quoted. Raises ``UsageError`` naming the file and line for anything else it cannot read.
    """
    file = Path(path)
    try:
        text = _read_private(file).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read credentials file {file}: {exc}") from None
    options: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{file}, line {number}: expected `key = value`")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        options[key.strip()] = value
    return options


def require(options: Mapping[str, str], key: str, source: str) -> str:
    """``options[key]`` when present and not empty, else ``UsageError`` naming ``source``."""
    value = options.get(key, "").strip()
    if not value:
        raise UsageError(f"{source}: missing {key}")
    return value
