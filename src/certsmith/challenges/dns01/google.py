"""Google Cloud DNS (API v1, https://cloud.google.com/dns/docs/reference/rest/v1), as
certbot-dns-google uses it, with a service account's key.

Authorisation (RFC 7523, Google's "OAuth 2.0 for server to server applications"): a JWT
``{iss: client_email, scope: ndev.clouddns.readwrite, aud: token_uri, iat, exp}`` signed RS256
with the account's private key (``cryptography``) is exchanged at ``token_uri`` for a bearer
access token.

    GET  /projects/<p>/managedZones?dnsName=<guess>.            public zones, longest guess first
    GET  /projects/<p>/managedZones/<zone>/rrsets?name=<fqdn>.&type=TXT   the current set
    POST /projects/<p>/managedZones/<zone>/changes {additions, deletions}  replace the set
    GET  /projects/<p>/managedZones/<zone>/changes/<id>        until "done" (bounded)

Options: ``dns_google_credentials`` (certbot's ``--dns-google-credentials``: the path of the
service account's JSON key, checked like any credentials file) and ``dns_google_project``
(default: the key's ``project_id``). certbot falls back to the GCE metadata server without a
key; certsmith needs the key. ``CERTSMITH_GOOGLE_API_URL`` replaces the API URL (tests).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from certsmith.challenges.dns01.contract import read_secret_file, require
from certsmith.challenges.dns01.httpapi import JsonApi, api_base, check_url, zone_candidates
from certsmith.errors import SolverError, UsageError
from certsmith.wording import said

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://dns.googleapis.com/dns/v1"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
SCOPE = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
TTL = 60
CHANGE_TIMEOUT = 120.0
CHANGE_INTERVAL = 2.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ServiceAccount:
    """A service account key (the JSON file Google hands out) and the JWT it signs."""

    def __init__(self, info: Mapping[str, Any], source: str) -> None:
        try:
            self.email = str(info["client_email"])
            key = serialization.load_pem_private_key(str(info["private_key"]).encode(), None)
        except (KeyError, ValueError, TypeError) as exc:
            raise UsageError(said("google.not_key", source=source, reason=exc)) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise UsageError(said("google.not_rsa", source=source))
        self.key = key
        self.key_id = str(info.get("private_key_id", ""))
        self.project = str(info.get("project_id", ""))
        self.token_uri = str(info.get("token_uri") or DEFAULT_TOKEN_URI)

    @classmethod
    def from_file(cls, path: str) -> ServiceAccount:
        try:
            info = json.loads(read_secret_file(path))
        except ValueError as exc:
            raise UsageError(said("google.not_json", path=path, reason=exc)) from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise UsageError(said("google.wrong_type", path=path))
        return cls(info, path)

    def assertion(self, now: int) -> str:
        header = {"alg": "RS256", "typ": "JWT", **({"kid": self.key_id} if self.key_id else {})}
        claims = {
            "iss": self.email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        }
        signing_input = ".".join(_b64(json.dumps(p).encode()) for p in (header, claims))
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64(signature)


class GoogleProvider:
    """Adds and removes TXT values in Cloud DNS managed zones (see the module docstring)."""

    def __init__(
        self,
        account: ServiceAccount,
        project: str,
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.AsyncBaseTransport | None = None,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not project:
            raise UsageError(said("google.no_project"))
        self.account = account
        self.project = project
        self.api = JsonApi("Google Cloud DNS", api_url, transport=transport)
        self._token_api = JsonApi("Google OAuth", "", transport=transport)
        self._wall, self._clock, self._sleep = wall_clock, clock, sleep
        self._token: tuple[str, float] | None = None
        self._zones: dict[str, str] = {}

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], environ: Mapping[str, str] = os.environ
    ) -> GoogleProvider:
        account = ServiceAccount.from_file(require(options, "dns_google_credentials", "google"))
        check_url(account.token_uri, f"token_uri in {options['dns_google_credentials']}")
        project = options.get("dns_google_project", "").strip() or account.project
        return cls(account, project, api_url=api_base("google", DEFAULT_API_URL, environ))

    async def _bearer(self) -> str:
        now = self._wall()
        if self._token is not None and self._token[1] > now + 60:
            return self._token[0]
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": self.account.assertion(int(now)),
        }
        answer = await self._token_api.call(
            "POST",
            self.account.token_uri,
            content="&".join(f"{k}={quote(v, safe='')}" for k, v in form.items()).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        token = answer.data.get("access_token") if isinstance(answer.data, dict) else None
        if not answer.ok or not isinstance(token, str):
            raise self._token_api.refused(
                f"give {self.account.email} an access token", answer, "check the key is active"
            )
        expires = answer.data.get("expires_in", 3600)
        self._token = (token, now + (expires if isinstance(expires, int) else 3600))
        return token

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {await self._bearer()}"}
        answer = await self.api.call(
            method, f"/projects/{self.project}{path}", headers=headers, **kwargs
        )
        if not answer.ok:
            raise self.api.refused(
                f"{method} {path}", answer, "the account needs the DNS Administrator role"
            )
        return answer.data if isinstance(answer.data, dict) else {}

    async def zone(self, fqdn: str) -> str:
        if fqdn in self._zones:
            return self._zones[fqdn]
        for guess in zone_candidates(fqdn):
            data = await self._call("GET", "/managedZones", params={"dnsName": guess + "."})
            for zone in data.get("managedZones") or ():
                if isinstance(zone, dict) and zone.get("visibility", "public") == "public":
                    self._zones[fqdn] = str(zone["name"])
                    return self._zones[fqdn]
        raise SolverError(said("google.no_zone", fqdn=fqdn, project=self.project))

    async def _current(self, zone: str, fqdn: str) -> dict[str, Any] | None:
        params = {"name": fqdn + ".", "type": "TXT"}
        data = await self._call("GET", f"/managedZones/{zone}/rrsets", params=params)
        for rrset in data.get("rrsets") or ():
            if isinstance(rrset, dict) and rrset.get("type") == "TXT":
                return rrset
        return None

    async def _replace(
        self, zone: str, old: dict[str, Any] | None, values: list[str], fqdn: str
    ) -> None:
        change: dict[str, Any] = {"kind": "dns#change", "deletions": [old] if old else []}
        new = {
            "kind": "dns#resourceRecordSet",
            "name": fqdn + ".",
            "type": "TXT",
            "ttl": (old or {}).get("ttl", TTL),
            "rrdatas": [f'"{v}"' for v in values],
        }
        change["additions"] = [new] if values else []
        data = await self._call("POST", f"/managedZones/{zone}/changes", body=change)
        deadline = self._clock() + CHANGE_TIMEOUT
        for _ in range(int(CHANGE_TIMEOUT / CHANGE_INTERVAL) + 2):
            if data.get("status") == "done":
                return
            if self._clock() >= deadline:
                break
            await self._sleep(CHANGE_INTERVAL)
            data = await self._call("GET", f"/managedZones/{zone}/changes/{data.get('id')}")
        raise SolverError(said("google.not_applied", fqdn=fqdn))

    @staticmethod
    def _values(rrset: dict[str, Any] | None) -> list[str]:
        return [str(v).strip('"') for v in (rrset or {}).get("rrdatas") or ()]

    async def add_txt(self, fqdn: str, value: str) -> None:
        fqdn = fqdn.rstrip(".").lower()
        zone = await self.zone(fqdn)
        old = await self._current(zone, fqdn)
        if value not in self._values(old):
            await self._replace(zone, old, [*self._values(old), value], fqdn)
            logger.info("Google Cloud DNS: added TXT %s", fqdn)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        fqdn = fqdn.rstrip(".").lower()
        zone = await self.zone(fqdn)
        old = await self._current(zone, fqdn)
        if value in self._values(old):
            await self._replace(zone, old, [v for v in self._values(old) if v != value], fqdn)
