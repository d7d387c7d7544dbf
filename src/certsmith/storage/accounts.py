"""ACME accounts in certbot's layout::

    accounts/<netloc + path of the directory URL>/<account id>/
        private_key.json   the account key as a JWK with its private parts (0400)
        rollover_key.json  only while a key rollover is in flight: the new key (0400)
        regr.json          {"body": {...}, "uri": "<account URL>"}
        meta.json          {"creation_dt": "<RFC 3339>", "creation_host": "<host>"}

The account id is certbot's: the MD5 hex digest of the public key's SubjectPublicKeyInfo PEM, so
certbot and certsmith find the same account under the same id.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import logging
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from certsmith.errors import StorageError
from certsmith.storage.files import atomic_write, create_private_file, ensure_dir, fsync_dir
from certsmith.wording import said

if TYPE_CHECKING:  # `cryptography` is imported when a key is used, not by `renew`'s fast path
    from certsmith.crypto import PrivateKey

logger = logging.getLogger(__name__)

ACCOUNT_KEY_MODE = 0o400
PENDING_KEY_FILE = "rollover_key.json"
_CRV_BY_CURVE = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_CURVE_NAME_BY_CRV = {crv: curve for curve, crv in _CRV_BY_CURVE.items()}
# certbot reuses accounts of Let's Encrypt's ACME v1 endpoints for v2 (constants.LE_REUSE_SERVERS).
_REUSED_SERVERS = {
    "acme-v02.api.letsencrypt.org/directory": "acme-v01.api.letsencrypt.org/directory",
    "acme-staging-v02.api.letsencrypt.org/directory": "acme-staging.api.letsencrypt.org/directory",
}


# --- JWK ------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def _uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64(value.to_bytes(size, "big"))


def private_jwk(key: PrivateKey) -> dict[str, str]:
    """The RFC 7518 JWK of ``key`` with its private members, as certbot (josepy) stores it."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    if isinstance(key, rsa.RSAPrivateKey):
        priv = key.private_numbers()
        pub = priv.public_numbers
        return {
            "kty": "RSA",
            "n": _uint(pub.n),
            "e": _uint(pub.e),
            "d": _uint(priv.d),
            "p": _uint(priv.p),
            "q": _uint(priv.q),
            "dp": _uint(priv.dmp1),
            "dq": _uint(priv.dmq1),
            "qi": _uint(priv.iqmp),
        }
    crv = _CRV_BY_CURVE.get(key.curve.name)
    if crv is None:
        raise StorageError(said("storage.account.curve", curve=key.curve.name))
    size = (key.curve.key_size + 7) // 8
    numbers = key.private_numbers()
    return {
        "kty": "EC",
        "crv": crv,
        "x": _uint(numbers.public_numbers.x, size),
        "y": _uint(numbers.public_numbers.y, size),
        "d": _uint(numbers.private_value, size),
    }


