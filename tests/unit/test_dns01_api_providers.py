"""Cloudflare, Route 53, DigitalOcean, Google Cloud DNS, OVH and Linode against fake APIs that
speak each provider's documented API and check its authentication (tests/support/fake_dns_apis.py).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certsmith.challenges.dns01.aws import AwsCredentials, find_aws_credentials, sign
from certsmith.challenges.dns01.cloudflare import CloudflareProvider, auth_headers
from certsmith.challenges.dns01.digitalocean import DigitalOceanProvider
from certsmith.challenges.dns01.google import GoogleProvider, ServiceAccount
from certsmith.challenges.dns01.httpapi import api_base, zone_candidates
from certsmith.challenges.dns01.linode import LinodeProvider
from certsmith.challenges.dns01.ovh import OvhProvider
from certsmith.challenges.dns01.provider import load_provider
from certsmith.challenges.dns01.route53 import Route53Provider
from certsmith.errors import SolverError, UsageError
from support.fake_dns_apis import (
    FakeCloudflare,
    FakeDigitalOcean,
    FakeLinode,
    ZoneStore,
    transport,
)
from support.fake_dns_signed_apis import FakeGoogle, FakeOvh, FakeRoute53

A, B = "a" * 43, "b" * 43
NAME = "_acme-challenge.www.example.test"
SECRET = "s3cret-value-never-printed"


async def no_sleep(seconds: float) -> None:
    return None


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account(key: rsa.RSAPrivateKey, token_uri: str) -> dict[str, str]:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "dns@proj-1.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }


Build = Callable[[ZoneStore, bool], Any]


def cloudflare(store: ZoneStore, good: bool) -> Any:
    fake = FakeCloudflare(store, token=SECRET)
    token = SECRET if good else "wrong-" + SECRET
    return CloudflareProvider(
        auth_headers({"dns_cloudflare_api_token": token}),
        api_url="https://api.cloudflare.test/client/v4",
        transport=transport(fake),
    )


def route53(store: ZoneStore, good: bool) -> Any:
    fake = FakeRoute53(store, "AKIDEXAMPLE", SECRET, token="session-1")
    creds = AwsCredentials("AKIDEXAMPLE", SECRET if good else "wrong", "session-1", "test")
    return Route53Provider(
        creds, api_url="https://route53.test", transport=transport(fake), sleep=no_sleep
    )


def digitalocean(store: ZoneStore, good: bool) -> Any:
    fake = FakeDigitalOcean(store, SECRET)
    return DigitalOceanProvider(
        SECRET if good else "x", api_url="https://do.test/v2", transport=transport(fake)
    )


def linode(store: ZoneStore, good: bool) -> Any:
    fake = FakeLinode(store, SECRET)
    return LinodeProvider(
        SECRET if good else "x", api_url="https://linode.test/v4", transport=transport(fake)
    )


def ovh(store: ZoneStore, good: bool) -> Any:
    fake = FakeOvh(store, "ak", SECRET, "ck")
    return OvhProvider(
        "ak",
        SECRET if good else "wrong",
        "ck",
        api_url="https://ovh.test/1.0",
        transport=transport(fake),
    )


def google(store: ZoneStore, good: bool) -> Any:
    key = private_key()
    fake = FakeGoogle(store, "proj-1", "dns@proj-1.iam.gserviceaccount.com", key.public_key())
    fake.token_uri = "https://google.test/token"
    signer = key if good else private_key()
    account = ServiceAccount(service_account(signer, fake.token_uri), "key.json")
    return GoogleProvider(
        account,
        "proj-1",
        api_url="https://google.test/dns/v1",
        transport=transport(fake),
        sleep=no_sleep,
    )


PROVIDERS: dict[str, Build] = {
    "cloudflare": cloudflare,
    "route53": route53,
    "digitalocean": digitalocean,
    "linode": linode,
    "ovh": ovh,
    "google": google,
}


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_provider_adds_two_values_keeps_others_and_removes_only_its_own(name: str) -> None:
    published: dict[str, list[str]] = {}
    store = ZoneStore(["example.test", "other.test"], lambda f, v: published.update({f: v}))
    store.add(NAME, "someone-else")  # a value this run did not write
    neighbour = "_acme-challenge.other.example.test"
    store.add(neighbour, A)  # the same value at another name of the zone
    provider = PROVIDERS[name](store, True)
    await provider.add_txt(NAME, A)
    await provider.add_txt(NAME, B)
    await provider.add_txt(NAME, A)  # idempotent
    assert sorted(store.values(NAME)) == sorted(["someone-else", A, B])
    assert sorted(published[NAME]) == sorted(["someone-else", A, B])
    assert store.zone_of(NAME) == "example.test"
    await provider.remove_txt(NAME, A)
    assert sorted(store.values(NAME)) == sorted(["someone-else", B])
    await provider.remove_txt(NAME, A)  # absent: not an error
    await provider.remove_txt(NAME, B)
    assert store.values(NAME) == ["someone-else"]
    assert store.values(neighbour) == [A]


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_wrong_credentials_are_a_solver_error_without_the_secret(name: str) -> None:
    store = ZoneStore(["example.test"])
    with pytest.raises(SolverError) as caught:
        await PROVIDERS[name](store, False).add_txt(NAME, A)
    assert SECRET not in str(caught.value)
    assert "refused" in str(caught.value)
    assert store.records == []


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_a_name_in_no_zone_of_the_account_is_a_solver_error(name: str) -> None:
    store = ZoneStore(["example.test"])
    with pytest.raises(SolverError, match=r"no .*zone|no .*domain"):
        await PROVIDERS[name](store, True).add_txt("_acme-challenge.www.elsewhere.test", A)


def test_zone_candidates_are_longest_first() -> None:
    assert zone_candidates("_acme-challenge.a.example.com.") == [
        "_acme-challenge.a.example.com",
        "a.example.com",
        "example.com",
    ]


def test_sigv4_matches_the_aws_documentation_example() -> None:
    # The worked example of AWS's "Signature Version 4 signing process" (IAM ListUsers).
    creds = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    headers = sign(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        b"",
        creds,
        region="us-east-1",
        service="iam",
        now=datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.UTC),
    )
    assert headers["Authorization"].endswith(
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )
    assert "SignedHeaders=content-type;host;x-amz-date," in headers["Authorization"]


def test_aws_credential_chain_env_then_profile_files(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKENV", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    found = find_aws_credentials(env, tmp_path)
    assert (found.access_key_id, found.session_token, found.source) == ("AKENV", "t", "environment")
    shared = tmp_path / ".aws" / "credentials"
    shared.parent.mkdir()
    shared.write_text(
        "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = s1\n"
        "[work]\naws_access_key_id = AKWORK\naws_secret_access_key = s2\n"
    )
    assert find_aws_credentials({}, tmp_path).access_key_id == "AKDEF"
    assert find_aws_credentials({"AWS_PROFILE": "work"}, tmp_path).access_key_id == "AKWORK"
    config = tmp_path / "config"
    config.write_text("[profile cfg]\naws_access_key_id = AKCFG\naws_secret_access_key = s3\n")
    env = {"AWS_PROFILE": "cfg", "AWS_CONFIG_FILE": str(config)}
    assert find_aws_credentials(env, tmp_path).access_key_id == "AKCFG"
    other = tmp_path / "elsewhere"
    other.write_text("[default]\naws_access_key_id = AKOTHER\naws_secret_access_key = s4\n")
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(other)}
    assert find_aws_credentials(env, tmp_path).access_key_id == "AKOTHER"
    with pytest.raises(UsageError, match="no AWS credentials"):
        find_aws_credentials({"AWS_PROFILE": "missing"}, tmp_path)


def test_certbot_credentials_keys_build_the_providers(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "s", "HOME": str(tmp_path)}
    keyfile = tmp_path / "google.json"
    keyfile.write_text(json.dumps(service_account(private_key(), "https://oauth2.test/token")))
    keyfile.chmod(0o600)
    built = {
        "cloudflare": {"dns_cloudflare_email": "a@b.test", "dns_cloudflare_api_key": "k"},
        "digitalocean": {"dns_digitalocean_token": "t"},
        "linode": {"dns_linode_key": "k", "dns_linode_version": "4"},
        "ovh": {
            "dns_ovh_endpoint": "ovh-eu",
            "dns_ovh_application_key": "a",
            "dns_ovh_application_secret": "s",
            "dns_ovh_consumer_key": "c",
        },
        "google": {"dns_google_credentials": str(keyfile)},
    }
    for name, options in built.items():
        assert type(load_provider(name, options)).__name__.lower().startswith(name[:5])
    assert CloudflareProvider.from_options(built["cloudflare"]).api.headers["X-Auth-Key"] == "k"
    assert Route53Provider.from_options({}, env).credentials.access_key_id == "AK"
    assert OvhProvider.from_options(built["ovh"]).api.base_url == "https://eu.api.ovh.com/1.0"
    google_provider = GoogleProvider.from_options(built["google"])
    assert google_provider.project == "proj-1"


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("cloudflare", {}, "dns_cloudflare_api_token"),
        (
            "cloudflare",
            {"dns_cloudflare_api_token": "t", "dns_cloudflare_api_key": "k"},
            "not both",
        ),
        ("digitalocean", {}, "dns_digitalocean_token"),
        ("linode", {"dns_linode_key": "k", "dns_linode_version": "3"}, "version 4"),
        ("ovh", {"dns_ovh_endpoint": "mars"}, "ovh-eu"),
        ("google", {}, "dns_google_credentials"),
    ],
)
def test_missing_or_bad_credentials_are_usage_errors(
    name: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        load_provider(name, options)


def test_api_url_override_is_https_or_loopback_only() -> None:
    env = {"CERTSMITH_CLOUDFLARE_API_URL": "http://127.0.0.1:8080/client/v4/"}
    assert api_base("cloudflare", "https://x", env) == "http://127.0.0.1:8080/client/v4"
    with pytest.raises(UsageError, match="loopback"):
        api_base("cloudflare", "https://x", {"CERTSMITH_CLOUDFLARE_API_URL": "http://evil.test"})


def test_certbot_plugins_without_a_builtin_name_the_plugin_way() -> None:
    with pytest.raises(UsageError, match=r"certsmith\.dns_providers.*dnsimple"):
        load_provider("dnsimple", {}, entry_points=lambda group: [])
