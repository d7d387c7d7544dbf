"""certsmith.acme against a real Pebble 2.10 CA and challtestsrv on loopback."""

from __future__ import annotations

import ipaddress
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pebble import EAB_KEYS

from certsmith.acme import (
    AccountDoesNotExist,
    AccountStatus,
    AcmeClient,
    AlreadyReplaced,
    ExternalAccountBinding,
    ExternalAccountRequired,
    Identifier,
    Order,
    OrderStatus,
    Unauthorized,
)

pytestmark = pytest.mark.pebble


def _client(ca: Any, key: Any = None, **kwargs: Any) -> AcmeClient:
    key = key or ec.generate_private_key(ec.SECP256R1())
    kwargs.setdefault("first_poll_delay", 0.3)
    return AcmeClient(ca.directory_url, key, ca_bundle=ca.ca_bundle, **kwargs)


def _names(ca: Any, count: int) -> list[str]:
    """Fresh names that Pebble's VA reaches on challtestsrv's HTTP-01 responder.

    challtestsrv answers AAAA with ::1 by default, Pebble's VA dials that first, and the
    responder only listens on 127.0.0.1; so each name gets an IPv4-mapped AAAA record.
    """
    tag = uuid.uuid4().hex[:10]
    names = [f"h{i}-{tag}.example.com" for i in range(count)]
    for name in names:
        ca.add_aaaa(name, ["::ffff:127.0.0.1"])
    return names


def _csr(identifiers: list[Identifier]) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address(i.value)) if i.type == "ip" else x509.DNSName(i.value)
        for i in identifiers
    ]
    builder = x509.CertificateSigningRequestBuilder().add_extension(
        x509.SubjectAlternativeName(sans), critical=False
    )
    first = identifiers[0]
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, first.value)] if first.type == "dns" else []
    builder = builder.subject_name(x509.Name(subject))
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER), key


async def _issue(
    client: AcmeClient,
    ca: Any,
    identifiers: list[Identifier],
    **order_kwargs: Any,
) -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey, Order]:
    deadline = client.deadline_in(60)
    order = await client.new_order(identifiers, **order_kwargs)
    assert order.status in (OrderStatus.PENDING, OrderStatus.READY)
    for url in order.authorizations if order.status == OrderStatus.PENDING else []:
        authz = await client.get_authorization(url)
        if authz.status == "valid":  # Pebble now and then reuses a valid authorization
            continue
        challenge = authz.challenge("http-01")
        assert challenge is not None and challenge.token is not None
        keyauth = client.key_authorization(challenge.token)
        ca.challtest("/add-http01", {"token": challenge.token, "content": keyauth})
        await client.respond_challenge(challenge)
    order = await client.poll_order(order, deadline, until=OrderStatus.READY)
    assert order.status == OrderStatus.READY
    csr_der, key = _csr(identifiers)
    order = await client.finalize(order, csr_der)
    order = await client.poll_order(order, deadline, until=OrderStatus.VALID)
    assert order.status == OrderStatus.VALID and order.certificate
    chain = await client.download_certificate(order.certificate)
    certs = x509.load_pem_x509_certificates(chain.pem.encode())
    return certs, key, order


def _verify_chain(ca: Any, certs: list[x509.Certificate]) -> None:
    root = x509.load_pem_x509_certificate(ca.roots_pem().encode())
    for child, parent in itertools.pairwise(certs):
        child.verify_directly_issued_by(parent)
    top = certs[-1]
    if top.subject != root.subject:
        top.verify_directly_issued_by(root)


async def test_account_lifecycle(pebble: Any) -> None:
    async with _client(pebble) as client:
        with pytest.raises(AccountDoesNotExist):
            await client.find_account()
        account = await client.new_account(["mailto:a@example.com"], terms_agreed=True)
        assert account.status == AccountStatus.VALID
        assert client.account_url == account.url
        found = await client.find_account()
        assert found.url == account.url
        updated = await client.update_account(["mailto:b@example.com"])
        assert updated.contact == ("mailto:b@example.com",)

        new_key = ec.generate_private_key(ec.SECP384R1())
        await client.rollover_key(new_key)
        assert client.account_key is new_key
        assert (await client.update_account(["mailto:c@example.com"])).url == account.url

    async with _client(pebble, new_key) as by_new_key:
        assert (await by_new_key.find_account()).url == account.url
        deactivated = await by_new_key.deactivate_account()
        assert deactivated.status == AccountStatus.DEACTIVATED
        with pytest.raises(Unauthorized):
            await by_new_key.update_account(["mailto:d@example.com"])


async def test_rsa_account_key(pebble: Any) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with _client(pebble, key) as client:
        account = await client.new_account(terms_agreed=True)
        assert account.status == AccountStatus.VALID


async def test_external_account_binding(pebble_factory: Any) -> None:
    ca = pebble_factory(eab_required=True)
    async with _client(ca) as client:
        directory = await client.directory()
        assert directory.meta.external_account_required
        with pytest.raises(ExternalAccountRequired):
            await client.new_account(terms_agreed=True)
        eab = ExternalAccountBinding.from_b64("kid-1", EAB_KEYS["kid-1"])
        account = await client.new_account(terms_agreed=True, eab=eab)
        assert account.status == AccountStatus.VALID


