"""What a DNS provider is, and the helpers providers use to read their options.

A provider writes and removes TXT records at one DNS hosting service. The built-in ones
(``rfc2136``, ``acmedns``, ``duckdns``) and third-party plug-ins import this module; the
registry that finds and builds them (``provider``) imports it too, and no provider imports the
registry.

Duties of a provider (the solver relies on them):

- ``add_txt(fqdn, value)`` adds ``value`` to the TXT set at ``fqdn`` (no trailing dot, already
  the CNAME target) and keeps other values there: a wildcard and its base name put two values
  at the same name. It must be idempotent and return only once the provider's API accepted it.
- ``remove_txt(fqdn, value)`` removes just that value; removing an absent value is not an error.
- Failures raise ``certsmith.errors.SolverError`` with one sentence a user can act on; any other
  exception is wrapped by the solver. Every network call has a timeout.
- ``options`` are strings, usually read with ``read_credentials`` from a certbot-style
  credentials file (``dns_<provider>_<key> = value``); a missing or bad option raises
  ``UsageError`` (``require`` does that). Factories must not do network I/O.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from certsmith.errors import UsageError
from certsmith.wording import said
from certsmith.wording_parts import os_reason


@runtime_checkable
class DnsProvider(Protocol):
    """Adds and removes TXT values at a DNS hosting service (see the module docstring)."""

    async def add_txt(self, fqdn: str, value: str) -> None: ...

    async def remove_txt(self, fqdn: str, value: str) -> None: ...


ProviderFactory = Callable[[Mapping[str, str]], DnsProvider]

MAX_CREDENTIALS_BYTES = 64 * 1024


def _check_private_info(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(said("dns01.credentials.not_regular", path=path))
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = f"{stat.S_IMODE(info.st_mode):04o}"
        raise UsageError(said("dns01.credentials.open_to_others", path=path, mode=mode))
    # Another (non-root) owner could rewrite the secrets or the server they are sent to.
    if info.st_uid not in (0, os.geteuid()):
        raise UsageError(said("dns01.credentials.owner", path=path, uid=info.st_uid))
    if info.st_size > MAX_CREDENTIALS_BYTES:
        raise UsageError(said("dns01.credentials.too_large", path=path))


def _read_private(path: Path) -> bytes:
    """Open ``path`` (a symlink is followed), check what was opened, and read it.

    The checks run on the open descriptor, so the file read is the file checked; O_NONBLOCK
    keeps a FIFO at that name from hanging the open.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        why = said("dns01.credentials.unreadable", path=path, reason=os_reason(exc))
        raise UsageError(why) from None
    try:
        _check_private_info(path, os.fstat(fd))
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 65536):
            size += len(chunk)
            if size > MAX_CREDENTIALS_BYTES:
                raise UsageError(said("dns01.credentials.too_large", path=path))
            chunks.append(chunk)
    except OSError as exc:
        why = said("dns01.credentials.unreadable", path=path, reason=os_reason(exc))
        raise UsageError(why) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_secret_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a secrets file (a service-account JSON), checked as ``read_credentials``
    checks an INI file: a regular file, private to this user or root, at most 64 KiB."""
    return _read_private(Path(path))


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
        raise UsageError(said("dns01.credentials.unreadable", path=file, reason=exc)) from None
    options: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise UsageError(said("dns01.credentials.bad_line", file=file, number=number))
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        options[key.strip()] = value
    return options


def require(options: Mapping[str, str], key: str, source: str) -> str:
    """``options[key]`` when present and not empty, else ``UsageError`` naming ``source``."""
    value = options.get(key, "").strip()
    if not value:
        raise UsageError(said("dns01.credentials.missing", source=source, key=key))
    return value
