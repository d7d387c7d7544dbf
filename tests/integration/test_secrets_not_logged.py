"""Secrets never reach the log or the -vv output (issue 11, "The proof").

One Pebble that requires EAB; with -vv the CLI registers with an EAB key and gets a certificate
by --standalone, then another by --dns-cloudflare (the fake API of tests/support). Afterwards
stdout, stderr and every file under --logs-dir are searched for the account key's private JWK
members, the EAB HMAC key and the API token, each in its text, base64, URL-safe base64 and hex
spellings.

Not covered here yet: the TSIG secret of --dns-rfc2136 and the SMTP password of `notify`.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from pebble import EAB_KEYS, PebbleCA
from test_cli_e2e import STANDALONE_IP, Cli

from support.fake_dns_apis import FakeCloudflare, ZoneStore, challtest_publisher, serve

pytestmark = pytest.mark.pebble
API_TOKEN = "cf-token-" + uuid.uuid4().hex


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def spellings(secret: str | bytes) -> set[str]:
    """The ways a secret could appear in text: as given, base64 (both alphabets, with and
    without padding) and hex of its bytes. Too-short pieces are left out (they match anywhere)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    forms = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), raw.hex()}
    forms |= {form.rstrip("=") for form in forms}
    if isinstance(secret, str):
        forms.add(secret)
    return {form for form in forms if len(form) >= 16}


def account_secrets(config_dir: Path) -> dict[str, bytes]:
    secrets = {}
    for path in (config_dir / "accounts").rglob("private_key.json"):
        jwk = json.loads(path.read_text())
        for member in ("d", "p", "q", "dp", "dq", "qi"):
            if member in jwk:
                secrets[f"{path.parent.name} {member}"] = b64url_decode(jwk[member])
    return secrets


def leaks(texts: dict[str, str], secrets: dict[str, str | bytes]) -> list[str]:
    found = []
    for label, secret in secrets.items():
        for form in spellings(secret):
            found += [f"{label} in {where}" for where, text in texts.items() if form in text]
    return found


def test_no_secret_in_vv_output_or_logs(
    pebble_factory: Callable[..., PebbleCA], tmp_path: Path
) -> None:
    ca = pebble_factory(eab_required=True)
    cli = Cli(ca, tmp_path)
    hmac_key = EAB_KEYS["kid-1"]
    outputs: dict[str, str] = {}

    name = f"s{uuid.uuid4().hex[:8]}.example.com"
    eab = ("--eab-kid", "kid-1", "--eab-hmac-key", hmac_key, "-vv")
    ca.add_a(name, [STANDALONE_IP])
    result = cli.run(*cli.standalone(name, extra=eab))
    assert result.returncode == 0, result.stderr
    outputs |= {"standalone stdout": result.stdout, "standalone stderr": result.stderr}

    store = ZoneStore(["cf.test"], challtest_publisher(ca.challtest))
    creds = tmp_path / "cloudflare.ini"
    creds.write_text(f"dns_cloudflare_api_token = {API_TOKEN}\n")
    creds.chmod(0o600)
    with serve(FakeCloudflare(store, token=API_TOKEN)) as api:
        result = cli.run(
            "certonly", "--dns-cloudflare", "--dns-cloudflare-credentials", str(creds),
            "--dns-cloudflare-propagation-seconds", "1", "-d", f"w.{name[:9]}.cf.test", "-vv",
            env={"CERTSMITH_CLOUDFLARE_API_URL": api.url + "/client/v4"},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert store.calls, "the fake Cloudflare API was not used"
    outputs |= {"cloudflare stdout": result.stdout, "cloudflare stderr": result.stderr}

    logs = [p for p in (tmp_path / "logs").rglob("*") if p.is_file()]
    assert logs, "no log written"
    outputs |= {str(p.relative_to(tmp_path)): p.read_text(errors="replace") for p in logs}
    assert "DEBUG" in "".join(outputs.values())  # -vv really logged in detail

    secrets: dict[str, str | bytes] = dict(account_secrets(cli.config_dir))
    assert any(label.endswith(" d") for label in secrets), "no account key found"
    secrets |= {"EAB HMAC key": hmac_key, "EAB HMAC key bytes": b64url_decode(hmac_key)}
    secrets["Cloudflare API token"] = API_TOKEN
    assert leaks(outputs, secrets) == []
