"""Linode (API v4, https://techdocs.akamai.com/linode-api/), as certbot-dns-linode uses it.

    GET    /domains        with ``X-Filter: {"domain": "<guess>"}``, longest guess first
    GET    /domains/<id>/records?page=N                    existing values (bounded paging)
    POST   /domains/<id>/records {type, name (relative), target, ttl_sec}
    DELETE /domains/<id>/records/<record>

Authentication: ``Authorization: Bearer <key>`` (a personal access token, Domains read/write).
Options: ``dns_linode_key``; ``dns_linode_version`` may be empty or 4 (API v3 is gone).
``CERTSMITH_LINODE_API_URL`` replaces the API URL (tests).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx

from certsmith.challenges.dns01.contract import require
from certsmith.challenges.dns01.httpapi import JsonApi, api_base, relative_name, zone_candidates
from certsmith.errors import SolverError, UsageError
from certsmith.wording import said

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.linode.com/v4"
TTL = 300
MAX_PAGES = 20


class LinodeProvider:
    """Adds and removes TXT records in Linode domains (see the module docstring)."""

    def __init__(
        self,
        key: str,
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api = JsonApi(
            "Linode", api_url, {"Authorization": f"Bearer {key}"}, transport=transport
        )
        self._zones: dict[str, tuple[int, str]] = {}  # fqdn -> (domain id, domain name)

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], environ: Mapping[str, str] = os.environ
    ) -> LinodeProvider:
        version = options.get("dns_linode_version", "").strip()
        if version not in ("", "4"):
            raise UsageError(said("linode.version", version=version))
        key = require(options, "dns_linode_key", "linode")
        return cls(key, api_url=api_base("linode", DEFAULT_API_URL, environ))

    async def zone(self, fqdn: str) -> tuple[int, str]:
        if fqdn in self._zones:
            return self._zones[fqdn]
        for guess in zone_candidates(fqdn):
            headers = {"X-Filter": json.dumps({"domain": guess})}
            answer = await self.api.call("GET", "/domains", headers=headers)
            if not answer.ok:
                raise self.api.refused("list domains", answer, "check dns_linode_key")
            for domain in _data(answer.data):
                if str(domain.get("domain", "")).lower() == guess and "id" in domain:
                    self._zones[fqdn] = (int(domain["id"]), guess)
                    return self._zones[fqdn]
        zone = said("dns01.zone_word.domain")
        raise SolverError(said("dns01.no_zone", provider="Linode", zone=zone, fqdn=fqdn))

    async def _records(self, domain_id: int, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            params = {"page": str(page), "page_size": "500"}
            answer = await self.api.call("GET", f"/domains/{domain_id}/records", params=params)
            if not answer.ok:
                raise self.api.refused("list domain records", answer)
            found += [r for r in _data(answer.data) if r.get("type") == "TXT"]
            pages = answer.data.get("pages", 1) if isinstance(answer.data, dict) else 1
            if not isinstance(pages, int) or page >= pages:
                break
        return [r for r in found if r.get("name") == name]

    async def add_txt(self, fqdn: str, value: str) -> None:
        domain_id, zone = await self.zone(fqdn)
        name = relative_name(fqdn, zone)
        if any(r.get("target") == value for r in await self._records(domain_id, name)):
            return
        body = {"type": "TXT", "name": name, "target": value, "ttl_sec": TTL}
        answer = await self.api.call("POST", f"/domains/{domain_id}/records", body=body)
        if not answer.ok:
            raise self.api.refused(f"add TXT {fqdn}", answer, "the key needs Domains read/write")
        logger.info("Linode: added TXT %s", fqdn)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        domain_id, zone = await self.zone(fqdn)
        for record in await self._records(domain_id, relative_name(fqdn, zone)):
            if record.get("target") == value and "id" in record:
                path = f"/domains/{domain_id}/records/{record['id']}"
                answer = await self.api.call("DELETE", path)
                if not answer.ok and answer.status != 404:
                    raise self.api.refused(f"delete TXT {fqdn}", answer)


def _data(data: Any) -> list[dict[str, Any]]:
    items = data.get("data") if isinstance(data, dict) else None
    return [item for item in items or () if isinstance(item, dict)]