def key_from_jwk(jwk: dict[str, Any]) -> PrivateKey:
    """The private key of an RSA or EC JWK. Raises StorageError when it is not one."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        if jwk["kty"] == "RSA":
            n, e = _unb64(jwk["n"]), _unb64(jwk["e"])
            d, p, q = _unb64(jwk["d"]), _unb64(jwk["p"]), _unb64(jwk["q"])
            return rsa.RSAPrivateNumbers(
                p=p,
                q=q,
                d=d,
                dmp1=_unb64(jwk["dp"]) if "dp" in jwk else rsa.rsa_crt_dmp1(d, p),
                dmq1=_unb64(jwk["dq"]) if "dq" in jwk else rsa.rsa_crt_dmq1(d, q),
                iqmp=_unb64(jwk["qi"]) if "qi" in jwk else rsa.rsa_crt_iqmp(p, q),
                public_numbers=rsa.RSAPublicNumbers(e, n),
            ).private_key()
        if jwk["kty"] == "EC":
            curve = ec.get_curve_for_oid(_curve_oid(_CURVE_NAME_BY_CRV[jwk["crv"]]))()
            public = ec.EllipticCurvePublicNumbers(_unb64(jwk["x"]), _unb64(jwk["y"]), curve)
            # Loading checks that d and (x, y) belong together.
            return ec.EllipticCurvePrivateNumbers(_unb64(jwk["d"]), public).private_key()
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(said("storage.account.bad_jwk", reason=repr(exc))) from None
    raise StorageError(said("storage.account.key_type", kty=repr(jwk.get("kty"))))


def account_id(key: PrivateKey) -> str:
    """certbot's account id: MD5 hex of the public key's SubjectPublicKeyInfo PEM."""
    from cryptography.hazmat.primitives import serialization

    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.md5(pem, usedforsecurity=False).hexdigest()


def _curve_oid(name: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return {"secp256r1": ec.EllipticCurveOID.SECP256R1, "secp384r1": ec.EllipticCurveOID.SECP384R1,
            "secp521r1": ec.EllipticCurveOID.SECP521R1}[name]  # fmt: skip


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


# --- store ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAccount:
    """An account as found on disk."""

    id: str
    key: PrivateKey
    uri: str
    body: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def server_folder(directory_url: str) -> str:
    """certbot's folder name for an ACME server: netloc + path of its directory URL, e.g.
    ``acme-v02.api.letsencrypt.org/directory``. Raises StorageError for URLs that would
    escape the accounts directory."""
    parsed = urlparse(directory_url)
    folder = parsed.netloc + parsed.path
    parts = [p for p in folder.split("/") if p]
    if not parsed.netloc or any(p in (".", "..") for p in parts) or "\0" in folder:
        raise StorageError(said("storage.account.bad_server", url=repr(directory_url)))
    return folder


class AccountStore:
    """Accounts under ``config_dir/accounts``, one folder per ACME server."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = Path(config_dir)
        self.accounts_root = self.config_dir / "accounts"

    def server_dir(self, directory_url: str) -> Path:
        return self.accounts_root.joinpath(*server_folder(directory_url).split("/"))

    def _account_dir(self, directory_url: str, ident: str) -> Path:
        if not ident or "/" in ident or ident.startswith("."):
            raise StorageError(said("storage.account.bad_id", ident=repr(ident)))
        return self.server_dir(directory_url) / ident

    def save(
        self,
        directory_url: str,
        key: PrivateKey,
        uri: str,
        body: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        *,
        now: datetime.datetime | None = None,
        hostname: str | None = None,
    ) -> str:
        """Store an account and return its id. The key file is written once (0400); regr and
        meta are replaced atomically. ``meta`` defaults to creation_dt (now, UTC, seconds) and
        creation_host."""
        ident = account_id(key)
        directory = self._account_dir(directory_url, ident)
        ensure_dir(self.accounts_root, 0o700)
        ensure_dir(directory, 0o700)
        key_path = directory / "private_key.json"
        if not key_path.exists():
            create_private_file(
                key_path, json.dumps(private_jwk(key)).encode(), mode=ACCOUNT_KEY_MODE
            )
        meta_path = directory / "meta.json"
        if meta is None and meta_path.exists():
            meta = _read_json(meta_path)  # saving again keeps the original creation data
        if meta is None:
            when = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
            meta = {
                "creation_dt": when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "creation_host": hostname or socket.gethostname(),
            }
        atomic_write(meta_path, json.dumps(meta).encode(), 0o644)
        self.update_regr(directory_url, ident, uri, body)
        return ident

    def update_regr(
        self, directory_url: str, ident: str, uri: str, body: dict[str, Any] | None = None
    ) -> None:
        """Replace regr.json of an existing account."""
        directory = self._account_dir(directory_url, ident)
        regr = {"body": body or {}, "uri": uri}
        atomic_write(directory / "regr.json", json.dumps(regr).encode(), 0o644)

    def _existing_server_dir(self, directory_url: str) -> Path:
        folder = server_folder(directory_url)
        own = self.server_dir(directory_url)
        older = _REUSED_SERVERS.get(folder)
        if not own.is_dir() and older is not None:
            return self.accounts_root.joinpath(*older.split("/"))
        return own

    def ids(self, directory_url: str) -> list[str]:
        """Ids of the account folders for this server, sorted."""
        directory = self._existing_server_dir(directory_url)
        try:
            return sorted(e.name for e in directory.iterdir() if e.is_dir())
        except OSError:
            return []

    def list(self, directory_url: str) -> list[StoredAccount]:
        """Every readable account for this server (broken ones are logged and skipped)."""
        accounts = []
        for ident in self.ids(directory_url):
            try:
                accounts.append(self.load(directory_url, ident))
            except StorageError as exc:
                logger.warning("Skipping account %s: %s", ident, exc)
        return accounts

    def load(self, directory_url: str, ident: str) -> StoredAccount:
        """Read one account. Raises StorageError when missing or unreadable."""
        self._account_dir(directory_url, ident)
        directory = self._existing_server_dir(directory_url) / ident
        try:
            jwk = json.loads((directory / "private_key.json").read_text(encoding="utf-8"))
            regr = json.loads((directory / "regr.json").read_text(encoding="utf-8"))
            meta_path = directory / "meta.json"
            meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        except FileNotFoundError:
            missing = said("storage.no_account", ident=ident, server=directory_url)
            raise StorageError(missing) from None
        except (OSError, ValueError, RecursionError) as exc:
            raise StorageError(
                said("storage.account.unreadable", ident=ident, reason=exc)
            ) from None
        if not isinstance(jwk, dict) or not isinstance(regr, dict):
            raise StorageError(said("storage.account.malformed", ident=ident))
        uri, body = regr.get("uri"), regr.get("body") or {}
        if not isinstance(uri, str) or not isinstance(body, dict):
            raise StorageError(said("storage.account.no_url", ident=ident))
        key = key_from_jwk(jwk)
        if account_id(key) != ident:
            raise StorageError(said("storage.account.other_key", ident=ident))
        return StoredAccount(ident, key, uri, body, meta if isinstance(meta, dict) else {})

    # --- a key rollover in flight (see renewal/rollover.py) --------------------------------

    def save_pending_key(self, directory_url: str, ident: str, key: PrivateKey) -> None:
        """Write ``key`` as account ``ident``'s rollover key in flight (``rollover_key.json``,
        0400, fsynced) before the CA is asked to switch to it."""
        path = self._account_dir(directory_url, ident) / PENDING_KEY_FILE
        create_private_file(path, json.dumps(private_jwk(key)).encode(), mode=ACCOUNT_KEY_MODE)

    def pending_key(self, directory_url: str, ident: str) -> PrivateKey | None:
        """Account ``ident``'s rollover key in flight; None when there is none (or it is
        unreadable: a key the CA may not know is then simply not tried)."""
        path = self._existing_server_dir(directory_url) / ident / PENDING_KEY_FILE
        jwk = _read_json(path)
        if jwk is None:
            return None
        try:
            return key_from_jwk(jwk)
        except StorageError as exc:
            logger.warning("Ignoring the rollover key of account %s: %s", ident, exc)
            return None

    def discard_pending_key(self, directory_url: str, ident: str) -> None:
        """Remove account ``ident``'s rollover key in flight, if any."""
        path = self._existing_server_dir(directory_url) / ident / PENDING_KEY_FILE
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)

    def delete(self, directory_url: str, ident: str) -> None:
        """Remove one account folder (and the server folder if it becomes empty)."""
        directory = self._account_dir(directory_url, ident)
        if not directory.is_dir():
            raise StorageError(said("storage.no_account", ident=ident, server=directory_url))
        shutil.rmtree(directory)
        with contextlib.suppress(OSError):
            directory.parent.rmdir()
