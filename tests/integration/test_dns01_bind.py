"""dns-01 over RFC 2136 against a real BIND9 (Debian package bind9; see tests/support/bind.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.message
import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.dns01 import DnsSolver, PropagationChecker, txt_value
from certsmith.challenges.dns01.rfc2136 import Rfc2136Provider
from certsmith.dnsutil import make_resolver
from certsmith.errors import SolverError
from support.bind import BindServer, named_path
from support.fake_dns import FakeDnsServer

pytestmark = [
    pytest.mark.bind,
    pytest.mark.skipif(
        named_path() is None, reason="BIND9 `named` not installed: apt-get install -y bind9"
    ),
]

ZONES = {
    "example.test": [
        "www A 127.0.0.1",
        "_acme-challenge.alias CNAME alias.acme.example.test.",
    ],
    # A zone whose second nameserver (127.0.0.2, a stale fake) never receives updates.
    "lagging.test": ["@ NS ns2.lagging.test.", "ns2 A 127.0.0.2"],
}


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[BindServer]:
    with BindServer(tmp_path / "bind", ZONES) as server:
        yield server


def credentials_file(tmp_path: Path, bind: BindServer, secret: str | None = None) -> Path:
    path = tmp_path / "rfc2136.ini"
    path.write_text(
        f"dns_rfc2136_server = {bind.host}\n"
        f"dns_rfc2136_port = {bind.port}\n"
        f"dns_rfc2136_name = {bind.key_name}\n"
        f"dns_rfc2136_secret = {secret or bind.key_secret}\n"
        f"dns_rfc2136_algorithm = {bind.key_algorithm.upper()}\n"
        "dns_rfc2136_sign_query = true\n"
    )
    path.chmod(0o600)
    return path


def checker_for(bind: BindServer, timeout: float = 5.0) -> PropagationChecker:
    """Authoritative mode: SOA/NS walk through BIND, then ask each NS on BIND's port."""
    return PropagationChecker(
        resolver=make_resolver(bind.address, timeout=2.0),
        nameserver_port=bind.port,
        timeout=timeout,
        interval=0.2,
        query_timeout=1.0,
    )


def task(name: str, token: str) -> ChallengeTask:
    return ChallengeTask(Identifier.dns(name), "dns-01", token, f"{token}.thumbprint")


async def txt_on(bind: BindServer, name: str) -> set[str]:
    response = await dns.asyncquery.tcp(
        dns.message.make_query(name, "TXT"), bind.host, port=bind.port, timeout=2.0
    )
    return {b"".join(r.strings).decode() for rrset in response.answer for r in rrset}


async def test_present_propagate_cleanup_on_bind(tmp_path: Path, bind: BindServer) -> None:
    provider = Rfc2136Provider.from_credentials_file(credentials_file(tmp_path, bind))
    solver = DnsSolver(provider, checker_for(bind))
    tasks = [
        task("example.test", "t1"),
        task("*.example.test", "t2"),
        task("www.example.test", "t3"),
        task("alias.example.test", "t4"),  # CNAME into alias.acme.example.test
    ]
    for t in tasks:
        await solver.present(t)
    apex = {txt_value(tasks[0].key_authorization), txt_value(tasks[1].key_authorization)}
    assert await txt_on(bind, "_acme-challenge.example.test") == apex
    assert await txt_on(bind, "alias.acme.example.test") == {txt_value(tasks[3].key_authorization)}
    await solver.settle(tasks)
    for t in tasks:
        await solver.cleanup(t)
    assert await txt_on(bind, "_acme-challenge.example.test") == set()
    assert await txt_on(bind, "_acme-challenge.www.example.test") == set()
    assert await txt_on(bind, "alias.acme.example.test") == set()


