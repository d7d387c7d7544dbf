"""What the HTTP-API DNS providers (Cloudflare, Route53, DigitalOcean, Google, OVH, Linode) share.

- ``api_base``: the provider's documented API URL, or ``CERTSMITH_<NAME>_API_URL`` from the
  environment. That variable exists for tests (a fake API on loopback); plain ``http://`` is
  accepted only for a loopback host, so a stray variable cannot send secrets in clear text.
- ``zone_candidates`` / ``relative_name``: the zone guesses for a record name, longest first,
  as certbot's ``dns_common.base_domain_name_guesses`` makes them.
- ``JsonApi``: one request with a timeout, translated to ``SolverError`` at this boundary
  (the provider's name, the method and path, the status and the API's own message; never a
  header or a query string, which may hold a secret).
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from certsmith.errors import SolverError, UsageError
from certsmith.wording import said

DEFAULT_TIMEOUT = 20.0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_base(provider: str, default: str, environ: Mapping[str, str]) -> str:
    """``default``, or ``CERTSMITH_<PROVIDER>_API_URL`` when set (https, or http to loopback)."""
    variable = f"CERTSMITH_{provider.upper()}_API_URL"
    url = environ.get(variable, "").strip() or default
    return check_url(url, variable)


def check_url(url: str, what: str) -> str:
    """``url`` without a trailing slash if https, or http to loopback; else ``UsageError``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise UsageError(said("dns01.api_url", what=what, url=repr(url)))
    return url.rstrip("/")


def zone_candidates(fqdn: str) -> list[str]:
    """``_acme-challenge.a.example.com`` -> the names a zone may have, longest first."""
    labels = fqdn.rstrip(".").lower().split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def relative_name(fqdn: str, zone: str) -> str:
    """``_acme-challenge.a`` for ``_acme-challenge.a.example.com`` in ``example.com``."""
    name, zone = fqdn.rstrip(".").lower(), zone.rstrip(".").lower()
    if name == zone:
        return ""
    return name.removesuffix("." + zone)


@dataclass(frozen=True)
class ApiAnswer:
    """An API's answer: the status and the parsed JSON body (None when it was not JSON)."""

    status: int
    data: Any
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class JsonApi:
    """Requests to one provider's API; see the module docstring for the error rule."""

    provider: str  # for messages: "Cloudflare"
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    transport: httpx.AsyncBaseTransport | None = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiAnswer:
        """Send one request; a transport failure raises ``SolverError``, a status does not."""
        url = self.base_url + path
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.request(
                    method,
                    url,
                    params=params,
                    content=content,
                    headers={**self.headers, **(headers or {})},
                )
        except httpx.HTTPError as exc:
            error = type(exc).__name__
            why = said(
                "dns01.api_failed", provider=self.provider, method=method, path=path, error=error
            )
            raise SolverError(why) from exc
        text = response.text
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        return ApiAnswer(response.status_code, data, text)

    def refused(self, what: str, answer: ApiAnswer, hint: str = "") -> SolverError:
        """The ``SolverError`` for an answer that is not a success."""
        detail = _api_message(answer)
        more = f": {hint}" if hint else ""
        status = answer.status
        return SolverError(
            said(
                "dns01.api_refused",
                provider=self.provider,
                what=what,
                status=status,
                detail=detail,
                more=more,
            )
        )


def _api_message(answer: ApiAnswer) -> str:
    data = answer.data
    message = ""
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = str(errors[0].get("message", ""))
        elif isinstance(data.get("error"), dict):
            message = str(data["error"].get("message", ""))
        else:
            message = str(data.get("message") or data.get("error") or "")
    elif answer.text.lstrip().startswith("<"):
        # AWS's XML errors: <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>
        found = re.search(r"<Message>([^<]{1,300})</Message>", answer.text)
        message = html.unescape(found.group(1)) if found else ""
    elif answer.text:
        message = answer.text
    message = " ".join(message.split())[:200]
    return f", {message}" if message else ""
