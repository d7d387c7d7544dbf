"""RFC 2136 dynamic updates signed with TSIG (RFC 8945), certbot-dns-rfc2136 compatible.

Credentials use certbot-dns-rfc2136's file format::

    dns_rfc2136_server = 192.0.2.1       # IP address of the primary server
    dns_rfc2136_port = 53                # optional
    dns_rfc2136_name = keyname.          # TSIG key name
    dns_rfc2136_secret = 4q4wM/2I180UXoMyN4INVhJNi8V9BCV+bJeeHL7gQaQ=
    dns_rfc2136_algorithm = HMAC-SHA512  # optional, HMAC-MD5 as in certbot
    dns_rfc2136_sign_query = false       # optional: also sign the SOA lookups

The zone is found by asking the server itself for SOA records, walking up from the record name,
so that views and hidden primaries work without public DNS. Updates go over TCP.
"""

from __future__ import annotations

import binascii
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.tsigkeyring
import dns.update

from certsmith.challenges.dns01.contract import read_credentials, require
from certsmith.dnsutil import parse_host_port
from certsmith.errors import SolverError, UsageError
from certsmith.wording import said

logger = logging.getLogger(__name__)

PREFIX = "dns_rfc2136_"
TTL = 60

ALGORITHMS = {
    "HMAC-MD5": dns.tsig.HMAC_MD5,
    "HMAC-SHA1": dns.tsig.HMAC_SHA1,
    "HMAC-SHA224": dns.tsig.HMAC_SHA224,
    "HMAC-SHA256": dns.tsig.HMAC_SHA256,
    "HMAC-SHA384": dns.tsig.HMAC_SHA384,
    "HMAC-SHA512": dns.tsig.HMAC_SHA512,
}


@dataclass(frozen=True)
class Rfc2136Credentials:
    """Where to send updates and the TSIG key to sign them with."""

    server: str
    port: int
    key_name: str
    secret: str
    algorithm: str = "HMAC-MD5"
    sign_query: bool = False

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], source: str = "rfc2136"
    ) -> Rfc2136Credentials:
        """Validate ``dns_rfc2136_*`` options; ``UsageError`` naming ``source`` on bad input."""
        server_text = require(options, PREFIX + "server", source)
        port_text = options.get(PREFIX + "port", "").strip() or "53"
        if not port_text.isdigit():
            option, value = PREFIX + "port", repr(port_text)
            raise UsageError(said("rfc2136.port", source=source, option=option, value=value))
        try:
            host, port = parse_host_port(server_text, default_port=int(port_text))
        except UsageError as exc:
            why = said("rfc2136.server", source=source, option=PREFIX + "server", reason=exc)
            raise UsageError(why) from None
        algorithm = options.get(PREFIX + "algorithm", "HMAC-MD5").strip().upper() or "HMAC-MD5"
        if algorithm not in ALGORITHMS:
            option, choices = PREFIX + "algorithm", ", ".join(ALGORITHMS)
            why = said(
                "rfc2136.algorithm",
                source=source,
                option=option,
                value=repr(algorithm),
                choices=choices,
            )
            raise UsageError(why)
        secret = require(options, PREFIX + "secret", source)
        try:
            binascii.a2b_base64(secret.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError):
            raise UsageError(
                said("rfc2136.secret", source=source, option=PREFIX + "secret")
            ) from None
        sign_text = options.get(PREFIX + "sign_query", "false").strip().lower()
        if sign_text not in ("true", "false", "yes", "no", "1", "0", ""):
            raise UsageError(
                said("rfc2136.sign_query", source=source, option=PREFIX + "sign_query")
            )
        return cls(
            server=host,
            port=port,
            key_name=require(options, PREFIX + "name", source),
            secret=secret,
            algorithm=algorithm,
            sign_query=sign_text in ("true", "yes", "1"),
        )