async def test_wrong_tsig_secret_is_a_clear_solver_error(tmp_path: Path, bind: BindServer) -> None:
    wrong = "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmc="
    provider = Rfc2136Provider.from_credentials_file(credentials_file(tmp_path, bind, wrong))
    solver = DnsSolver(provider, checker_for(bind))
    with pytest.raises(SolverError, match=r"rejected TSIG key 'certsmith-test\.'"):
        await solver.present(task("www.example.test", "t1"))
    assert await txt_on(bind, "_acme-challenge.www.example.test") == set()


async def test_key_unknown_to_bind_fails_at_the_update(tmp_path: Path, bind: BindServer) -> None:
    """Unsigned SOA walk succeeds; the update, signed with a key BIND lacks, is rejected."""
    creds = credentials_file(tmp_path, bind)
    text = creds.read_text().replace("sign_query = true", "sign_query = false")
    creds.write_text(text.replace(f"name = {bind.key_name}", "name = other-key."))
    provider = Rfc2136Provider.from_credentials_file(creds)
    with pytest.raises(SolverError, match=r"rejected TSIG key 'other-key\.'.*adding TXT"):
        await provider.add_txt("_acme-challenge.www.example.test", "x" * 43)


async def test_never_served_record_times_out_and_cleanup_still_runs(
    tmp_path: Path, bind: BindServer
) -> None:
    try:
        stale = FakeDnsServer(
            {"lagging.test": {"@": [("NS", "ns1.lagging.test."), ("NS", "ns2.lagging.test.")]}},
            host="127.0.0.2",
            port=bind.port,
        ).start()
    except OSError as exc:
        pytest.skip(f"cannot bind 127.0.0.2:{bind.port}: {exc}")
    try:
        provider = Rfc2136Provider.from_credentials_file(credentials_file(tmp_path, bind))
        solver = DnsSolver(provider, checker_for(bind, timeout=1.0))
        t = task("www.lagging.test", "t1")
        await solver.present(t)
        with pytest.raises(SolverError) as caught:
            await solver.settle([t])
        message = str(caught.value)
        assert "after 1s" in message
        assert (
            "ns2.lagging.test served no TXT (NXDOMAIN) for _acme-challenge.www.lagging.test"
            in message
        )
        assert "ns1.lagging.test" not in message
        assert await txt_on(bind, "_acme-challenge.www.lagging.test") == {
            txt_value(t.key_authorization)
        }
        await solver.cleanup(t)
        assert await txt_on(bind, "_acme-challenge.www.lagging.test") == set()
    finally:
        stale.stop()


@pytest.mark.pebble
async def test_wildcard_certificate_through_pebble_and_bind(
    tmp_path: Path, bind: BindServer, pebble_factory: Callable[..., Any]
) -> None:
    """End to end: Pebble resolves through BIND, certsmith writes there with RFC 2136."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from certsmith.acme import AcmeClient
    from certsmith.crypto import make_csr
    from certsmith.issuance import IssuanceRequest, obtain_certificate

    ca = pebble_factory(dns_server=bind.address)
    provider = Rfc2136Provider.from_credentials_file(credentials_file(tmp_path, bind))
    solver = DnsSolver(provider, checker_for(bind))
    identifiers = [Identifier.dns("example.test"), Identifier.dns("*.example.test")]
    request = IssuanceRequest(
        identifiers=identifiers,
        csr_der=make_csr(ec.generate_private_key(ec.SECP256R1()), identifiers),
        preferred_challenges=("dns-01",),
    )
    key = ec.generate_private_key(ec.SECP256R1())
    async with AcmeClient(
        ca.directory_url, key, ca_bundle=ca.ca_bundle, first_poll_delay=0.3
    ) as client:
        await client.new_account([], terms_agreed=True)
        result = await obtain_certificate(client, request, {"dns-01": solver}, deadline_seconds=60)
    cert = x509.load_pem_x509_certificate(result.cert_pem.encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == ["*.example.test", "example.test"]
    assert await txt_on(bind, "_acme-challenge.example.test") == set()  # cleaned up
