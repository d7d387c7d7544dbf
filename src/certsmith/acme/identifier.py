"""ACME identifiers: ``dns`` names (RFC 8555) and ``ip`` addresses (RFC 8738)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

IdentifierType = Literal["dns", "ip"]


@dataclass(frozen=True, order=True)
class Identifier:
    type: IdentifierType
    value: str

    @classmethod
    def dns(cls, name: str) -> Identifier:
        return cls("dns", name)

    @classmethod
    def ip(cls, address: str) -> Identifier:
        # RFC 8738 section 3: the canonical textual form (RFC 5952 for IPv6).
        return cls("ip", str(ipaddress.ip_address(address)))

    @property
    def is_wildcard(self) -> bool:
        return self.type == "dns" and self.value.startswith("*.")

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}

    @classmethod
    def from_json(cls, data: Any) -> Identifier:
        if not isinstance(data, dict):
            raise ValueError("identifier is not an object")
        kind, value = data.get("type"), data.get("value")
        if kind not in ("dns", "ip") or not isinstance(value, str):
            raise ValueError(f"unsupported identifier {data!r}")
        return cls(kind, value)

    def __str__(self) -> str:
        return self.value
