"""Cloudflare (API v4, https://developers.cloudflare.com/api/), as certbot-dns-cloudflare uses it.

    GET    /zones?name=<guess>&per_page=1                 the zone, longest guess first
    GET    /zones/<zone>/dns_records?type=TXT&name=<fqdn>  existing values
    POST   /zones/<zone>/dns_records {type, name, content, ttl}
    DELETE /zones/<zone>/dns_records/<record>

Authentication: ``Authorization: Bearer <token>`` (an API token with Zone:DNS:Edit), or the
global API key as ``X-Auth-Email`` / ``X-Auth-Key``.

Options (certbot's credentials INI): ``dns_cloudflare_api_token``, or ``dns_cloudflare_email``
with ``dns_cloudflare_api_key``. ``CERTSMITH_CLOUDFLARE_API_URL`` replaces the API URL (tests).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import httpx

from certsmith.challenges.dns01.httpapi import ApiAnswer, JsonApi, api_base, zone_candidates
from certsmith.errors import SolverError, UsageError
from certsmith.wording import said

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"
TTL = 120
RECORD_EXISTS = 81058  # "An identical record already exists."
ACCOUNT_URL = "https://dash.cloudflare.com/?to=/:account/profile/api-tokens"


def auth_headers(options: Mapping[str, str]) -> dict[str, str]:
    """The headers for certbot's credentials keys; ``UsageError`` for an unusable mix."""
    token = options.get("dns_cloudflare_api_token", "").strip()
    email = options.get("dns_cloudflare_email", "").strip()
    key = options.get("dns_cloudflare_api_key", "").strip()
    if token and (email or key):
        raise UsageError(said("cloudflare.both"))
    if token:
        return {"Authorization": f"Bearer {token}"}
    if email and key:
        return {"X-Auth-Email": email, "X-Auth-Key": key}
    raise UsageError(said("cloudflare.missing", url=ACCOUNT_URL))


def _results(answer: ApiAnswer) -> list[dict[str, Any]]:
    data = answer.data
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        return []
    return [item for item in data["result"] if isinstance(item, dict)]


def _error_codes(answer: ApiAnswer) -> set[int]:
    errors = answer.data.get("errors") if isinstance(answer.data, dict) else None
    return {
        e["code"] for e in errors or () if isinstance(e, dict) and isinstance(e.get("code"), int)
    }


def _content(record: Mapping[str, Any]) -> str:
    # Cloudflare may hand a TXT value back in quotes ("...") when it stored it so.
    return str(record.get("content", "")).strip('"')


class CloudflareProvider:
    """Adds and removes TXT records in Cloudflare zones (see the module docstring)."""

    def __init__(
        self,
        headers: Mapping[str, str],
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api = JsonApi("Cloudflare", api_url, dict(headers), transport=transport)
        self._zones: dict[str, str] = {}  # fqdn -> zone id

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], environ: Mapping[str, str] = os.environ
    ) -> CloudflareProvider:
        api_url = api_base("cloudflare", DEFAULT_API_URL, environ)
        return cls(auth_headers(options), api_url=api_url)

    async def zone_id(self, fqdn: str) -> str:
        """The id of the zone holding ``fqdn`` (the longest zone name that matches)."""
        if fqdn in self._zones:
            return self._zones[fqdn]
        for guess in zone_candidates(fqdn):
            answer = await self.api.call("GET", "/zones", params={"name": guess, "per_page": "1"})
            if not answer.ok:
                raise self.api.refused(
                    f"list zones named {guess}",
                    answer,
                    "check the API token (Zone:Zone:Read and Zone:DNS:Edit for this zone)",
                )
            zones = [z for z in _results(answer) if z.get("id")]
            if zones:
                self._zones[fqdn] = str(zones[0]["id"])
                return self._zones[fqdn]
        tried = ", ".join(zone_candidates(fqdn))
        raise SolverError(said("cloudflare.no_zone", fqdn=fqdn, tried=tried))

    async def _records(self, zone: str, fqdn: str) -> list[dict[str, Any]]:
        params = {"type": "TXT", "name": fqdn, "per_page": "100"}
        answer = await self.api.call("GET", f"/zones/{zone}/dns_records", params=params)
        if not answer.ok:
            raise self.api.refused(f"list the TXT records of {fqdn}", answer)
        return _results(answer)

    async def add_txt(self, fqdn: str, value: str) -> None:
        zone = await self.zone_id(fqdn)
        if any(_content(r) == value for r in await self._records(zone, fqdn)):
            return
        body = {"type": "TXT", "name": fqdn, "content": value, "ttl": TTL}
        answer = await self.api.call("POST", f"/zones/{zone}/dns_records", body=body)
        if not answer.ok and RECORD_EXISTS not in _error_codes(answer):
            raise self.api.refused(f"add TXT {fqdn}", answer, "the token needs Zone:DNS:Edit")
        logger.info("Cloudflare: added TXT %s", fqdn)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        zone = await self.zone_id(fqdn)
        for record in await self._records(zone, fqdn):
            if _content(record) != value or not record.get("id"):
                continue
            path = f"/zones/{zone}/dns_records/{record['id']}"
            answer = await self.api.call("DELETE", path)
            if not answer.ok and answer.status != 404:
                raise self.api.refused(f"delete TXT {fqdn}", answer)
