"""An account-only scripted CA on httpx.MockTransport: newAccount (with onlyReturnExisting) and
keyChange (RFC 8555 sections 7.3.1 and 7.3.5), accounts known by the JWK that signs for them.

Signatures are not verified (the client's JWS code has its own tests); what matters here is
which key the CA accepts for which account, as a real CA would see it after each request.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from support.scripted_acme import BASE, problem


def _b64d(text: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) or b"null")


def _thumb(jwk: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y", "n", "e")},
                      sort_keys=True)  # fmt: skip


class AccountCA:
    """Accounts by key; ``key_changes`` counts the rollovers the CA accepted."""

    def __init__(self) -> None:
        self.by_key: dict[str, str] = {}  # JWK thumbprint -> account URL
        self.key_changes = 0
        self._count = 0
        self.transport = httpx.MockTransport(self.handle)
        self.directory_url = f"{BASE}/dir"

    def url_of(self, jwk: dict[str, Any]) -> str | None:
        return self.by_key.get(_thumb(jwk))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self._count += 1
        response = self._route(request)
        response.headers["Replay-Nonce"] = f"n{self._count}"
        return response

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/dir":
            names = ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange")
            return httpx.Response(200, json={n: f"{BASE}/{n}" for n in names})
        if request.method == "HEAD":
            return httpx.Response(200)
        message = json.loads(request.content)
        protected, payload = _b64d(message["protected"]), _b64d(message["payload"])
        if path == "/newAccount":
            url = self.by_key.get(_thumb(protected["jwk"]))
            if url is None and payload.get("onlyReturnExisting"):
                return problem("accountDoesNotExist")
            created = url is None
            if url is None:
                url = f"{BASE}/acct/{len(self.by_key) + 1}"
                self.by_key[_thumb(protected["jwk"])] = url
            return httpx.Response(
                201 if created else 200,
                json={"status": "valid", "contact": []},
                headers={"Location": url},
            )
        if path == "/keyChange":
            inner = payload
            inner_protected, inner_payload = _b64d(inner["protected"]), _b64d(inner["payload"])
            old = _thumb(inner_payload["oldKey"])
            if (
                self.by_key.get(old) != protected["kid"]
                or inner_payload["account"] != protected["kid"]
            ):
                return problem("unauthorized", 403)
            del self.by_key[old]
            self.by_key[_thumb(inner_protected["jwk"])] = protected["kid"]
            self.key_changes += 1
            return httpx.Response(200)
        return problem("malformed")