class Rfc2136Provider:
    """Adds and removes TXT records with signed dynamic updates (see the module docstring)."""

    def __init__(self, credentials: Rfc2136Credentials, *, timeout: float = 10.0) -> None:
        self.credentials = credentials
        self.timeout = timeout
        self._key_name = dns.name.from_text(credentials.key_name)
        self._keyring = dns.tsigkeyring.from_text({credentials.key_name: credentials.secret})
        self._algorithm = ALGORITHMS[credentials.algorithm]

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Rfc2136Provider:
        return cls(Rfc2136Credentials.from_options(options))

    @classmethod
    def from_credentials_file(cls, path: str | os.PathLike[str]) -> Rfc2136Provider:
        """Read certbot's ini format; refuses files readable by group or others."""
        return cls(Rfc2136Credentials.from_options(read_credentials(path), source=str(path)))

    @property
    def _where(self) -> str:
        return f"{self.credentials.server}:{self.credentials.port}"

    async def _send(self, message: dns.message.Message, what: str) -> dns.message.Message:
        try:
            return await dns.asyncquery.tcp(
                message, self.credentials.server, timeout=self.timeout, port=self.credentials.port
            )
        except dns.tsig.PeerError as exc:
            key = repr(self.credentials.key_name)
            why = said("rfc2136.tsig_rejected", server=self._where, key=key, reason=exc, what=what)
            raise SolverError(why) from exc
        except (dns.exception.DNSException, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise SolverError(
                said("rfc2136.send_failed", what=what, server=self._where, reason=reason)
            ) from exc

    async def find_zone(self, fqdn: str) -> dns.name.Name:
        """The zone containing ``fqdn`` according to the server (SOA walk towards the root)."""
        name = dns.name.from_text(fqdn)
        while len(name) > 1:
            query = dns.message.make_query(name, dns.rdatatype.SOA)
            if self.credentials.sign_query:
                query.use_tsig(self._keyring, self._key_name, algorithm=self._algorithm)
            response = await self._send(query, said("rfc2136.what.soa", name=name))
            rcode = response.rcode()
            if rcode == dns.rcode.NOERROR:
                for rrset in response.answer:
                    if rrset.rdtype == dns.rdatatype.SOA and rrset.name == name:
                        return name
            if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                for rrset in response.authority:
                    if rrset.rdtype == dns.rdatatype.SOA and name.is_subdomain(rrset.name):
                        return rrset.name
            elif rcode not in (dns.rcode.REFUSED, dns.rcode.SERVFAIL, dns.rcode.NOTAUTH):
                rcode_text = dns.rcode.to_text(rcode)
                why = said("rfc2136.soa_rcode", server=self._where, rcode=rcode_text, name=name)
                raise SolverError(why)
            name = name.parent()
        raise SolverError(said("rfc2136.not_authoritative", server=self._where, fqdn=fqdn))

    async def _update(self, fqdn: str, value: str, add: bool) -> None:
        zone = await self.find_zone(fqdn)
        owner = dns.name.from_text(fqdn).relativize(zone)
        update = dns.update.UpdateMessage(
            zone, keyring=self._keyring, keyname=self._key_name, keyalgorithm=self._algorithm
        )
        rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, [value.encode()])
        verb = said("rfc2136.verb.adding") if add else said("rfc2136.verb.removing")
        if add:
            update.add(owner, TTL, rdata)
        else:
            update.delete(owner, rdata)
        response = await self._send(update, said("rfc2136.what.update", verb=verb, fqdn=fqdn))
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            hint = ""
            if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
                key = repr(self.credentials.key_name)
                hint = said("rfc2136.update_hint", zone=zone, key=key)
            rcode_text = dns.rcode.to_text(rcode)
            why = said(
                "rfc2136.update_rcode",
                server=self._where,
                rcode=rcode_text,
                verb=verb,
                fqdn=fqdn,
                hint=hint,
            )
            raise SolverError(why)
        logger.info("%s TXT %s in zone %s via %s", verb, fqdn, zone, self._where)

    async def add_txt(self, fqdn: str, value: str) -> None:
        """Add ``value`` to the TXT set at ``fqdn`` (TTL 60); other values stay."""
        await self._update(fqdn, value, add=True)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        """Remove ``value`` from the TXT set at ``fqdn``; absent values are no error."""
        await self._update(fqdn, value, add=False)
