"""DuckDNS (duckdns.org): one TXT value per registered subdomain, set over an HTTP GET.

``GET /update?domains=<sub>&token=<token>&txt=<value>`` sets the TXT record served for
``<sub>.duckdns.org`` and every name below it; ``&clear=true`` clears it. The answer body is
``OK`` or ``KO``.

Because DuckDNS holds a single TXT value, an order for ``*.foo.duckdns.org`` and
``foo.duckdns.org`` at once cannot work (both need a value at the same name); the provider
refuses the second value with a clear error instead of letting validation fail at the CA.

Options (credentials file): ``dns_duckdns_token``, optional ``dns_duckdns_base_url``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx

from certsmith.challenges.dns01.contract import require
from certsmith.errors import SolverError, UsageError
from certsmith.wording import said

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.duckdns.org"
SUFFIX = ".duckdns.org"


def duckdns_subdomain(fqdn: str) -> str:
    """``_acme-challenge.x.foo.duckdns.org`` -> ``foo``; ``SolverError`` outside duckdns.org."""
    name = fqdn.rstrip(".").lower()
    if not name.endswith(SUFFIX):
        raise SolverError(said("duckdns.not_duckdns", fqdn=fqdn))
    labels = name.removesuffix(SUFFIX).split(".")
    if not labels[-1]:
        raise SolverError(said("duckdns.no_subdomain", fqdn=fqdn))
    return labels[-1]


class DuckDnsProvider:
    """Sets and clears the TXT value of DuckDNS subdomains (see the module docstring)."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise UsageError(said("dns01.https_only", what="DuckDNS base URL", url=repr(base_url)))
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._transport = transport
        self._current: dict[str, str] = {}  # subdomain -> the value this provider set

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> DuckDnsProvider:
        base_url = options.get("dns_duckdns_base_url", "").strip() or DEFAULT_BASE_URL
        return cls(require(options, "dns_duckdns_token", "duckdns"), base_url=base_url)

    async def _update(self, subdomain: str, params: dict[str, str]) -> None:
        query = {"domains": subdomain, "token": self.token, **params}
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                response = await client.get(f"{self.base_url}/update", params=query)
        except httpx.HTTPError as exc:
            # The URL holds the token: name the host only.
            why = said("duckdns.update_failed", url=self.base_url, error=type(exc).__name__)
            raise SolverError(why) from exc
        body = response.text.strip()
        if response.status_code != 200 or not body.startswith("OK"):
            name, status = subdomain + SUFFIX, response.status_code
            why = said("duckdns.refused", name=name, status=status, body=repr(body[:20]))
            raise SolverError(why)

    async def add_txt(self, fqdn: str, value: str) -> None:
        """Set the TXT value of ``fqdn``'s DuckDNS subdomain (replacing what was there)."""
        subdomain = duckdns_subdomain(fqdn)
        current = self._current.get(subdomain)
        if current is not None and current != value:
            raise SolverError(said("duckdns.one_value", name=subdomain + SUFFIX))
        await self._update(subdomain, {"txt": value})
        self._current[subdomain] = value
        logger.info("DuckDNS TXT for %s%s set", subdomain, SUFFIX)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        """Clear the TXT value of ``fqdn``'s subdomain if it still is ``value``."""
        subdomain = duckdns_subdomain(fqdn)
        if self._current.get(subdomain, value) != value:
            return
        await self._update(subdomain, {"txt": value, "clear": "true"})
        self._current.pop(subdomain, None)
