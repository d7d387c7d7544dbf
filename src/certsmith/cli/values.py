"""Checks of single command-line values: domain names, IP addresses, --cert-name, the
--server URL, --dns-resolver, paths. Standard library only (``certsmith --help`` stays fast);
each refusal is a catalogue-worded UsageError.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

from certsmith.cli.usage import usage_error
from certsmith.hostport import HostPortError, parse_host_port


def validate_domain(text: str) -> str:
    """A DNS name (``*.`` wildcard allowed), lower-cased, without trailing dot; else UsageError."""
    name = text.strip().lower().removesuffix(".")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        raise usage_error("usage.ip_as_domain", name=text)
    if not name.isascii():
        # Internationalized names are converted (IDNA 2008) and checked by crypto.normalize_names,
        # which has the idna tables; this module stays free of heavy imports.
        return name
    labels = name.split(".")
    wildcard = labels[0] == "*"
    rest = labels[1:] if wildcard else labels
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in rest)
        or (wildcard and len(rest) < 2)
    ):
        raise usage_error("usage.bad_domain", name=repr(text))
    return name


_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def validate_ip_address(text: str) -> str:
    """An ``--ip-address`` value in canonical form; else UsageError."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise usage_error("usage.bad_ip", text=repr(text)) from None


def validate_cert_name(text: str | None) -> str | None:
    """A ``--cert-name`` that is safe as a folder name (None passes through); else UsageError."""
    if text is None:
        return None
    if not text or "/" in text or "\\" in text or text in (".", ".."):
        raise usage_error("usage.bad_cert_name", name=repr(text))
    return text


def server_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise usage_error("usage.bad_server", url=repr(url))
    return url


def dns_resolver_address(text: str) -> tuple[str, int]:
    """``--dns-resolver IP[:PORT]`` -> (host, port), port 53 by default."""
    try:
        return parse_host_port(text)
    except HostPortError as err:
        key = "usage.dns_resolver_port" if err.port_out_of_range else "usage.dns_resolver_form"
        raise usage_error(key, text=repr(text)) from None


def absolute_path(text: str) -> Path:
    return Path(text).expanduser().absolute()


def optional_path(text: str | None) -> Path | None:
    """``text`` as an absolute path (``~`` expanded), or None when not given."""
    return absolute_path(text) if text else None
