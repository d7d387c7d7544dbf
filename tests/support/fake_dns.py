"""A small authoritative DNS server for tests: UDP and TCP on one loopback port, zones from a dict.

    server = FakeDnsServer({"example.test": {"_acme-challenge": [("TXT", "abc")]}})
    server.start()            # binds 127.0.0.1, port 0 (same port for UDP and TCP)
    server.address            # "127.0.0.1:PORT", ready for make_resolver / --dns-resolver
    server.set_records("example.test", "_acme-challenge", "TXT", ["abc", "def"])
    server.stop()

Names in a zone's dict are relative ("@" or "" is the apex) or absolute with a trailing dot.
Each zone gets an SOA at its apex unless one is given. Answers are authoritative (AA):
the record set if present, a CNAME (followed inside the served zones), NODATA with the SOA, or
NXDOMAIN with the SOA; REFUSED for names outside every zone. ``truncate_udp=True`` answers every
UDP query with TC set and no records, so clients must retry over TCP. ``queries`` logs
(transport, qname, qtype) of every query received. The server runs in a daemon thread with a
selector loop (a thread per TCP connection); ``stop()`` closes the sockets and joins it (bounded).
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

RecordSpec = tuple[str, str]  # (type, rdata text); TXT text may be given unquoted
ZoneSpec = Mapping[str, Iterable[RecordSpec]]


def _rdata(rdtype: str, text: str) -> dns.rdata.Rdata:
    if rdtype.upper() == "TXT" and not text.startswith('"'):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)


class FakeDnsServer:
    """See the module docstring. Thread-safe record updates; one instance per test."""

    def __init__(
        self,
        zones: Mapping[str, ZoneSpec] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        truncate_udp: bool = False,
        ttl: int = 60,
    ) -> None:
        self.host = host
        self.port = port
        self.truncate_udp = truncate_udp
        self.ttl = ttl
        self.queries: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._zones: dict[
            dns.name.Name, dict[tuple[dns.name.Name, int], list[dns.rdata.Rdata]]
        ] = {}
        for zone, records in (zones or {}).items():
            self.add_zone(zone, records)
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []

    # --- data -------------------------------------------------------------------------------

    def add_zone(self, zone: str, records: ZoneSpec | None = None) -> None:
        origin = dns.name.from_text(zone)
        with self._lock:
            self._zones[origin] = {}
        has_soa = False
        for name, specs in (records or {}).items():
            by_type: dict[str, list[str]] = {}
            for rdtype, text in specs:
                by_type.setdefault(rdtype.upper(), []).append(text)
            for rdtype, texts in by_type.items():
                self.set_records(zone, name, rdtype, texts)
                has_soa = has_soa or (rdtype == "SOA" and name in ("@", ""))
        if not has_soa:
            soa = f"ns1.{origin} hostmaster.{origin} 1 3600 600 86400 60"
            self.set_records(zone, "@", "SOA", [soa])

    def set_records(self, zone: str, name: str, rdtype: str, texts: Iterable[str]) -> None:
        """Replace the record set (name, type) in ``zone``; an empty list deletes it."""
        origin = dns.name.from_text(zone)
        owner = self._owner(origin, name)
        key = (owner, dns.rdatatype.from_text(rdtype))
        values = [_rdata(rdtype, text) for text in texts]
        with self._lock:
            if values:
                self._zones[origin][key] = values
            else:
                self._zones[origin].pop(key, None)

    @staticmethod
    def _owner(origin: dns.name.Name, name: str) -> dns.name.Name:
        if name in ("@", ""):
            return origin
        return dns.name.from_text(name, origin=origin)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # --- serving ----------------------------------------------------------------------------

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.flags &= ~dns.flags.RA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        with self._lock:
            self._resolve(response, qname, qtype, hops=0)
        return response

    def _zone_of(self, qname: dns.name.Name) -> dns.name.Name | None:
        best = None
        for origin in self._zones:
            if qname.is_subdomain(origin) and (best is None or len(origin) > len(best)):
                best = origin
        return best

    def _resolve(
        self, response: dns.message.Message, qname: dns.name.Name, qtype: int, hops: int
    ) -> None:
        origin = self._zone_of(qname)
        if origin is None:
            if hops == 0:
                response.set_rcode(dns.rcode.REFUSED)
            return
        data = self._zones[origin]
        found = data.get((qname, qtype))
        if found:
            response.answer.append(self._rrset(qname, qtype, found))
            return
        cname = data.get((qname, dns.rdatatype.CNAME))
        if cname and qtype != dns.rdatatype.CNAME and hops < 8:
            response.answer.append(self._rrset(qname, dns.rdatatype.CNAME, cname))
            target = cname[0].target  # type: ignore[attr-defined]
            self._resolve(response, target, qtype, hops + 1)
            return
        exists = any(owner == qname or owner.is_subdomain(qname) for owner, _ in data)
        if not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        soa = data.get((origin, dns.rdatatype.SOA))
        if soa:
            response.authority.append(self._rrset(origin, dns.rdatatype.SOA, soa))

    def _rrset(
        self, name: dns.name.Name, rdtype: int, values: list[dns.rdata.Rdata]
    ) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
        for value in values:
            rrset.add(value, self.ttl)
        return rrset

    def _reply_bytes(self, wire: bytes, transport: str) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return None
        if query.question:
            q = query.question[0]
            self.queries.append((transport, q.name.to_text(), dns.rdatatype.to_text(q.rdtype)))
        response = self.answer(query)
        if transport == "udp" and self.truncate_udp:
            response.answer.clear()
            response.authority.clear()
            response.flags |= dns.flags.TC
        return response.to_wire(max_size=65535)

    def start(self) -> FakeDnsServer:
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.host, self.port))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                if self.port:
                    raise
                continue
            tcp.listen(16)
            self._udp, self._tcp, self.port = udp, tcp, port
            break
        else:
            raise RuntimeError("no free UDP+TCP port pair on loopback")
        self._thread = threading.Thread(
            target=self._serve, name=f"fake-dns-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        selector = selectors.DefaultSelector()
        selector.register(self._udp, selectors.EVENT_READ, "udp")
        selector.register(self._tcp, selectors.EVENT_READ, "tcp")
        while not self._stop.is_set():
            for key, _ in selector.select(timeout=0.05):
                try:
                    if key.data == "udp":
                        wire, peer = self._udp.recvfrom(65535)
                        reply = self._reply_bytes(wire, "udp")
                        if reply is not None:
                            self._udp.sendto(reply, peer)
                    else:
                        conn, _ = self._tcp.accept()
                        self._connections.append(conn)
                        threading.Thread(target=self._serve_tcp, args=(conn,), daemon=True).start()
                except OSError:
                    continue
        selector.close()

    def _serve_tcp(self, conn: socket.socket) -> None:
        conn.settimeout(2.0)
        with conn:
            for _ in range(16):
                if self._stop.is_set():
                    return  # a few pipelined queries per connection at most
                header = self._recv_exact(conn, 2)
                if header is None:
                    return
                wire = self._recv_exact(conn, struct.unpack("!H", header)[0])
                if wire is None:
                    return
                reply = self._reply_bytes(wire, "tcp")
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)

    @staticmethod
    def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            try:
                chunk = conn.recv(size - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for sock in (self._udp, self._tcp, *self._connections):
            if sock is not None:
                sock.close()

    def __enter__(self) -> FakeDnsServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
