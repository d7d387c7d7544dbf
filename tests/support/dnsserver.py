"""A small DNS server on 127.0.0.1 for tests: zones from a dict, UDP and TCP, in a thread.

It answers like a recursive resolver that holds every zone itself, so a client pointed at it
(``make_resolver(server.address)``) sees what it would see on the internet: CNAME chains are
followed across zones and returned whole, NXDOMAIN and NODATA are told apart (a name with records
below it exists), and the SOA of the enclosing zone goes in the authority section.

Usage::

    from support.dnsserver import DnsServer

    zones = {
        "example.com": {"SOA": ["ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 60"],
                        "NS": ["ns1.example.com."], "CAA": ['0 issue "letsencrypt.org"']},
        "www.example.com": {"CNAME": ["example.com."], "A": []},
        "api.example.com": {"A": ["127.0.0.1"], "AAAA": ["::1"], "TXT": ['"hello"']},
    }
    with DnsServer(zones) as server:          # or server.start() ... server.stop()
        resolver = make_resolver(server.address, timeout=1.0)   # "127.0.0.1:PORT"
        server.fail("bad.example.com", "servfail")              # or "refused", "timeout"
        server.set("api.example.com", "CAA", ['0 issue ";"'])   # change records on the fly

Record values are zone-file presentation text (``dns.rdata.from_text``), so unusual RDATA can be
given in the generic form ``\\# 5 00 01 41 42 43``. Every type dnspython knows works; the tests
use CNAME, CAA, A, AAAA, TXT, NS and SOA. ``queries`` records ``(name, type, transport)`` of
every question received. ``truncate_udp=True`` sets TC on every UDP answer, to test the TCP
fallback. Failure modes apply to a name (and, if given, one type) wherever it is asked, also as a
CNAME target: ``"servfail"``, ``"refused"``, ``"notimp"``, or ``"timeout"`` (no answer at all).

The server thread polls with a 0.05 s timeout, so ``stop()`` returns within about that; TCP
connections are served one at a time, one question each, with a 2 s read limit.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

Zones = Mapping[str, Mapping[str, Iterable[str]]]

FAIL_MODES = ("servfail", "refused", "notimp", "timeout")
_FAIL_RCODES = {"servfail": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED}
_MAX_CHAIN = 10
_TTL = 60


class DnsServer:
    """An in-process DNS server on 127.0.0.1 (UDP and TCP on the same ephemeral port)."""

    def __init__(self, zones: Zones | None = None, *, truncate_udp: bool = False) -> None:
        self._lock = threading.Lock()
        self._records: dict[dns.name.Name, dict[int, dns.rrset.RRset]] = {}
        self._failures: dict[tuple[dns.name.Name, int | None], str] = {}
        self.truncate_udp = truncate_udp
        self.queries: list[tuple[str, str, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self.port = 0
        for name, types in (zones or {}).items():
            for rtype, values in types.items():
                self.set(name, rtype, list(values))

    # -- configuration (thread-safe, also while running) ------------------------------------

    def set(self, name: str, rtype: str, values: list[str]) -> None:
        """Replace the ``rtype`` records at ``name``; an empty list removes them."""
        owner = dns.name.from_text(name)
        rdtype = dns.rdatatype.from_text(rtype)
        with self._lock:
            types = self._records.setdefault(owner, {})
            if values:
                types[rdtype] = dns.rrset.from_text_list(owner, _TTL, "IN", rdtype, values)
            else:
                types.pop(rdtype, None)

    def fail(self, name: str, mode: str, rtype: str | None = None) -> None:
        """Make questions for ``name`` (optionally one type) fail with ``mode``."""
        if mode not in FAIL_MODES:
            raise ValueError(f"mode must be one of {FAIL_MODES}")
        key = (dns.name.from_text(name), dns.rdatatype.from_text(rtype) if rtype else None)
        with self._lock:
            self._failures[key] = mode

    def heal(self, name: str, rtype: str | None = None) -> None:
        """Undo ``fail`` for ``name`` (and type)."""
        key = (dns.name.from_text(name), dns.rdatatype.from_text(rtype) if rtype else None)
        with self._lock:
            self._failures.pop(key, None)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``"127.0.0.1:PORT"``, the form ``--dns-resolver`` and ``make_resolver`` take."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> DnsServer:
        """Bind UDP and TCP on one free port of 127.0.0.1 and serve in a daemon thread."""
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            self._udp, self._tcp, self.port = udp, tcp, port
            break
        else:
            raise RuntimeError("no free port for both UDP and TCP on 127.0.0.1")
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the sockets; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._udp, selectors.EVENT_READ, "udp")
            sel.register(self._tcp, selectors.EVENT_READ, "tcp")
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    try:
                        if key.data == "udp":
                            self._serve_udp()
                        else:
                            self._serve_tcp()
                    except (OSError, dns.exception.DNSException, struct.error):
                        continue

    def _serve_udp(self) -> None:
        assert self._udp is not None
        data, peer = self._udp.recvfrom(65535)
        query = dns.message.from_wire(data)
        response = self._respond(query, "udp")
        if response is None:
            return
        limit = max(512, query.payload) if query.edns >= 0 else 512
        if self.truncate_udp:
            limit = 0
        try:
            wire = response.to_wire(max_size=max(limit, 512)) if limit else b""
        except dns.exception.TooBig:
            wire = b""
        if not wire:
            response.flags |= dns.flags.TC
            for section in (response.answer, response.authority, response.additional):
                section.clear()
            wire = response.to_wire()
        self._udp.sendto(wire, peer)

    def _serve_tcp(self) -> None:
        assert self._tcp is not None
        conn, _ = self._tcp.accept()
        with conn:
            conn.settimeout(2.0)
            head = _recv_exact(conn, 2)
            body = _recv_exact(conn, struct.unpack("!H", head)[0]) if head else None
            if body is None:
                return
            response = self._respond(dns.message.from_wire(body), "tcp")
            if response is not None:
                wire = response.to_wire()
                conn.sendall(struct.pack("!H", len(wire)) + wire)

    def _failure(self, name: dns.name.Name, rdtype: int) -> str | None:
        return self._failures.get((name, rdtype)) or self._failures.get((name, None))

    def _respond(self, query: dns.message.Message, transport: str) -> dns.message.Message | None:
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        self.queries.append(
            (qname.to_text(omit_final_dot=True), dns.rdatatype.to_text(qtype), transport)
        )
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        with self._lock:
            name = qname
            for _ in range(_MAX_CHAIN):
                mode = self._failure(name, qtype)
                if mode == "timeout":
                    return None
                if mode is not None:
                    response.answer.clear()
                    response.set_rcode(_FAIL_RCODES.get(mode, dns.rcode.NOTIMP))
                    return response
                types = self._records.get(name, {})
                if qtype in types:
                    response.answer.append(types[qtype])
                    return response
                cname = types.get(dns.rdatatype.CNAME)
                if cname is None or qtype == dns.rdatatype.CNAME:
                    self._add_negative(response, name)
                    return response
                response.answer.append(cname)
                name = next(iter(cname)).target
            response.set_rcode(dns.rcode.SERVFAIL)  # CNAME loop or chain too long
            return response

    def _add_negative(self, response: dns.message.Message, name: dns.name.Name) -> None:
        exists = any(owner.is_subdomain(name) for owner in self._records if self._records[owner])
        if not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        zone = name
        while True:
            soa = self._records.get(zone, {}).get(dns.rdatatype.SOA)
            if soa is not None:
                response.authority.append(soa)
                return
            if zone == dns.name.root:
                return
            zone = zone.parent()


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
