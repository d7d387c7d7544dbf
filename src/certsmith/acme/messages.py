"""Wire messages of RFC 8555 section 7.1 (and RFC 9773 renewalInfo), as frozen dataclasses.

``from_json`` accepts what a CA sends and raises ``ProtocolViolation`` when a required member is
missing or has the wrong type; unknown members are ignored (section 7.1 allows extensions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from certsmith.acme.errors import ProblemError, ProtocolViolation, problem_from_json
from certsmith.acme.identifier import Identifier


class AccountStatus(StrEnum):
    VALID = "valid"
    DEACTIVATED = "deactivated"
    REVOKED = "revoked"


class OrderStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"


class AuthorizationStatus(StrEnum):
    PENDING = "pending"
    VALID = "valid"
    INVALID = "invalid"
    DEACTIVATED = "deactivated"
    EXPIRED = "expired"
    REVOKED = "revoked"


class ChallengeStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    VALID = "valid"
    INVALID = "invalid"


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolViolation(f"{what} is not a JSON object")
    return data


def _str(data: dict[str, Any], key: str, what: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ProtocolViolation(f"{what}: member {key!r} is missing or not a string")
    return value


def _req(data: dict[str, Any], key: str, what: str) -> str:
    value = _str(data, key, what)
    assert value is not None
    return value


# More entries than any CA allows in one order (Let's Encrypt: 100 names); each authorization
# can cost a request, so a hostile list must not turn into thousands of them.
MAX_LIST_ITEMS = 1000


def _list(data: dict[str, Any], key: str, what: str, default: Any = None) -> list[Any]:
    value = data.get(key, default)
    if not isinstance(value, list):
        raise ProtocolViolation(f"{what}: member {key!r} is not a list")
    if len(value) > MAX_LIST_ITEMS:
        raise ProtocolViolation(f"{what}: member {key!r} has too many entries ({len(value)})")
    return value


def _str_list(data: dict[str, Any], key: str, what: str) -> tuple[str, ...]:
    value = _list(data, key, what, [])
    if not all(isinstance(v, str) for v in value):
        raise ProtocolViolation(f"{what}: member {key!r} is not a list of strings")
    return tuple(value)


def _time(data: dict[str, Any], key: str, what: str) -> datetime | None:
    raw = _str(data, key, what, required=False)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ProtocolViolation(f"{what}: {key!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise ProtocolViolation(f"{what}: {key!r} has no time zone")
    return parsed


def _status(enum: type[Any], data: dict[str, Any], what: str) -> Any:
    raw = _req(data, "status", what)
    try:
        return enum(raw)
    except ValueError:
        raise ProtocolViolation(f"{what}: unknown status {raw!r}") from None


def _problem(data: dict[str, Any]) -> ProblemError | None:
    raw = data.get("error")
    return problem_from_json(raw) if raw is not None else None


def _identifier(raw: Any, what: str) -> Identifier:
    try:
        return Identifier.from_json(raw)
    except ValueError as exc:
        raise ProtocolViolation(f"{what}: {exc}") from None


@dataclass(frozen=True)
class DirectoryMeta:
    terms_of_service: str | None = None
    website: str | None = None
    caa_identities: tuple[str, ...] = ()
    external_account_required: bool = False
    profiles: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Directory:
    """RFC 8555 section 7.1.1; ``renewal_info`` is RFC 9773's endpoint when the CA has ARI."""

    new_nonce: str
    new_account: str
    new_order: str
    revoke_cert: str
    key_change: str
    new_authz: str | None = None
    renewal_info: str | None = None
    meta: DirectoryMeta = field(default_factory=DirectoryMeta)

    @classmethod
    def from_json(cls, raw: Any) -> Directory:
        what = "directory"
        data = _object(raw, what)
        meta = _object(data.get("meta", {}), "directory meta")
        profiles = meta.get("profiles", {})
        if not isinstance(profiles, dict):
            raise ProtocolViolation("directory meta: 'profiles' is not an object")
        return cls(
            new_nonce=_req(data, "newNonce", what),
            new_account=_req(data, "newAccount", what),
            new_order=_req(data, "newOrder", what),
            revoke_cert=_req(data, "revokeCert", what),
            key_change=_req(data, "keyChange", what),
            new_authz=_str(data, "newAuthz", what, required=False),
            renewal_info=_str(data, "renewalInfo", what, required=False),
            meta=DirectoryMeta(
                terms_of_service=_str(meta, "termsOfService", what, required=False),
                website=_str(meta, "website", what, required=False),
                caa_identities=_str_list(meta, "caaIdentities", what),
                external_account_required=meta.get("externalAccountRequired") is True,
                profiles={str(k): str(v) for k, v in profiles.items()},
            ),
        )


