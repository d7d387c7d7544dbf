"""Secrets never reach the log or the -vv output (issue 11, "The proof").

One Pebble that requires EAB; with -vv the CLI registers with an EAB key and gets a certificate
by --standalone, then another by --dns-cloudflare (the fake API of tests/support). Afterwards
stdout, stderr and every file under --logs-dir are searched for the account key's private JWK
members, the EAB HMAC key and the API token, each in its text, base64, URL-safe base64 and hex
spellings.

A second run covers the TSIG secret and the SMTP password: a wildcard certificate by
--dns-rfc2136 against a real BIND (tests/support/bind.py) with -vv, `notify test` by SMTP to a
local aiosmtpd that offers STARTTLS (a loopback certificate the client trusts through
SSL_CERT_FILE) and accepts AUTH only after it, then a `renew --force-renewal -vv` whose
credentials hold a wrong TSIG secret: BIND refuses the update, the renewal fails, and the failure
is mailed. Searched for: both TSIG secrets (text, base64 and hex of the decoded key), the SMTP
password and the AUTH PLAIN / AUTH LOGIN encodings of the login, in the outputs, the log files
and the stored settings (renewal conf, notify.toml).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from pebble import EAB_KEYS, PebbleCA, free_port, write_loopback_cert
from test_cli_e2e import STANDALONE_IP, Cli

from support.bind import BindServer, named_path
from support.fake_dns_apis import FakeCloudflare, ZoneStore, challtest_publisher, serve

pytestmark = pytest.mark.pebble
API_TOKEN = "cf-token-" + uuid.uuid4().hex
SMTP_USER = "alerts@example.com"
SMTP_PASSWORD = "smtp-pw-" + uuid.uuid4().hex


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


class AuthMailbox:
    """An aiosmtpd handler that takes mail only from SMTP_USER / SMTP_PASSWORD and records
    each AUTH: (mechanism, accepted, over TLS)."""

    def __init__(self) -> None:
        self.mails: list[Message] = []
        self.logins: list[tuple[str, bool, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.original_content))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        given = (
            (auth_data.login, auth_data.password) if isinstance(auth_data, LoginPassword) else ()
        )
        accepted = given == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
        self.logins.append((mechanism, accepted, session.ssl is not None))
        return AuthResult(success=accepted)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Path, AuthMailbox]]:
    """A loopback SMTP server that requires STARTTLS, then AUTH: (port, its certificate, box)."""
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    cert, key = write_loopback_cert(tmp_path, "certsmith test smtp", "smtp")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = AuthMailbox()
    port = free_port()
    controller = controller_mod.Controller(
        box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        auth_required=True, authenticator=box.authenticate,
    )  # fmt: skip
    controller.start()
    try:
        yield port, cert, box
    finally:
        controller.stop()


def auth_forms(user: str, password: str) -> dict[str, str | bytes]:
    """What AUTH PLAIN (RFC 4616: authzid NUL authcid NUL passwd) and AUTH LOGIN send, before
    base64 (spellings() adds the base64 forms)."""
    return {
        "SMTP password": password,
        "AUTH PLAIN response": b"\0" + user.encode() + b"\0" + password.encode(),
        "AUTH PLAIN response without authzid": user.encode() + b"\0" + password.encode(),
    }


@pytest.mark.bind
@pytest.mark.skipif(
    named_path() is None, reason="BIND9 `named` not installed: apt-get install bind9"
)
def test_no_tsig_secret_or_smtp_password_in_vv_output_or_logs(
    pebble_factory: Callable[..., PebbleCA],
    tmp_path: Path,
    smtp_server: tuple[int, Path, AuthMailbox],
) -> None:
    port, smtp_cert, box = smtp_server
    wrong_tsig = base64.b64encode(os.urandom(32)).decode()
    outputs: dict[str, str] = {}
    with BindServer(tmp_path / "bind", {"tsig.test": []}) as bind:
        ca = pebble_factory(dns_server=bind.address)
        cli = Cli(ca, tmp_path)
        creds = bind.write_credentials(tmp_path / "rfc2136.ini")
        result = cli.run(
            "certonly", "--dns-rfc2136", "--dns-rfc2136-credentials", str(creds),
            "-d", "tsig.test", "-d", "*.tsig.test",
            "--agree-tos", "--register-unsafely-without-email", "-vv",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs |= {"rfc2136 stdout": result.stdout, "rfc2136 stderr": result.stderr}

        smtp_creds = tmp_path / "smtp.ini"
        smtp_creds.write_text(f"username = {SMTP_USER}\npassword = {SMTP_PASSWORD}\n")
        smtp_creds.chmod(0o600)
        result = cli.run(
            "notify", "setup", "--smtp", f"127.0.0.1:{port}", "--smtp-security", "starttls",
            "--mail-from", "certsmith@example.com", "--mail-to", "ops@example.com",
            "--smtp-credentials", str(smtp_creds),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        trust = {"SSL_CERT_FILE": str(smtp_cert)}  # the client verifies the server (no -k)
        result = cli.run("notify", "test", "-vv", env=trust)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs |= {"notify stdout": result.stdout, "notify stderr": result.stderr}
        assert len(box.mails) == 1
        assert box.logins == [("PLAIN", True, True)]  # AUTH after STARTTLS, accepted

        bind.write_credentials(creds, wrong_tsig)  # BIND refuses the update: renewal fails
        result = cli.run("renew", "--force-renewal", "--no-random-sleep-on-renew", "-vv", env=trust)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "TSIG" in result.stdout + result.stderr
        outputs |= {"renew stdout": result.stdout, "renew stderr": result.stderr}
    assert len(box.mails) == 2, "the failed renewal was not mailed"
    assert "tsig.test" in box.mails[1]["Subject"]
    assert [login[1:] for login in box.logins] == [(True, True)] * 2

    logs = [p for p in (tmp_path / "logs").rglob("*") if p.is_file()]
    assert logs, "no log written"
    outputs |= {str(p.relative_to(tmp_path)): p.read_text(errors="replace") for p in logs}
    assert "DEBUG" in "".join(outputs.values())
    stored = [cli.config_dir / "renewal" / "tsig.test.conf", cli.config_dir / "notify.toml"]
    outputs |= {str(p.relative_to(tmp_path)): p.read_text() for p in stored}

    secrets: dict[str, str | bytes] = {
        "TSIG secret": bind.key_secret,
        "TSIG key bytes": base64.b64decode(bind.key_secret),
        "wrong TSIG secret": wrong_tsig,
        "wrong TSIG key bytes": base64.b64decode(wrong_tsig),
        **auth_forms(SMTP_USER, SMTP_PASSWORD),
    }
    assert leaks(outputs, secrets) == []
