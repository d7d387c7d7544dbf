"""Fake DNS hosting APIs (Cloudflare, DigitalOcean, Linode here; OVH, Google Cloud DNS and
Route 53 in ``fake_dns_signed_apis``).

Each speaks the provider's documented HTTP API over one shared ``ZoneStore`` and checks the
authentication as the provider does (bearer token / API key headers, a recomputed SigV4
signature, an RS256 JWT exchanged for a token, OVH's SHA1 signature). Written records are
handed to ``publish(fqdn, values)``, which the Pebble tests point at challtestsrv.

A fake is a ``handle(ApiRequest) -> ApiReply`` object; serve it on loopback with
``serve(fake)`` (a ``LoopbackApi``) or in-process with ``transport(fake)``
(an ``httpx.MockTransport``).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from support.fake_http_api import LoopbackApi, QuietHandler

Publish = Callable[[str, list[str]], None]


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: str  # raw, as sent
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    url: str  # as the client addressed it

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class ApiReply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"


def reply(status: int, data: Any) -> ApiReply:
    return ApiReply(status, json.dumps(data).encode())


@dataclass
class Record:
    id: int
    fqdn: str
    value: str


@dataclass
class ZoneStore:
    """The zones of one account and their TXT records; ``publish`` sees every change."""

    zones: list[str]
    publish: Publish = lambda fqdn, values: None
    records: list[Record] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # "METHOD path" of every accepted call
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def zone_of(self, fqdn: str) -> str | None:
        fqdn = fqdn.rstrip(".").lower()
        matches = [z for z in self.zones if fqdn == z or fqdn.endswith("." + z)]
        return max(matches, key=len) if matches else None

    def values(self, fqdn: str) -> list[str]:
        fqdn = fqdn.rstrip(".").lower()
        return [r.value for r in self.records if r.fqdn == fqdn]

    def add(self, fqdn: str, value: str) -> Record:
        fqdn = fqdn.rstrip(".").lower()
        assert self.zone_of(fqdn), f"{fqdn} is in no zone of this account"
        with self._lock:
            record = Record(next(self._ids), fqdn, value)
            self.records.append(record)
        self.publish(fqdn, self.values(fqdn))
        return record

    def delete(self, record_id: int) -> bool:
        with self._lock:
            found = [r for r in self.records if r.id == record_id]
            self.records[:] = [r for r in self.records if r.id != record_id]
        for record in found:
            self.publish(record.fqdn, self.values(record.fqdn))
        return bool(found)

    def set_values(self, fqdn: str, values: list[str]) -> None:
        fqdn = fqdn.rstrip(".").lower()
        for record in [r for r in self.records if r.fqdn == fqdn]:
            self.delete(record.id)
        for value in values:
            self.add(fqdn, value)
        if not values:
            self.publish(fqdn, [])

    def in_zone(self, zone: str) -> list[Record]:
        return [r for r in self.records if self.zone_of(r.fqdn) == zone]


def challtest_publisher(challtest: Callable[[str, dict[str, Any]], bytes]) -> Publish:
    """Makes challtestsrv serve exactly ``values`` at ``fqdn``."""

    def publish(fqdn: str, values: list[str]) -> None:
        challtest("/clear-txt", {"host": fqdn + "."})
        for value in values:
            challtest("/set-txt", {"host": fqdn + ".", "value": value})

    return publish


# --- serving ---------------------------------------------------------------------------------


class FakeApi(LoopbackApi):
    def __init__(self, fake: Any) -> None:
        self.fake = fake

    def handler(self) -> type[QuietHandler]:
        fake = self.fake

        class Handler(QuietHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = f"http://{headers.get('host', '')}{self.path}"
                request = ApiRequest(self.command, parts.path, parts.query, headers, body, url)
                answer = fake.handle(request)
                self.reply(answer.status, answer.content_type, answer.body)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _any

        return Handler


def serve(fake: Any) -> FakeApi:
    return FakeApi(fake)


def transport(fake: Any) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = request.url.query.decode()
        api = ApiRequest(
            request.method, request.url.path, query, headers, request.content, str(request.url)
        )
        answer = fake.handle(api)
        return httpx.Response(
            answer.status, content=answer.body, headers={"Content-Type": answer.content_type}
        )

    return httpx.MockTransport(handle)


# --- Cloudflare ----------------------------------------------------------------------------


class FakeCloudflare:
    """API v4 under /client/v4: zones list, dns_records list/create/delete."""

    PREFIX = "/client/v4"

    def __init__(self, store: ZoneStore, token: str = "", email: str = "", key: str = "") -> None:
        self.store, self.token, self.email, self.key = store, token, email, key

    def _authorised(self, h: Mapping[str, str]) -> bool:
        if self.token and h.get("authorization") == f"Bearer {self.token}":
            return True
        return bool(self.key) and (h.get("x-auth-email"), h.get("x-auth-key")) == (
            self.email,
            self.key,
        )

    @staticmethod
    def _list(items: list[dict[str, Any]], page: str = "1") -> ApiReply:
        total = len(items)
        items = items if page == "1" else []  # one page: later pages are empty, as Cloudflare's
        info = {
            "page": int(page),
            "per_page": 100,
            "count": len(items),
            "total_count": total,
            "total_pages": 1,
        }
        return reply(
            200,
            {"success": True, "errors": [], "messages": [], "result": items, "result_info": info},
        )

    def handle(self, r: ApiRequest) -> ApiReply:
        if not self._authorised(r.headers):
            return reply(
                403,
                {
                    "success": False,
                    "errors": [{"code": 10000, "message": "Authentication error"}],
                    "messages": [],
                    "result": None,
                },
            )
        path = r.path.removeprefix(self.PREFIX)
        self.store.calls.append(f"{r.method} {path}")
        zone_ids = {f"z{i}": z for i, z in enumerate(self.store.zones)}
        if r.method == "GET" and path == "/zones":
            name = r.params.get("name", "")
            zones = [{"id": i, "name": z} for i, z in zone_ids.items() if z == name]
            return self._list(zones, r.params.get("page", "1"))
        m = re.fullmatch(r"/zones/(\w+)/dns_records(?:/(\d+))?", path)
        if not m or m.group(1) not in zone_ids:
            return reply(
                404,
                {
                    "success": False,
                    "errors": [{"code": 7003, "message": "Could not route"}],
                    "result": None,
                },
            )
        zone = zone_ids[m.group(1)]

        def item(rec: Record) -> dict[str, Any]:
            return {
                "id": str(rec.id),
                "type": "TXT",
                "name": rec.fqdn,
                "content": rec.value,
                "ttl": 120,
                "zone_id": m.group(1),
                "zone_name": zone,
            }

        if r.method == "GET" and not m.group(2):
            # `name` means `name.exact` (the documented filters certbot's SDK sends).
            p = r.params
            name, content = p.get("name.exact", p.get("name", "")), p.get("content.exact")
            found = [rec for rec in self.store.in_zone(zone) if rec.fqdn == name]
            matching = [item(x) for x in found if content in (None, x.value)]
            return self._list(matching, r.params.get("page", "1"))
        if r.method == "POST" and not m.group(2):
            body = r.json()
            assert body["type"] == "TXT", body
            return reply(
                200,
                {
                    "success": True,
                    "errors": [],
                    "messages": [],
                    "result": item(self.store.add(body["name"], body["content"])),
                },
            )
        if r.method == "DELETE" and m.group(2):
            self.store.delete(int(m.group(2)))
            return reply(
                200, {"success": True, "errors": [], "messages": [], "result": {"id": m.group(2)}}
            )
        return reply(405, {"success": False, "errors": [{"code": 1, "message": "no"}]})


# --- DigitalOcean --------------------------------------------------------------------------


class FakeDigitalOcean:
    PREFIX = "/v2"

    def __init__(self, store: ZoneStore, token: str) -> None:
        self.store, self.token = store, token

    def handle(self, r: ApiRequest) -> ApiReply:
        if r.headers.get("authorization") != f"Bearer {self.token}":
            return reply(401, {"id": "Unauthorized", "message": "Unable to authenticate you"})
        path = r.path.removeprefix(self.PREFIX)
        self.store.calls.append(f"{r.method} {path}")
        m = re.fullmatch(r"/domains/([^/]+)(/records(?:/(\d+))?)?", path)
        if not m or m.group(1) not in self.store.zones:
            return reply(404, {"id": "not_found", "message": "not found"})
        zone = m.group(1)

        def item(rec: Record) -> dict[str, Any]:
            name = rec.fqdn.removesuffix("." + zone) if rec.fqdn != zone else "@"
            return {"id": rec.id, "type": "TXT", "name": name, "data": rec.value, "ttl": 30}

        if not m.group(2):
            return reply(200, {"domain": {"name": zone, "ttl": 1800}})
        if r.method == "GET":
            name = r.params.get("name")
            found = [x for x in self.store.in_zone(zone) if name in (None, x.fqdn)]
            return reply(200, {"domain_records": [item(x) for x in found], "meta": {"total": 1}})
        if r.method == "POST":
            body = r.json()
            fqdn = zone if body["name"] == "@" else f"{body['name']}.{zone}"
            return reply(201, {"domain_record": item(self.store.add(fqdn, body["data"]))})
        if r.method == "DELETE" and m.group(3):
            found = self.store.delete(int(m.group(3)))
            return ApiReply(204) if found else reply(404, {"id": "not_found", "message": "x"})
        return reply(405, {"id": "method_not_allowed", "message": "no"})


# --- Linode --------------------------------------------------------------------------------


class FakeLinode:
    PREFIX = "/v4"

    def __init__(self, store: ZoneStore, token: str) -> None:
        self.store, self.token = store, token

    def handle(self, r: ApiRequest) -> ApiReply:
        if r.headers.get("authorization") != f"Bearer {self.token}":
            return reply(401, {"errors": [{"reason": "Invalid Token"}]})
        path = r.path.removeprefix(self.PREFIX)
        self.store.calls.append(f"{r.method} {path}")
        ids = {100 + i: z for i, z in enumerate(self.store.zones)}
        if r.method == "GET" and path == "/domains":
            wanted = json.loads(r.headers.get("x-filter", "{}")).get("domain")
            data = [{"id": i, "domain": z} for i, z in ids.items() if wanted in (None, z)]
            return reply(200, {"data": data, "page": 1, "pages": 1, "results": len(data)})
        m = re.fullmatch(r"/domains/(\d+)/records(?:/(\d+))?", path)
        if not m or int(m.group(1)) not in ids:
            return reply(404, {"errors": [{"reason": "Not found"}]})
        zone = ids[int(m.group(1))]

        def item(rec: Record) -> dict[str, Any]:
            name = rec.fqdn.removesuffix("." + zone) if rec.fqdn != zone else ""
            return {"id": rec.id, "type": "TXT", "name": name, "target": rec.value}

        if r.method == "GET":
            data = [item(x) for x in self.store.in_zone(zone)]
            return reply(200, {"data": data, "page": 1, "pages": 1, "results": len(data)})
        if r.method == "POST":
            body = r.json()
            fqdn = f"{body['name']}.{zone}" if body["name"] else zone
            return reply(200, item(self.store.add(fqdn, body["target"])))
        if r.method == "DELETE" and m.group(2):
            return reply(200 if self.store.delete(int(m.group(2))) else 404, {})
        return reply(405, {"errors": [{"reason": "no"}]})
