"""A small acme-dns API server on loopback whose DNS side is Pebble's challtestsrv.

It implements the documented acme-dns HTTP API (github.com/joohoi/acme-dns):

- ``POST /register`` -> 201 ``{"username", "password", "fulldomain", "subdomain",
  "allowfrom": []}``; ``fulldomain`` is ``<subdomain>.<zone>``.
- ``POST /update`` with ``X-Api-User`` / ``X-Api-Key`` and ``{"subdomain", "txt"}`` -> 200
  ``{"txt": ...}``; 401 ``{"error": "forbidden"}`` for unknown credentials or a subdomain of
  another account; 400 ``{"error": "bad_txt"}`` unless the value has 43 characters.

As acme-dns does, it keeps the two most recent values per subdomain. On every update it makes
challtestsrv serve exactly those values at ``fulldomain`` (``/clear-txt``, then ``/set-txt``
for each), so a CNAME ``_acme-challenge.NAME -> fulldomain`` (challtestsrv ``/set-cname``)
makes the CA see them.

    with FakeAcmeDns(challtest=pebble.challtest) as api:
        api.url, api.updates, api.values(subdomain)
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from support.fake_http_api import LoopbackApi, QuietHandler

Challtest = Callable[[str, dict[str, Any]], bytes]


@dataclass
class Account:
    username: str
    password: str
    subdomain: str
    fulldomain: str
    txt: list[str] = field(default_factory=list)  # oldest first, at most two


class FakeAcmeDns(LoopbackApi):
    """The acme-dns API on 127.0.0.1:<free port>; ``challtest`` posts to challtestsrv."""

    def __init__(self, challtest: Challtest, zone: str = "auth.acme-dns.test") -> None:
        self.challtest = challtest
        self.zone = zone
        self.accounts: dict[str, Account] = {}  # by username
        self.updates: list[tuple[str, str]] = []  # (subdomain, txt) accepted, in order
        self.refused: list[int] = []  # HTTP status of each refused request
        self._lock = threading.Lock()

    def values(self, subdomain: str) -> list[str]:
        """The values served for ``subdomain`` now (oldest first)."""
        with self._lock:
            for account in self.accounts.values():
                if account.subdomain == subdomain:
                    return list(account.txt)
        return []

    def register(self) -> dict[str, Any]:
        subdomain = str(uuid.uuid4())
        account = Account(
            username=str(uuid.uuid4()),
            password=secrets.token_urlsafe(30),
            subdomain=subdomain,
            fulldomain=f"{subdomain}.{self.zone}",
        )
        with self._lock:
            self.accounts[account.username] = account
        return {
            "username": account.username,
            "password": account.password,
            "fulldomain": account.fulldomain,
            "subdomain": account.subdomain,
            "allowfrom": [],
        }

    def update(self, user: str, key: str, body: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            account = self.accounts.get(user)
            if (
                account is None
                or not secrets.compare_digest(account.password, key)
                or not isinstance(body, dict)
                or body.get("subdomain") != account.subdomain
            ):
                return 401, {"error": "forbidden"}
            txt = body.get("txt")
            if not isinstance(txt, str) or len(txt) != 43:
                return 400, {"error": "bad_txt"}
            account.txt = [*account.txt, txt][-2:]
            served = list(account.txt)
            self.updates.append((account.subdomain, txt))
        host = account.fulldomain + "."
        self.challtest("/clear-txt", {"host": host})
        for value in served:
            self.challtest("/set-txt", {"host": host, "value": value})
        return 200, {"txt": txt}

    def handler(self) -> type[QuietHandler]:
        outer = self

        class Handler(QuietHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                if status >= 400:
                    outer.refused.append(status)
                self.reply(status, "application/json", json.dumps(body).encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.path == "/register":
                    self._answer(201, outer.register())
                elif self.path == "/update":
                    try:
                        body = json.loads(raw or b"null")
                    except ValueError:
                        self._answer(400, {"error": "malformed_json_payload"})
                        return
                    user = self.headers.get("X-Api-User", "")
                    key = self.headers.get("X-Api-Key", "")
                    self._answer(*outer.update(user, key, body))
                else:
                    self._answer(404, {"error": "not_found"})

        return Handler
