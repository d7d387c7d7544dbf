"""AWS credentials as boto3 finds them (the part certbot-dns-route53 users rely on), and SigV4.

The credential chain, first match wins:

1. ``AWS_ACCESS_KEY_ID`` + ``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``) in the environment;
2. the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE``, else ``~/.aws/credentials``),
   section ``[<profile>]``;
3. the config file (``AWS_CONFIG_FILE``, else ``~/.aws/config``), section ``[profile <profile>]``
   (``[default]`` for the default profile);

where the profile is ``AWS_PROFILE`` (else ``AWS_DEFAULT_PROFILE``, else ``default``). Not
supported: EC2/ECS instance roles, SSO, ``role_arn``/``source_profile`` and
``credential_process`` (install certbot-dns-route53's way through a plug-in, or export keys).

Signing: AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/
reference_sigv-create-signed-request.html): HMAC-SHA256 over a canonical request, a request
signature rather than a cryptographic primitive, so ``hmac``/``hashlib`` carry it.
"""

from __future__ import annotations

import configparser
import datetime
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote_plus, urlsplit

from certsmith.errors import UsageError
from certsmith.wording import said

MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    source: str = ""  # where they came from, for messages (never the secret)


def _from_section(section: Mapping[str, str], source: str) -> AwsCredentials | None:
    key = section.get("aws_access_key_id", "").strip()
    secret = section.get("aws_secret_access_key", "").strip()
    if not key or not secret:
        return None
    token = section.get("aws_session_token", "").strip() or None
    return AwsCredentials(key, secret, token, source)


def _read_ini(path: Path) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(said("aws.too_large", path=path))
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise UsageError(said("aws.unreadable", path=path, reason=exc)) from None
    return parser


def find_aws_credentials(environ: Mapping[str, str], home: Path) -> AwsCredentials:
    """The first credentials of the chain in the module docstring; ``UsageError`` if none."""
    env = _from_section(
        {
            "aws_access_key_id": environ.get("AWS_ACCESS_KEY_ID", ""),
            "aws_secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY", ""),
            "aws_session_token": environ.get("AWS_SESSION_TOKEN", ""),
        },
        "environment",
    )
    if env is not None:
        return env
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    shared = Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    config = Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    for path, section in (
        (shared, profile),
        (config, "default" if profile == "default" else f"profile {profile}"),
    ):
        parser = _read_ini(path.expanduser())
        if parser is not None and parser.has_section(section):
            found = _from_section(parser[section], f"{path} [{section}]")
            if found is not None:
                return found
    raise UsageError(said("aws.no_credentials", shared=shared, profile=profile))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """(the canonical request, the signed header list) for SigV4."""
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe="/-_.~")
    pairs = []
    for item in parts.query.split("&") if parts.query else ():
        key, _, value = item.partition("=")
        pairs.append(
            (quote(unquote_plus(key), safe="-_.~"), quote(unquote_plus(value), safe="-_.~"))
        )
    query = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    lowered = {k.lower().strip(): " ".join(v.split()) for k, v in headers.items()}
    names = sorted(lowered)
    canonical_headers = "".join(f"{n}:{lowered[n]}\n" for n in names)
    signed = ";".join(names)
    payload = hashlib.sha256(body).hexdigest()
    return "\n".join([method, path, query, canonical_headers, signed, payload]), signed


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: AwsCredentials,
    *,
    region: str,
    service: str,
    now: datetime.datetime,
) -> dict[str, str]:
    """``headers`` plus ``X-Amz-Date``, the session token and ``Authorization`` (SigV4)."""
    amz_date = now.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    signed_headers = {**headers, "Host": urlsplit(url).netloc, "X-Amz-Date": amz_date}
    if credentials.session_token:
        signed_headers["X-Amz-Security-Token"] = credentials.session_token
    request, signed = canonical_request(method, url, signed_headers, body)
    scope = f"{date}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(request.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{digest}"
    key = signing_key(credentials.secret_access_key, date, region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return {**signed_headers, "Authorization": authorization}
