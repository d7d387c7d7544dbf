"""DigitalOcean (API v2, https://docs.digitalocean.com/reference/api/), as certbot-dns-digitalocean.

    GET    /domains/<guess>                                   the zone, longest guess first
    GET    /domains/<zone>/records?type=TXT&name=<fqdn>       existing values
    POST   /domains/<zone>/records {type, name (relative), data, ttl}
    DELETE /domains/<zone>/records/<id>

Authentication: ``Authorization: Bearer <token>`` (a personal access token with write scope).
Options: ``dns_digitalocean_token``. ``CERTSMITH_DIGITALOCEAN_API_URL`` replaces the API URL
(tests).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx

from certsmith.challenges.dns01.contract import require
from certsmith.challenges.dns01.httpapi import JsonApi, api_base, relative_name, zone_candidates
from certsmith.errors import SolverError
from certsmith.wording import said

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.digitalocean.com/v2"
TTL = 30  # DigitalOcean's minimum


class DigitalOceanProvider:
    """Adds and removes TXT records in DigitalOcean domains (see the module docstring)."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        self.api = JsonApi("DigitalOcean", api_url, headers, transport=transport)
        self._zones: dict[str, str] = {}

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], environ: Mapping[str, str] = os.environ
    ) -> DigitalOceanProvider:
        token = require(options, "dns_digitalocean_token", "digitalocean")
        return cls(token, api_url=api_base("digitalocean", DEFAULT_API_URL, environ))

    async def zone(self, fqdn: str) -> str:
        if fqdn in self._zones:
            return self._zones[fqdn]
        for guess in zone_candidates(fqdn):
            answer = await self.api.call("GET", f"/domains/{guess}")
            if answer.status == 404:
                continue
            if not answer.ok:
                raise self.api.refused(f"look up domain {guess}", answer, "check the token")
            self._zones[fqdn] = guess
            return guess
        zone = said("dns01.zone_word.domain")
        raise SolverError(said("dns01.no_zone", provider="DigitalOcean", zone=zone, fqdn=fqdn))

    async def _records(self, zone: str, fqdn: str) -> list[dict[str, Any]]:
        params = {"type": "TXT", "name": fqdn, "per_page": "200"}
        answer = await self.api.call("GET", f"/domains/{zone}/records", params=params)
        if not answer.ok:
            raise self.api.refused(f"list the TXT records of {fqdn}", answer)
        records = answer.data.get("domain_records") if isinstance(answer.data, dict) else None
        relative = relative_name(fqdn, zone) or "@"
        return [
            r
            for r in records or ()
            if isinstance(r, dict) and r.get("type") == "TXT" and r.get("name") == relative
        ]

    async def add_txt(self, fqdn: str, value: str) -> None:
        zone = await self.zone(fqdn)
        if any(r.get("data") == value for r in await self._records(zone, fqdn)):
            return
        body = {"type": "TXT", "name": relative_name(fqdn, zone) or "@", "data": value, "ttl": TTL}
        answer = await self.api.call("POST", f"/domains/{zone}/records", body=body)
        if not answer.ok:
            raise self.api.refused(f"add TXT {fqdn}", answer, "the token needs write scope")
        logger.info("DigitalOcean: added TXT %s", fqdn)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        zone = await self.zone(fqdn)
        for record in await self._records(zone, fqdn):
            if record.get("data") == value and record.get("id") is not None:
                answer = await self.api.call("DELETE", f"/domains/{zone}/records/{record['id']}")
                if not answer.ok and answer.status != 404:
                    raise self.api.refused(f"delete TXT {fqdn}", answer)
