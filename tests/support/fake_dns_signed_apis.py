"""Fake DNS hosting APIs whose authentication is a signature: OVH (SHA1 of the secrets), Google
Cloud DNS (an RS256 JWT exchanged for a token), Route 53 (SigV4, recomputed from AWS's
documentation). The shared parts (``ZoneStore``, serving) are in ``fake_dns_apis``.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import parse_qsl, quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from support.fake_dns_apis import ApiReply, ApiRequest, ZoneStore, reply

# --- OVH -----------------------------------------------------------------------------------


class FakeOvh:
    PREFIX = "/1.0"

    def __init__(self, store: ZoneStore, app_key: str, app_secret: str, consumer: str) -> None:
        self.store, self.app_key, self.app_secret, self.consumer = (
            store,
            app_key,
            app_secret,
            consumer,
        )
        self.now = 1_700_000_000  # OVH's clock, unrelated to ours
        self.refreshes = 0

    def _signed(self, r: ApiRequest) -> bool:
        h = r.headers
        text = "+".join(
            [
                self.app_secret,
                self.consumer,
                r.method,
                r.url,
                r.body.decode(),
                h.get("x-ovh-timestamp", ""),
            ]
        )
        expected = "$1$" + hashlib.sha1(text.encode()).hexdigest()
        return (
            h.get("x-ovh-application") == self.app_key
            and h.get("x-ovh-consumer") == self.consumer
            and hmac.compare_digest(h.get("x-ovh-signature", ""), expected)
            and abs(int(h.get("x-ovh-timestamp", "0")) - self.now) < 30
        )

    def handle(self, r: ApiRequest) -> ApiReply:
        path = r.path.removeprefix(self.PREFIX)
        if path == "/auth/time":
            return reply(200, self.now)
        if not self._signed(r):
            return reply(403, {"errorCode": "INVALID_SIGNATURE", "message": "Invalid signature"})
        self.store.calls.append(f"{r.method} {path}")
        m = re.fullmatch(r"/domain/zone/([^/]+)(/record(?:/(\d+))?|/refresh)?", path)
        if not m or m.group(1) not in self.store.zones:
            return reply(404, {"message": "This service does not exist"})
        zone, rest = m.group(1), m.group(2) or ""
        if not rest:
            return reply(200, {"name": zone})
        if rest == "/refresh":
            self.refreshes += 1
            return reply(200, None)
        if r.method == "GET" and not m.group(3):
            sub = r.params.get("subDomain", "")
            fqdn = f"{sub}.{zone}" if sub else zone
            return reply(200, [x.id for x in self.store.in_zone(zone) if x.fqdn == fqdn])
        if r.method == "GET":
            found = [x for x in self.store.records if x.id == int(m.group(3))]
            if not found:
                return reply(404, {"message": "not found"})
            x = found[0]
            return reply(
                200,
                {
                    "id": x.id,
                    "zone": zone,
                    "fieldType": "TXT",
                    "ttl": 60,
                    "subDomain": x.fqdn.removesuffix("." + zone),
                    "target": x.value,
                },
            )
        if r.method == "POST":
            body = r.json()
            fqdn = f"{body['subDomain']}.{zone}" if body["subDomain"] else zone
            return reply(200, {"id": self.store.add(fqdn, body["target"]).id})
        if r.method == "DELETE":
            return reply(200 if self.store.delete(int(m.group(3))) else 404, None)
        return reply(405, {"message": "no"})


# --- Google Cloud DNS ----------------------------------------------------------------------


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class FakeGoogle:
    """/token (JWT bearer grant) and /dns/v1/projects/<p>/managedZones..."""

    def __init__(self, store: ZoneStore, project: str, email: str, key: rsa.RSAPublicKey) -> None:
        self.store, self.project, self.email, self.public_key = store, project, email, key
        self.token_uri = ""  # set by the test: the URL the key file names
        self.tokens: set[str] = set()
        self.changes = 0

    def _token(self, r: ApiRequest) -> ApiReply:
        form = r.params if r.method == "GET" else dict(parse_qsl(r.body.decode()))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return reply(400, {"error": "unsupported_grant_type"})
        head, claims, sig = form.get("assertion", "..").split(".")
        try:
            self.public_key.verify(
                _unb64(sig), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return reply(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        c = json.loads(_unb64(claims))
        if (
            json.loads(_unb64(head)).get("alg") != "RS256"
            or c.get("iss") != self.email
            or (
                c.get("aud") != self.token_uri
                or "ndev.clouddns.readwrite" not in c.get("scope", "")
            )
        ):
            return reply(400, {"error": "invalid_grant", "error_description": "bad claims"})
        token = f"ya29.{len(self.tokens)}-{hashlib.sha256(sig.encode()).hexdigest()[:16]}"
        self.tokens.add(token)
        return reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def handle(self, r: ApiRequest) -> ApiReply:
        if r.path == "/token":
            return self._token(r)
        if r.headers.get("authorization", "").removeprefix("Bearer ") not in self.tokens:
            return reply(401, {"error": {"code": 401, "message": "Invalid Credentials"}})
        prefix = f"/dns/v1/projects/{self.project}"
        if not r.path.startswith(prefix):
            return reply(403, {"error": {"code": 403, "message": "Forbidden project"}})
        path = r.path.removeprefix(prefix)
        self.store.calls.append(f"{r.method} {path}")
        names = {z.replace(".", "-"): z for z in self.store.zones}
        if path == "/managedZones":
            dns_name = r.params.get("dnsName", "").rstrip(".")
            zones = [
                {"name": n, "dnsName": z + ".", "visibility": "public"}
                for n, z in names.items()
                if z == dns_name
            ]
            return reply(200, {"managedZones": zones})
        m = re.fullmatch(r"/managedZones/([^/]+)/(rrsets|changes)(?:/(\d+))?", path)
        if not m or m.group(1) not in names:
            return reply(404, {"error": {"code": 404, "message": "not found"}})
        zone = names[m.group(1)]
        if m.group(2) == "rrsets":
            fqdn = r.params.get("name", "").rstrip(".")
            values = self.store.values(fqdn)
            rrsets = (
                [
                    {
                        "name": fqdn + ".",
                        "type": "TXT",
                        "ttl": 60,
                        "rrdatas": [f'"{v}"' for v in values],
                    }
                ]
                if values
                else []
            )
            return reply(200, {"rrsets": rrsets})
        if m.group(3):
            return reply(200, {"id": m.group(3), "status": "done"})
        body = r.json()
        for old in body.get("deletions", []):
            current = [f'"{v}"' for v in self.store.values(old["name"])]
            if current != old["rrdatas"]:
                return reply(412, {"error": {"code": 412, "message": "deletion does not match"}})
        for rrset in body.get("deletions", []) + body.get("additions", []):
            assert self.store.zone_of(rrset["name"]) == zone
        touched = {x["name"] for x in body.get("deletions", []) + body.get("additions", [])}
        for name in touched:
            added = [a for a in body.get("additions", []) if a["name"] == name]
            values = [v.strip('"') for a in added for v in a["rrdatas"]]
            self.store.set_values(name, values)
        self.changes += 1
        return reply(200, {"id": str(self.changes), "status": "pending"})


# --- Route 53 --------------------------------------------------------------------------------

R53 = "https://route53.amazonaws.com/doc/2013-04-01/"


def sigv4_expected(r: ApiRequest, secret: str, signed: list[str], scope: str, amz_date: str) -> str:
    """The signature AWS computes for ``r`` (written from the SigV4 documentation)."""
    q = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, v in parse_qsl(r.query, keep_blank_values=True)
    )
    canon = "\n".join(
        [
            r.method,
            quote(r.path, safe="/-_.~"),
            "&".join(f"{k}={v}" for k, v in q),
            "".join(f"{h}:{' '.join(r.headers.get(h, '').split())}\n" for h in signed),
            ";".join(signed),
            hashlib.sha256(r.body).hexdigest(),
        ]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeRoute53:
    """ListHostedZones, ListResourceRecordSets, ChangeResourceRecordSets, GetChange."""

    def __init__(
        self, store: ZoneStore, key_id: str, secret: str, token: str | None = None
    ) -> None:
        self.store, self.key_id, self.secret, self.token = store, key_id, secret, token
        self.now: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
        self.changes: dict[str, int] = {}  # change id -> GetChange calls seen
        self.pending_polls = 1  # GetChange answers PENDING this many times first

    def _error(self, status: int, code: str, message: str) -> ApiReply:
        body = (
            f'<ErrorResponse xmlns="{R53}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></ErrorResponse>"
        )
        return ApiReply(status, body.encode(), "text/xml")

    def _check_signature(self, r: ApiRequest) -> str | None:
        auth = r.headers.get("authorization", "")
        m = re.fullmatch(
            r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8}/[^/]+/[^/]+/aws4_request), "
            r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
            auth,
        )
        if not m:
            return "no SigV4 Authorization header"
        key_id, scope, signed, signature = m.groups()
        if key_id != self.key_id:
            return "The security token included in the request is invalid."
        date, region, service, _ = scope.split("/")
        amz_date = r.headers.get("x-amz-date", "")
        if (region, service) != ("us-east-1", "route53") or not amz_date.startswith(date):
            return "Credential should be scoped to a valid region and service"
        sent = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        if abs((self.now() - sent).total_seconds()) > 300:
            return "Signature expired"
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            return "host and x-amz-date must be signed"
        if self.token is not None and (
            r.headers.get("x-amz-security-token") != self.token
            or "x-amz-security-token" not in names
        ):
            return "The security token included in the request is invalid."
        expected = sigv4_expected(r, self.secret, names, scope, amz_date)
        if not hmac.compare_digest(expected, signature):
            return "The request signature we calculated does not match the signature you provided."
        return None

    def handle(self, r: ApiRequest) -> ApiReply:
        problem = self._check_signature(r)
        if problem:
            return self._error(403, "SignatureDoesNotMatch", problem)
        self.store.calls.append(f"{r.method} {r.path}")
        ids = {f"Z{i:04d}": z for i, z in enumerate(self.store.zones)}
        if r.path == "/2013-04-01/hostedzone":
            zones = "".join(
                f"<HostedZone><Id>/hostedzone/{i}</Id><Name>{z}.</Name><Config>"
                "<PrivateZone>false</PrivateZone></Config></HostedZone>"
                for i, z in ids.items()
            )
            body = (
                f'<ListHostedZonesResponse xmlns="{R53}"><HostedZones>{zones}</HostedZones>'
                "<IsTruncated>false</IsTruncated><MaxItems>100</MaxItems>"
                "</ListHostedZonesResponse>"
            )
            return ApiReply(200, body.encode(), "text/xml")
        m = re.fullmatch(r"/2013-04-01/(?:hostedzone/(\w+)/rrset/?|change/(\w+))", r.path)
        if not m:
            return self._error(404, "NoSuchHostedZone", "no such path")
        if m.group(2):
            seen = self.changes.get(m.group(2), 0)
            self.changes[m.group(2)] = seen + 1
            status = "PENDING" if seen < self.pending_polls else "INSYNC"
            body = (
                f'<GetChangeResponse xmlns="{R53}"><ChangeInfo><Id>/change/{m.group(2)}</Id>'
                f"<Status>{status}</Status></ChangeInfo></GetChangeResponse>"
            )
            return ApiReply(200, body.encode(), "text/xml")
        if m.group(1) not in ids:
            return self._error(404, "NoSuchHostedZone", "no such zone")
        if r.method == "GET":
            name = r.params.get("name", "").rstrip(".")
            values = self.store.values(name)
            sets = ""
            if values:
                recs = "".join(
                    f"<ResourceRecord><Value>&quot;{v}&quot;</Value></ResourceRecord>"
                    for v in values
                )
                sets = (
                    f"<ResourceRecordSet><Name>{name}.</Name><Type>TXT</Type><TTL>10</TTL>"
                    f"<ResourceRecords>{recs}</ResourceRecords></ResourceRecordSet>"
                )
            body = (
                f'<ListResourceRecordSetsResponse xmlns="{R53}"><ResourceRecordSets>{sets}'
                "</ResourceRecordSets><IsTruncated>false</IsTruncated><MaxItems>1</MaxItems>"
                "</ListResourceRecordSetsResponse>"
            )
            return ApiReply(200, body.encode(), "text/xml")
        root = ET.fromstring(r.body)
        ns = {"r": R53}
        for change in root.iterfind(".//r:Change", ns):
            action = change.findtext("r:Action", "", ns)
            name = change.findtext("r:ResourceRecordSet/r:Name", "", ns).rstrip(".")
            values = [v.text.strip('"') for v in change.iterfind(".//r:Value", ns) if v.text]
            if action == "DELETE" and self.store.values(name) != values:
                return self._error(400, "InvalidChangeBatch", "Tried to delete a set not found")
            self.store.set_values(name, [] if action == "DELETE" else values)
        change_id = f"C{len(self.changes) + 1:04d}"
        self.changes[change_id] = 0
        body = (
            f'<ChangeResourceRecordSetsResponse xmlns="{R53}"><ChangeInfo><Id>/change/'
            f"{change_id}</Id><Status>PENDING</Status></ChangeInfo>"
            "</ChangeResourceRecordSetsResponse>"
        )
        return ApiReply(200, body.encode(), "text/xml")
