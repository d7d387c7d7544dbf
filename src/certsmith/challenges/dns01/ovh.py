"""OVHcloud (API 1.0, https://api.ovh.com/console/), as certbot-dns-ovh (through lexicon) uses it.

Every call is signed as OVH documents ("First steps with the OVHcloud APIs"):

    X-Ovh-Signature: "$1$" + SHA1_HEX(application_secret + "+" + consumer_key + "+" + METHOD
                                     + "+" + full URL + "+" + body + "+" + timestamp)

with the timestamp in OVH's clock (``GET /auth/time`` gives it; the offset is kept).

    GET    /domain/zone/<guess>                                  the zone, longest guess first
    GET    /domain/zone/<zone>/record?fieldType=TXT&subDomain=<sub>   record ids
    GET    /domain/zone/<zone>/record/<id>                       its value
    POST   /domain/zone/<zone>/record {fieldType, subDomain, target, ttl}
    DELETE /domain/zone/<zone>/record/<id>
    POST   /domain/zone/<zone>/refresh                           publish the zone

Options: ``dns_ovh_endpoint`` (ovh-eu, ovh-ca, ovh-us, kimsufi-eu, kimsufi-ca, soyoustart-eu,
soyoustart-ca), ``dns_ovh_application_key``, ``dns_ovh_application_secret``,
``dns_ovh_consumer_key``. ``CERTSMITH_OVH_API_URL`` replaces the endpoint's URL (tests).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from certsmith.challenges.dns01.contract import require
from certsmith.challenges.dns01.httpapi import (
    ApiAnswer,
    JsonApi,
    api_base,
    relative_name,
    zone_candidates,
)
from certsmith.errors import SolverError, UsageError
from certsmith.wording import said

logger = logging.getLogger(__name__)

ENDPOINTS = {
    "ovh-eu": "https://eu.api.ovh.com/1.0",
    "ovh-ca": "https://ca.api.ovh.com/1.0",
    "ovh-us": "https://api.us.ovhcloud.com/1.0",
    "kimsufi-eu": "https://eu.api.kimsufi.com/1.0",
    "kimsufi-ca": "https://ca.api.kimsufi.com/1.0",
    "soyoustart-eu": "https://eu.api.soyoustart.com/1.0",
    "soyoustart-ca": "https://ca.api.soyoustart.com/1.0",
}
TTL = 60


def signature(secret: str, consumer: str, method: str, url: str, body: str, ts: int) -> str:
    """OVH's request signature (see the module docstring)."""
    text = "+".join([secret, consumer, method, url, body, str(ts)])
    return "$1$" + hashlib.sha1(text.encode()).hexdigest()  # OVH's protocol, not a hash of ours


class OvhProvider:
    """Adds and removes TXT records in OVH DNS zones (see the module docstring)."""

    def __init__(
        self,
        application_key: str,
        application_secret: str,
        consumer_key: str,
        *,
        api_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.application_key = application_key
        self.application_secret = application_secret
        self.consumer_key = consumer_key
        self.api = JsonApi(
            "OVH", api_url, {"X-Ovh-Application": application_key}, transport=transport
        )
        self._clock = clock
        self._offset: int | None = None
        self._zones: dict[str, str] = {}

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], environ: Mapping[str, str] = os.environ
    ) -> OvhProvider:
        endpoint = require(options, "dns_ovh_endpoint", "ovh")
        if endpoint not in ENDPOINTS:
            choices = ", ".join(ENDPOINTS)
            raise UsageError(said("ovh.endpoint", endpoint=endpoint, choices=choices))
        return cls(
            require(options, "dns_ovh_application_key", "ovh"),
            require(options, "dns_ovh_application_secret", "ovh"),
            require(options, "dns_ovh_consumer_key", "ovh"),
            api_url=api_base("ovh", ENDPOINTS[endpoint], environ),
        )

    async def _timestamp(self) -> int:
        if self._offset is None:
            answer = await self.api.call("GET", "/auth/time")
            if not answer.ok or not isinstance(answer.data, int):
                raise self.api.refused("tell its time", answer)
            self._offset = answer.data - int(self._clock())
        return int(self._clock()) + self._offset

    async def _call(
        self, method: str, path: str, query: Mapping[str, str] | None = None, body: Any = None
    ) -> ApiAnswer:
        path += "?" + urlencode(query) if query else ""
        text = json.dumps(body, separators=(",", ":")) if body is not None else ""
        ts = await self._timestamp()
        sig = signature(
            self.application_secret, self.consumer_key, method, self.api.base_url + path, text, ts
        )
        headers = {
            "X-Ovh-Consumer": self.consumer_key,
            "X-Ovh-Timestamp": str(ts),
            "X-Ovh-Signature": sig,
            "Content-Type": "application/json",
        }
        answer = await self.api.call(method, path, content=text.encode() or None, headers=headers)
        if answer.status in (401, 403):
            hint = "check the keys and the consumer key's rights on /domain/zone"
            raise self.api.refused(f"{method} {path}", answer, hint)
        return answer

    async def zone(self, fqdn: str) -> str:
        if fqdn in self._zones:
            return self._zones[fqdn]
        for guess in zone_candidates(fqdn):
            answer = await self._call("GET", f"/domain/zone/{guess}")
            if answer.ok:
                self._zones[fqdn] = guess
                return guess
            if answer.status != 404:
                raise self.api.refused(f"look up zone {guess}", answer)
        zone = said("dns01.zone_word.dns_zone")
        raise SolverError(said("dns01.no_zone", provider="OVH", zone=zone, fqdn=fqdn))

    async def _records(self, zone: str, sub: str) -> list[dict[str, Any]]:
        query = {"fieldType": "TXT", "subDomain": sub}
        answer = await self._call("GET", f"/domain/zone/{zone}/record", query)
        if not answer.ok or not isinstance(answer.data, list):
            raise self.api.refused(f"list the TXT records of {sub}.{zone}", answer)
        records = []
        for record_id in answer.data[:100]:
            one = await self._call("GET", f"/domain/zone/{zone}/record/{int(record_id)}")
            if one.ok and isinstance(one.data, dict):
                records.append(one.data)
        return records

    async def _refresh(self, zone: str) -> None:
        answer = await self._call("POST", f"/domain/zone/{zone}/refresh")
        if not answer.ok:
            raise self.api.refused(f"refresh zone {zone}", answer)

    async def add_txt(self, fqdn: str, value: str) -> None:
        zone = await self.zone(fqdn)
        sub = relative_name(fqdn, zone)
        if any(
            str(r.get("target", "")).strip('"') == value for r in await self._records(zone, sub)
        ):
            return
        body = {"fieldType": "TXT", "subDomain": sub, "target": value, "ttl": TTL}
        answer = await self._call("POST", f"/domain/zone/{zone}/record", body=body)
        if not answer.ok:
            raise self.api.refused(f"add TXT {fqdn}", answer)
        await self._refresh(zone)
        logger.info("OVH: added TXT %s", fqdn)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        zone = await self.zone(fqdn)
        removed = False
        for record in await self._records(zone, relative_name(fqdn, zone)):
            if str(record.get("target", "")).strip('"') == value and "id" in record:
                answer = await self._call("DELETE", f"/domain/zone/{zone}/record/{record['id']}")
                if not answer.ok and answer.status != 404:
                    raise self.api.refused(f"delete TXT {fqdn}", answer)
                removed = True
        if removed:
            await self._refresh(zone)
