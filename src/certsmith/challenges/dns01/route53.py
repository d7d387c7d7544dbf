"""Amazon Route 53 (REST API 2013-04-01), as certbot-dns-route53 uses it, signed with SigV4.

    GET  /2013-04-01/hostedzone?maxitems=100[&marker=M]       public zones; the longest match
    GET  /2013-04-01/hostedzone/<id>/rrset?name=<fqdn>.&type=TXT&maxitems=1   current values
    POST /2013-04-01/hostedzone/<id>/rrset/   ChangeResourceRecordSetsRequest (UPSERT / DELETE)
    GET  /2013-04-01/change/<id>              until INSYNC (bounded), as certbot waits

A TXT record set holds every value at a name, so adding reads the set and UPSERTs it with the
new value, and removing UPSERTs it without (or DELETEs it when it was the last value); other
values at the name (a wildcard's and its base name's, another order's) are kept.

Credentials: the AWS chain (``certsmith.challenges.dns01.aws``); certbot-dns-route53 has no
credentials file either. ``CERTSMITH_ROUTE53_API_URL`` replaces the API URL (tests).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from urllib.parse import quote

import httpx

from certsmith.challenges.dns01.aws import AwsCredentials, find_aws_credentials, sign
from certsmith.challenges.dns01.httpapi import ApiAnswer, JsonApi, api_base
from certsmith.errors import SolverError
from certsmith.wording import said

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://route53.amazonaws.com"
NS = "https://route53.amazonaws.com/doc/2013-04-01/"
TTL = 10
MAX_ZONE_PAGES = 50
INSYNC_TIMEOUT = 120.0
INSYNC_INTERVAL = 5.0


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _xml(answer: ApiAnswer) -> ET.Element:
    try:
        # AWS's own answers over https (loopback in tests); expat bounds entity expansion.
        return ET.fromstring(answer.text)  # noqa: S314
    except ET.ParseError as exc:
        raise SolverError(said("route53.bad_xml", reason=exc)) from None


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def change_batch(action: str, fqdn: str, values: list[str], ttl: int) -> bytes:
    """A ChangeResourceRecordSetsRequest with one change of the TXT set at ``fqdn``."""
    root = ET.Element("ChangeResourceRecordSetsRequest", xmlns=NS)
    batch = ET.SubElement(root, "ChangeBatch")
    ET.SubElement(batch, "Comment").text = "certsmith dns-01"
    change = ET.SubElement(ET.SubElement(batch, "Changes"), "Change")
    ET.SubElement(change, "Action").text = action
    rrset = ET.SubElement(change, "ResourceRecordSet")
    ET.SubElement(rrset, "Name").text = fqdn + "."
    ET.SubElement(rrset, "Type").text = "TXT"
    ET.SubElement(rrset, "TTL").text = str(ttl)
    records = ET.SubElement(rrset, "ResourceRecords")
    for value in values:
        ET.SubElement(ET.SubElement(records, "ResourceRecord"), "Value").text = f'"{value}"'
    return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root)


class Route53Provider:
    """Adds and removes TXT values in Route 53 hosted zones (see the module docstring)."""

    def __init__(
        self,
        credentials: AwsCredentials,
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        insync_timeout: float = INSYNC_TIMEOUT,
    ) -> None:
        self.credentials = credentials
        self.api = JsonApi("Route 53", api_url, transport=transport)
        self._now, self._clock, self._sleep = now, clock, sleep
        self.insync_timeout = insync_timeout
        self._zones: dict[str, str] = {}

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], environ: Mapping[str, str] = os.environ
    ) -> Route53Provider:
        home = Path(environ.get("HOME") or Path.home())
        credentials = find_aws_credentials(environ, home)
        return cls(credentials, api_url=api_base("route53", DEFAULT_API_URL, environ))

    async def _call(self, method: str, path: str, query: str = "", body: bytes = b"") -> ApiAnswer:
        url = self.api.base_url + path + (f"?{query}" if query else "")
        headers = {"Content-Type": "text/xml"} if body else {}
        signed = sign(
            method,
            url,
            headers,
            body,
            self.credentials,
            region="us-east-1",
            service="route53",
            now=self._now(),
        )
        signed.pop("Host")  # httpx sends the same value itself
        answer = await self.api.call(
            method, path + (f"?{query}" if query else ""), content=body or None, headers=signed
        )
        if answer.status in (401, 403):
            raise self.api.refused(
                f"{method} {path}",
                answer,
                f"check the AWS credentials from {self.credentials.source} (route53:"
                "ListHostedZones, GetChange and ChangeResourceRecordSets are needed)",
            )
        return answer

    async def zone_id(self, fqdn: str) -> str:
        """The public hosted zone with the longest name that contains ``fqdn``."""
        if fqdn in self._zones:
            return self._zones[fqdn]
        name, best, best_len, marker = _norm(fqdn), "", -1, ""
        for _ in range(MAX_ZONE_PAGES):
            query = "maxitems=100" + (f"&marker={quote(marker, safe='')}" if marker else "")
            answer = await self._call("GET", "/2013-04-01/hostedzone", query)
            if not answer.ok:
                raise self.api.refused("list hosted zones", answer)
            root = _xml(answer)
            for zone in root.iter(_q("HostedZone")):
                zone_name = _norm(zone.findtext(_q("Name"), ""))
                private = zone.findtext(f"{_q('Config')}/{_q('PrivateZone')}", "false")
                if private == "true" or not (name == zone_name or name.endswith("." + zone_name)):
                    continue
                if len(zone_name) > best_len:
                    best, best_len = zone.findtext(_q("Id"), ""), len(zone_name)
            marker = root.findtext(_q("NextMarker"), "")
            if root.findtext(_q("IsTruncated"), "false") != "true" or not marker:
                break
        if not best:
            kind = said("dns01.zone_word.hosted_zone")
            raise SolverError(said("dns01.no_zone", provider="Route 53", zone=kind, fqdn=fqdn))
        self._zones[fqdn] = best.rsplit("/", 1)[-1]
        return self._zones[fqdn]

    async def _current(self, zone: str, fqdn: str) -> tuple[list[str], int]:
        query = f"name={quote(fqdn + '.', safe='')}&type=TXT&maxitems=1"
        answer = await self._call("GET", f"/2013-04-01/hostedzone/{zone}/rrset", query)
        if not answer.ok:
            raise self.api.refused(f"list the TXT records of {fqdn}", answer)
        for rrset in _xml(answer).iter(_q("ResourceRecordSet")):
            if (
                _norm(rrset.findtext(_q("Name"), "")) == fqdn
                and rrset.findtext(_q("Type")) == "TXT"
            ):
                values = [v.text or "" for v in rrset.iter(_q("Value"))]
                ttl = int(rrset.findtext(_q("TTL"), str(TTL)) or TTL)
                return [v.strip('"') for v in values], ttl
        return [], TTL

    async def _change(self, zone: str, body: bytes, what: str) -> None:
        path = f"/2013-04-01/hostedzone/{zone}/rrset/"
        answer = await self._call("POST", path, body=body)
        if not answer.ok:
            raise self.api.refused(what, answer)
        change = _xml(answer).findtext(f"{_q('ChangeInfo')}/{_q('Id')}", "")
        await self._wait_insync(change.rsplit("/", 1)[-1], what)

    async def _wait_insync(self, change: str, what: str) -> None:
        deadline = self._clock() + self.insync_timeout
        for _ in range(int(self.insync_timeout / INSYNC_INTERVAL) + 2):
            answer = await self._call("GET", f"/2013-04-01/change/{change}")
            if not answer.ok:
                raise self.api.refused(f"report on change {change}", answer)
            if _xml(answer).findtext(f"{_q('ChangeInfo')}/{_q('Status')}") == "INSYNC":
                return
            if self._clock() >= deadline:
                break
            await self._sleep(INSYNC_INTERVAL)
        seconds = f"{self.insync_timeout:g}"
        why = said("route53.not_in_sync", what=what, seconds=seconds, change=change)
        raise SolverError(why)

    async def add_txt(self, fqdn: str, value: str) -> None:
        fqdn = _norm(fqdn)
        zone = await self.zone_id(fqdn)
        values, ttl = await self._current(zone, fqdn)
        if value in values:
            return
        body = change_batch("UPSERT", fqdn, [*values, value], ttl)
        await self._change(zone, body, f"add TXT {fqdn}")
        logger.info("Route 53: added TXT %s", fqdn)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        fqdn = _norm(fqdn)
        zone = await self.zone_id(fqdn)
        values, ttl = await self._current(zone, fqdn)
        if value not in values:
            return
        rest = [v for v in values if v != value]
        # DELETE must name the set exactly as it is; UPSERT keeps the other values.
        body = (
            change_batch("UPSERT", fqdn, rest, ttl)
            if rest
            else change_batch("DELETE", fqdn, values, ttl)
        )
        await self._change(zone, body, f"remove TXT {fqdn}")
