"""A small DuckDNS update API on loopback whose DNS side is Pebble's challtestsrv.

``GET /update?domains=<sub>&token=<t>&txt=<v>[&clear=true]`` answers ``OK`` (and makes
challtestsrv serve exactly ``<v>`` at ``_acme-challenge.<sub>.duckdns.org``, or nothing after
``clear=true``) or ``KO`` for a wrong token or a subdomain the token does not own. DuckDNS holds
one TXT value per subdomain, so a new value replaces the old one.

    with FakeDuckDns(challtest=pebble.challtest, tokens={"foo": "secret"}) as api:
        api.url, api.requests, api.txt
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.fake_http_api import LoopbackApi, QuietHandler

Challtest = Callable[[str, dict[str, Any]], bytes]


@dataclass(frozen=True)
class Request:
    """One /update call as seen: the subdomain, whether it cleared, what it answered."""

    subdomain: str
    clear: bool
    answer: str


class FakeDuckDns(LoopbackApi):
    """The DuckDNS update API on 127.0.0.1:<free port>; ``tokens`` maps subdomain -> token."""

    def __init__(self, challtest: Challtest, tokens: Mapping[str, str]) -> None:
        self.challtest = challtest
        self.tokens = dict(tokens)
        self.txt: dict[str, str] = {}  # subdomain -> the value served now
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def update(self, query: Mapping[str, list[str]]) -> str:
        subdomain = (query.get("domains") or [""])[0].lower().removesuffix(".duckdns.org")
        token = (query.get("token") or [""])[0]
        txt = (query.get("txt") or [""])[0]
        clear = (query.get("clear") or ["false"])[0].lower() == "true"
        good = bool(subdomain) and self.tokens.get(subdomain) == token and (clear or bool(txt))
        answer = "OK" if good else "KO"
        with self._lock:
            self.requests.append(Request(subdomain, clear, answer))
            if good:
                if clear:
                    self.txt.pop(subdomain, None)
                else:
                    self.txt[subdomain] = txt
        if good:
            host = f"_acme-challenge.{subdomain}.duckdns.org."
            self.challtest("/clear-txt", {"host": host})
            if not clear:
                self.challtest("/set-txt", {"host": host, "value": txt})
        return answer

    def handler(self) -> type[QuietHandler]:
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/update":
                    status, body = 200, outer.update(parse_qs(parts.query)).encode()
                else:
                    status, body = 404, b"not found"
                self.reply(status, "text/plain", body)

        return Handler
