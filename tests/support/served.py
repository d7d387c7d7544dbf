"""What a test web server presents: over TLS the served leaf's serial (verified against the CA
root the test trusts) and a bounded wait until a renewed certificate is served; over plain
HTTP a status and redirect; and whether an edited config only gained lines."""

from __future__ import annotations

import difflib
import http.client
import socket
import ssl
import time
from pathlib import Path

from cryptography import x509


def served_serial(address: str, port: int, name: str, root_pem: Path) -> int:
    """The serial of the leaf served for SNI ``name`` (verified against ``root_pem``)."""
    context = ssl.create_default_context(cafile=str(root_pem))
    with (
        socket.create_connection((address, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def wait_served(
    address: str, port: int, name: str, root_pem: Path, serial: int, timeout: float = 10.0
) -> int:
    """The serial served for ``name`` once it is ``serial``, or the last one seen at the
    deadline (a reload takes effect a moment after the command that asked for it)."""
    deadline = time.monotonic() + timeout
    seen = served_serial(address, port, name, root_pem)
    while seen != serial and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = served_serial(address, port, name, root_pem)
    return seen


def http_status(address: str, port: int, host: str, path: str) -> tuple[int, str]:
    """(status, Location) of a plain-HTTP GET of ``path`` with ``Host: host``."""
    conn = http.client.HTTPConnection(address, port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


def only_insertions(old: str, new: str) -> bool:
    """True when ``new`` is ``old`` with lines added and none removed or changed."""
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    return all(tag in {"equal", "insert"} for tag, *_ in matcher.get_opcodes())
