"""``HOST:PORT`` text as ``--dns-resolver`` takes it, parsed with the standard library alone.

Kept apart from :mod:`certsmith.dnsutil` (which imports dnspython) so the command line can check
the flag without slowing ``certsmith --help``.
"""

from __future__ import annotations

import ipaddress

from certsmith.errors import UsageError


class HostPortError(UsageError):
    """Text that is not an IP address with an optional port in 1..65535.

    ``port_out_of_range`` tells a well-formed address with a bad port from unreadable text, so a
    caller can word its own message.
    """

    def __init__(self, message: str, *, port_out_of_range: bool = False) -> None:
        super().__init__(message)
        self.port_out_of_range = port_out_of_range


def is_ip_literal(host: str) -> bool:
    """``True`` for an IPv4 or IPv6 address, bracketed (``[::1]``) or not; ``False`` for a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def parse_host_port(text: str, default_port: int = 53) -> tuple[str, int]:
    """``"127.0.0.1:5353"``, ``"[::1]:53"``, ``"::1"`` or ``"10.0.0.1"`` -> (host, port).

    Raises ``HostPortError`` (a ``UsageError``) when ``text`` is not an IP address with an
    optional port, or the port is not in 1..65535.
    """
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        ipaddress.ip_address(host)
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise HostPortError(f"{text!r} is not an IP address with an optional port") from None
    if not 0 < port < 65536:
        raise HostPortError(f"{text!r}: port out of range", port_out_of_range=True)
    return host, port