async def test_one_name_issuance_is_lean(pebble: Any) -> None:
    async with _client(pebble) as setup:
        await setup.new_account(terms_agreed=True)
        account_url = setup.account_url
    # first_poll_delay=1 s: Pebble validates and issues within it, so each poll is needed once.
    async with _client(
        pebble, setup.account_key, account_url=account_url, first_poll_delay=1.0
    ) as client:
        [name] = _names(pebble, 1)
        certs, key, _ = await _issue(client, pebble, [Identifier.dns(name)])
        _verify_chain(pebble, certs)
        san = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [name]
        assert certs[0].public_key() == key.public_key()
        # directory, newOrder, authz, challenge, poll, finalize, poll, certificate, and one
        # HEAD newNonce: Pebble 2.10 sends no Replay-Nonce with the directory. Nonces that
        # Pebble rejects on purpose (20 %) are retried and counted separately.
        assert client.nonce_fetches == 1
        assert client.request_count - client.bad_nonce_retries == 9


async def test_ten_names_and_directory_nonce(pebble: Any) -> None:
    async with _client(pebble) as client:
        directory = await client.directory()
        assert client.request_count == 1
        assert directory.renewal_info and "shortlived" in directory.meta.profiles
        await client.new_account(terms_agreed=True)
        assert client.nonce_fetches == 1  # Pebble sends no Replay-Nonce with the directory
        names = _names(pebble, 10)
        certs, _, order = await _issue(client, pebble, [Identifier.dns(n) for n in names])
        assert len(order.authorizations) == 10
        _verify_chain(pebble, certs)
        san = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)


async def test_ip_identifier(pebble: Any) -> None:
    async with _client(pebble) as client:
        await client.new_account(terms_agreed=True)
        certs, _, _ = await _issue(client, pebble, [Identifier.ip("127.0.0.1")])
        san = certs[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
        _verify_chain(pebble, certs)


@pytest.mark.pebble_new
async def test_shortlived_profile(pebble: Any) -> None:
    async with _client(pebble) as client:
        await client.new_account(terms_agreed=True)
        ids = [Identifier.dns(_names(pebble, 1)[0])]
        certs, _, order = await _issue(client, pebble, ids, profile="shortlived")
        assert order.profile == "shortlived"
        lifetime = certs[0].not_valid_after_utc - certs[0].not_valid_before_utc
        assert timedelta(days=5, hours=23) <= lifetime <= timedelta(days=6, hours=1)


@pytest.mark.pebble_new
async def test_ari_and_replaces(pebble: Any) -> None:
    async with _client(pebble) as client:
        await client.new_account(terms_agreed=True)
        ids = [Identifier.dns(_names(pebble, 1)[0])]
        certs, _, _ = await _issue(client, pebble, ids)
        info = await client.renewal_info(certs[0])
        assert info is not None
        assert info.window_start < info.window_end <= certs[0].not_valid_after_utc
        assert info.window_start > datetime.now(UTC)
        cert_id = client.cert_id(certs[0])
        # Pebble lets pending orders name the same certificate; only an issued one counts.
        order = await client.new_order(ids, replaces=cert_id)
        assert order.replaces == cert_id
        renewed, _, _ = await _issue(client, pebble, ids, replaces=cert_id)
        assert renewed[0].serial_number != certs[0].serial_number
        with pytest.raises(AlreadyReplaced):
            await client.new_order(ids, replaces=cert_id)


async def test_revocation_by_account_and_by_cert_key(pebble: Any) -> None:
    async with _client(pebble) as client:
        await client.new_account(terms_agreed=True)
        first, _, _ = await _issue(client, pebble, [Identifier.dns(_names(pebble, 1)[0])])
        await client.revoke(first[0].public_bytes(serialization.Encoding.DER), reason=4)
        assert pebble.cert_status(format(first[0].serial_number, "x"))["Status"] == "Revoked"

        second, cert_key, _ = await _issue(client, pebble, [Identifier.dns(_names(pebble, 1)[0])])
    # A client with an unrelated account key and no account: the certificate key signs.
    async with _client(pebble) as stranger:
        der = second[0].public_bytes(serialization.Encoding.DER)
        await stranger.revoke(der, cert_key=cert_key)
    assert pebble.cert_status(format(second[0].serial_number, "x"))["Status"] == "Revoked"


async def test_survives_ninety_percent_nonce_rejection(pebble_factory: Any) -> None:
    ca = pebble_factory(nonce_reject=90)
    async with _client(ca, max_bad_nonce_retries=300) as client:
        await client.new_account(terms_agreed=True)
        certs, _, _ = await _issue(client, ca, [Identifier.dns(_names(ca, 1)[0])])
        _verify_chain(ca, certs)
        # About nine in ten POSTs were refused and retried; every retry was counted.
        assert client.bad_nonce_retries >= 20
        assert client.request_count > client.bad_nonce_retries
