"""acme-dns (github.com/joohoi/acme-dns): a tiny DNS server that holds only challenge records.

Set-up, once per domain: ``register(domain)`` calls ``POST /register`` and stores the answer
(username, password, fulldomain, subdomain) in a JSON file created 0600, keyed by domain, in the
same layout as certbot-dns-acmedns. ``add_txt`` does this itself the first time it meets a
domain that has no registration, then stops with a ``SolverError`` naming the record to create,
``_acme-challenge.<domain> CNAME <fulldomain>``, as certbot-dns-acmedns tells its users. Once
the CNAME exists the solver follows it, so ``add_txt`` gets ``fulldomain`` and sends
``POST /update`` with ``X-Api-User`` / ``X-Api-Key`` and ``{"subdomain": ..., "txt": ...}``.

acme-dns keeps the two most recent values per subdomain and cannot delete one: ``remove_txt``
does nothing. An order for a wildcard and its base name needs both values, which fits.

Options (credentials file): ``dns_acmedns_api_url``, ``dns_acmedns_registration_file``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from certsmith.challenges.dns01.contract import require
from certsmith.errors import SolverError, UsageError
from certsmith.wording import said
from certsmith.wording_parts import os_reason

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcmeDnsRegistration:
    """The account acme-dns made for one domain."""

    username: str
    password: str
    fulldomain: str
    subdomain: str

    @classmethod
    def from_json(cls, data: Any) -> AcmeDnsRegistration:
        if not isinstance(data, dict):
            raise ValueError("registration is not an object")
        values = {key: data.get(key) for key in ("username", "password", "fulldomain", "subdomain")}
        missing = [key for key, value in values.items() if not isinstance(value, str) or not value]
        if missing:
            raise ValueError(f"registration lacks {', '.join(missing)}")
        return cls(**values)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def _cname_record(domain: str, registration: AcmeDnsRegistration) -> str:
    return f"`_acme-challenge.{domain}. CNAME {_norm(registration.fulldomain)}.`"


class AcmeDnsProvider:
    """Updates challenge records on an acme-dns server (see the module docstring)."""

    def __init__(
        self,
        api_url: str,
        registration_file: str | os.PathLike[str],
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_url.startswith(("https://", "http://")):
            raise UsageError(said("dns01.https_only", what="acme-dns API URL", url=repr(api_url)))
        self.api_url = api_url.rstrip("/")
        self.registration_file = Path(registration_file)
        self.timeout = timeout
        self._transport = transport

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> AcmeDnsProvider:
        return cls(
            require(options, "dns_acmedns_api_url", "acme-dns"),
            require(options, "dns_acmedns_registration_file", "acme-dns"),
        )

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, transport=self._transport)

    def load_registrations(self) -> dict[str, AcmeDnsRegistration]:
        """domain -> registration from the file; an absent file is empty."""
        try:
            data = json.loads(self.registration_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            why = said("acmedns.read_failed", path=self.registration_file, reason=exc)
            raise UsageError(why) from None
        if not isinstance(data, dict):
            raise UsageError(said("acmedns.not_object", path=self.registration_file))
        try:
            return {_norm(k): AcmeDnsRegistration.from_json(v) for k, v in data.items()}
        except ValueError as exc:
            raise UsageError(f"{self.registration_file}: {exc}") from None

    def _store(self, registrations: Mapping[str, AcmeDnsRegistration]) -> None:
        """Atomic write of the registrations, created 0600 (they hold API passwords)."""
        directory = self.registration_file.parent
        text = json.dumps({k: v.to_json() for k, v in sorted(registrations.items())}, indent=2)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".acmedns-", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(self.registration_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def register(self, domain: str) -> AcmeDnsRegistration:
        """``POST /register`` and store the result for ``domain`` (replacing an older one).

        The caller tells the user to create ``_acme-challenge.<domain> CNAME <fulldomain>``.
        """
        try:
            async with self._client() as client:
                response = await client.post(f"{self.api_url}/register")
        except httpx.HTTPError as exc:
            why = said("acmedns.register_failed", url=self.api_url, error=repr(exc))
            raise SolverError(why) from exc
        if response.status_code not in (200, 201):
            status = response.status_code
            raise SolverError(said("acmedns.register_status", url=self.api_url, status=status))
        try:
            registration = AcmeDnsRegistration.from_json(response.json())
        except ValueError as exc:
            raise SolverError(said("acmedns.register_bad", url=self.api_url, reason=exc)) from exc
        registrations = self.load_registrations()
        registrations[_norm(domain).removeprefix("*.")] = registration
        try:
            self._store(registrations)
        except OSError as exc:
            path = self.registration_file
            raise UsageError(
                said("acmedns.write_failed", path=path, reason=os_reason(exc))
            ) from None
        logger.info(
            "registered %s at acme-dns: create _acme-challenge.%s CNAME %s",
            domain,
            domain,
            registration.fulldomain,
        )
        return registration

    def registration_for(self, fqdn: str) -> AcmeDnsRegistration | None:
        """The registration whose fulldomain is ``fqdn``, or None.

        ``SolverError`` when ``fqdn`` is ``_acme-challenge.<domain>`` of a registered domain:
        its CNAME to the fulldomain is missing, so the CA would never see the record.
        """
        wanted = _norm(fqdn)
        registrations = self.load_registrations()
        for registration in registrations.values():
            if _norm(registration.fulldomain) == wanted:
                return registration
        domain = wanted.removeprefix("_acme-challenge.")
        if domain in registrations:
            record = _cname_record(domain, registrations[domain])
            raise SolverError(said("acmedns.cname_missing", domain=domain, record=record))
        return None

    async def add_txt(self, fqdn: str, value: str) -> None:
        """``POST /update`` for the registration matching ``fqdn``.

        A domain with no registration yet (``fqdn`` is still ``_acme-challenge.<domain>``) is
        registered first, as certbot-dns-acmedns does; the CNAME the user must then create
        cannot exist yet, so this raises ``SolverError`` saying which record to create.
        """
        registration = self.registration_for(fqdn)
        if registration is None:
            name = _norm(fqdn)
            if not name.startswith("_acme-challenge."):
                path = self.registration_file
                raise SolverError(said("acmedns.unknown_fulldomain", fqdn=fqdn, path=path))
            domain = name.removeprefix("_acme-challenge.")
            registration = await self.register(domain)
            record = _cname_record(domain, registration)
            path, url = self.registration_file, self.api_url
            why = said("acmedns.registered", domain=domain, url=url, path=path, record=record)
            raise SolverError(why)
        headers = {"X-Api-User": registration.username, "X-Api-Key": registration.password}
        body = {"subdomain": registration.subdomain, "txt": value}
        try:
            async with self._client() as client:
                response = await client.post(f"{self.api_url}/update", json=body, headers=headers)
        except httpx.HTTPError as exc:
            why = said("acmedns.update_failed", url=self.api_url, error=repr(exc))
            raise SolverError(why) from exc
        if response.status_code != 200:
            detail = response.text[:200].strip()
            status, url = response.status_code, self.api_url
            why = said("acmedns.update_status", url=url, status=status, fqdn=fqdn, detail=detail)
            raise SolverError(why)
        logger.info("acme-dns holds TXT %s", registration.fulldomain)

    async def remove_txt(self, fqdn: str, value: str) -> None:
        """acme-dns cannot delete a value; it keeps the last two. Nothing to do."""
        logger.debug("acme-dns keeps %s at %s until it rotates out", value, fqdn)