@dataclass(frozen=True)
class Account:
    """RFC 8555 section 7.1.2."""

    url: str
    status: AccountStatus
    contact: tuple[str, ...] = ()
    orders: str | None = None
    terms_of_service_agreed: bool | None = None

    @classmethod
    def from_json(cls, raw: Any, url: str) -> Account:
        what = "account"
        data = _object(raw, what)
        agreed = data.get("termsOfServiceAgreed")
        return cls(
            url=url,
            status=_status(AccountStatus, data, what),
            contact=_str_list(data, "contact", what),
            orders=_str(data, "orders", what, required=False),
            terms_of_service_agreed=agreed if isinstance(agreed, bool) else None,
        )


@dataclass(frozen=True)
class Order:
    """RFC 8555 section 7.1.3 (``profile``: draft-ietf-acme-profiles; ``replaces``: RFC 9773)."""

    url: str
    status: OrderStatus
    identifiers: tuple[Identifier, ...]
    authorizations: tuple[str, ...]
    finalize: str
    expires: datetime | None = None
    certificate: str | None = None
    error: ProblemError | None = None
    profile: str | None = None
    replaces: str | None = None

    @classmethod
    def from_json(cls, raw: Any, url: str) -> Order:
        what = "order"
        data = _object(raw, what)
        idents = _list(data, "identifiers", what)
        return cls(
            url=url,
            status=_status(OrderStatus, data, what),
            identifiers=tuple(_identifier(i, what) for i in idents),
            authorizations=_str_list(data, "authorizations", what),
            finalize=_req(data, "finalize", what),
            expires=_time(data, "expires", what),
            certificate=_str(data, "certificate", what, required=False),
            error=_problem(data),
            profile=_str(data, "profile", what, required=False),
            replaces=_str(data, "replaces", what, required=False),
        )


@dataclass(frozen=True)
class Challenge:
    """RFC 8555 section 7.1.5 / 8. ``token`` is untrusted until `key_authorization` checks it."""

    type: str
    url: str
    status: ChallengeStatus
    token: str | None = None
    validated: datetime | None = None
    error: ProblemError | None = None
    # dns-persist-01 (draft-ietf-acme-dns-persist): the CA's names for the TXT record's issuer.
    issuer_domain_names: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, raw: Any) -> Challenge:
        what = "challenge"
        data = _object(raw, what)
        return cls(
            type=_req(data, "type", what),
            url=_req(data, "url", what),
            status=_status(ChallengeStatus, data, what),
            token=_str(data, "token", what, required=False),
            validated=_time(data, "validated", what),
            error=_problem(data),
            issuer_domain_names=_str_list(data, "issuer-domain-names", what),
        )


@dataclass(frozen=True)
class Authorization:
    """RFC 8555 section 7.1.4."""

    url: str
    identifier: Identifier
    status: AuthorizationStatus
    challenges: tuple[Challenge, ...]
    expires: datetime | None = None
    wildcard: bool = False

    @classmethod
    def from_json(cls, raw: Any, url: str) -> Authorization:
        what = "authorization"
        data = _object(raw, what)
        challenges = _list(data, "challenges", what)
        return cls(
            url=url,
            identifier=_identifier(data.get("identifier"), what),
            status=_status(AuthorizationStatus, data, what),
            challenges=tuple(Challenge.from_json(c) for c in challenges),
            expires=_time(data, "expires", what),
            wildcard=data.get("wildcard") is True,
        )

    def challenge(self, kind: str) -> Challenge | None:
        """The first challenge of this type, if the CA offered one."""
        return next((c for c in self.challenges if c.type == kind), None)

    @property
    def failure(self) -> ProblemError | None:
        """The error of the challenge that made this authorization invalid, if any."""
        return next((c.error for c in self.challenges if c.error is not None), None)


@dataclass(frozen=True)
class RenewalInfo:
    """RFC 9773 section 4.2. ``retry_after`` is seconds until the CA wants to be asked again."""

    window_start: datetime
    window_end: datetime
    explanation_url: str | None = None
    retry_after: float | None = None

    @classmethod
    def from_json(cls, raw: Any, retry_after: float | None = None) -> RenewalInfo:
        what = "renewalInfo"
        data = _object(raw, what)
        window = _object(data.get("suggestedWindow"), "renewalInfo suggestedWindow")
        start, end = _time(window, "start", what), _time(window, "end", what)
        if start is None or end is None or end < start:
            raise ProtocolViolation("renewalInfo: suggestedWindow needs start <= end")
        return cls(start, end, _str(data, "explanationURL", what, required=False), retry_after)


@dataclass(frozen=True)
class CertificateChain:
    """A downloaded chain: ``pem`` is leaf first; ``alternates`` the other chains offered."""

    pem: str
    alternates: tuple[str, ...] = ()
