"""--allow-subset-of-names: names that fail validation are dropped and the rest ordered again.

Against the scripted CA of test_issuance.py (issuance level) and, for the stored setting and the
renewal path, the renewal runner's World of test_renewal_runner.py.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from test_issuance import (
    BASE,
    CERT_KEY,
    AuthzSpec,
    FakeTime,
    ScriptedCA,
    _Order,
    kinds,
    obtain,
    solvers,
)
from test_renewal_runner import SERVER, World, utcnow

from certsmith import crypto
from certsmith.acme import RejectedIdentifier, ValidationFailed
from certsmith.acme.identifier import Identifier
from certsmith.issuance import IssuanceRequest
from certsmith.renewal.runner import Outcome
from certsmith.renewal.settings import LineageSettings, SettingOverrides
from certsmith.storage import AccountStore

# --- helpers -------------------------------------------------------------------------------


class SlowCA(ScriptedCA):
    """ScriptedCA whose ``slow[value] = (polls, status)`` authorizations stay pending after the
    answer for ``polls`` more fetches, then turn ``status`` (the order may already be invalid).
    The authorization must be given ``AuthzSpec(stall=True)``."""

    def __init__(self, slow: dict[str, tuple[int, str]]) -> None:
        super().__init__()
        self.slow = dict(slow)

    def _authz_json(self, order: _Order, index: int) -> dict[str, Any]:
        authz = order.authzs[index]
        value = authz.ident["value"]
        if authz.answered and value in self.slow:
            polls, final = self.slow[value]
            if polls <= 0:
                authz.status = final
                self.specs[value] = AuthzSpec(fail=final != "valid")  # later orders: at once
            self.slow[value] = (polls - 1, final)
        return super()._authz_json(order, index)


def subset_request(*idents: Identifier, allow: bool = True) -> IssuanceRequest:
    def csr_for(wanted: Sequence[Identifier]) -> bytes:
        return crypto.make_csr(CERT_KEY, wanted)

    return IssuanceRequest(
        identifiers=list(idents),
        csr_der=csr_for(idents),
        preferred_challenges=("http-01", "dns-01"),
        allow_subset=allow,
        csr_for=csr_for,
    )


def dns(*names: str) -> list[Identifier]:
    return [Identifier.dns(n) for n in names]


def ordered(ca: ScriptedCA) -> list[list[str]]:
    return [[i["value"] for i in p["identifiers"]] for p in ca.order_payloads()]


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def finalized_sans(ca: ScriptedCA) -> list[list[str]]:
    out = []
    for path, payload in ca.payloads:
        if path.endswith("/finalize"):
            csr = x509.load_der_x509_csr(b64d(payload["csr"]))
            san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            out.append([str(v) for v in san.get_values_for_type(x509.DNSName)])
    return out


def cert_names(pem: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(str(v) for v in san.get_values_for_type(x509.DNSName))


@pytest.fixture
def ca() -> ScriptedCA:
    return ScriptedCA()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


# --- issuance ------------------------------------------------------------------------------


async def test_failed_name_is_dropped_and_the_rest_ordered_again_with_a_new_csr(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["bad.example"] = AuthzSpec(fail=True)
    by_type = solvers(ca, "http-01")
    request = subset_request(*dns("good.example", "bad.example", "also.example"))
    result = await obtain(ca, fake_time, request, by_type)
    assert result.dropped == [Identifier.dns("bad.example")]
    assert ordered(ca) == [
        ["good.example", "bad.example", "also.example"],
        ["good.example", "also.example"],
    ]
    assert finalized_sans(ca) == [["good.example", "also.example"]]
    assert cert_names(result.cert_pem) == ["also.example", "good.example"]
    # Every challenge of both orders was cleaned up, the first order's before the second order.
    cleaned = [t.identifier.value for t in by_type["http-01"].cleaned]
    assert sorted(cleaned[:3]) == ["also.example", "bad.example", "good.example"]
    assert sorted(cleaned[3:]) == ["also.example", "good.example"]
    second_order = [i for i, e in enumerate(ca.events) if e == ("ca", "POST /new-order")][1]
    assert all(ca.events.index(c) < second_order for c in kinds(ca.events, "cleanup")[:3])


async def test_without_the_flag_the_first_failure_is_raised_and_nothing_reordered(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["bad.example"] = AuthzSpec(fail=True)
    by_type = solvers(ca, "http-01")
    with pytest.raises(ValidationFailed) as caught:
        await obtain(
            ca, fake_time, subset_request(*dns("good.example", "bad.example"), allow=False), by_type
        )
    assert caught.value.identifier == Identifier.dns("bad.example")
    assert len(ordered(ca)) == 1
    assert len(by_type["http-01"].cleaned) == 2


async def test_when_no_name_validates_it_fails_as_usual(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["a.example"] = ca.specs["b.example"] = AuthzSpec(fail=True)
    by_type = solvers(ca, "http-01")
    with pytest.raises(ValidationFailed) as caught:
        await obtain(ca, fake_time, subset_request(*dns("a.example", "b.example")), by_type)
    assert caught.value.identifier in dns("a.example", "b.example")
    assert len(ordered(ca)) == 1
    assert "POST /order/1/finalize" not in ca.paths()
    assert len(by_type["http-01"].cleaned) == 2


async def test_only_one_retry_a_failure_in_the_second_order_is_raised(
    fake_time: FakeTime,
) -> None:
    # c fails only on its second authorization (the retry's), after a failed in the first order.
    ca = ScriptedCA()
    ca.specs["a.example"] = AuthzSpec(fail=True)
    original = ca._new_order

    def new_order(payload: dict[str, Any]) -> httpx.Response:
        if len(ca.orders) == 1:
            ca.specs["c.example"] = AuthzSpec(fail=True)
        return original(payload)

    ca._new_order = new_order  # type: ignore[method-assign]
    by_type = solvers(ca, "http-01")
    with pytest.raises(ValidationFailed) as caught:
        await obtain(
            ca, fake_time, subset_request(*dns("a.example", "b.example", "c.example")), by_type
        )
    assert caught.value.identifier == Identifier.dns("c.example")
    assert ordered(ca) == [["a.example", "b.example", "c.example"], ["b.example", "c.example"]]
    assert len(by_type["http-01"].cleaned) == 5


@pytest.mark.parametrize(("final", "dropped"), [("valid", ["bad"]), ("invalid", ["bad", "slow"])])
async def test_authorizations_still_pending_when_the_order_fails_are_waited_for(
    fake_time: FakeTime, final: str, dropped: list[str]
) -> None:
    ca = SlowCA({"slow.example": (3, final)})
    ca.specs["bad.example"] = AuthzSpec(fail=True)
    ca.specs["slow.example"] = AuthzSpec(stall=True)
    by_type = solvers(ca, "http-01")
    names = dns("ok.example", "bad.example", "slow.example")
    result = await obtain(ca, fake_time, subset_request(*names), by_type)
    dropped_names = [f"{d}.example" for d in dropped]
    assert [i.value for i in result.dropped] == dropped_names
    assert ordered(ca)[1] == [i.value for i in names if i.value not in dropped_names]
    # The slow challenge stayed presented while the CA was still looking at it.
    first_cleanup = ca.events.index(kinds(ca.events, "cleanup")[0])
    slow_polls = [i for i, e in enumerate(ca.events) if e == ("ca", "POST /authz/1/2")]
    assert max(slow_polls) < first_cleanup


async def test_a_pending_authorization_past_the_deadline_raises_the_validation_failure(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["bad.example"] = AuthzSpec(fail=True)
    ca.specs["stuck.example"] = AuthzSpec(stall=True)
    by_type = solvers(ca, "http-01")
    with pytest.raises(ValidationFailed) as caught:
        await obtain(ca, fake_time, subset_request(*dns("bad.example", "stuck.example")), by_type)
    assert caught.value.identifier == Identifier.dns("bad.example")
    assert len(ordered(ca)) == 1
    assert len(by_type["http-01"].cleaned) == 2


async def test_wildcard_and_ip_identifiers_are_matched_as_the_order_names_them(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    ca.specs["*.w.example"] = AuthzSpec(types=("dns-01",), fail=True)
    ca.specs["192.0.2.7"] = AuthzSpec(fail=True)
    by_type = solvers(ca, "http-01", "dns-01")
    names = [Identifier.dns("*.w.example"), Identifier.ip("192.0.2.7"), Identifier.dns("x.example")]
    result = await obtain(ca, fake_time, subset_request(*names), by_type)
    assert result.dropped == names[:2]
    assert ordered(ca)[1] == ["x.example"]
    assert cert_names(result.cert_pem) == ["x.example"]


async def test_identifiers_rejected_at_new_order_are_dropped(
    ca: ScriptedCA, fake_time: FakeTime
) -> None:
    body = {
        "type": "urn:ietf:params:acme:error:rejectedIdentifier",
        "detail": "policy forbids some names",
        "subproblems": [
            {
                "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                "detail": "forbidden",
                "identifier": {"type": "dns", "value": "no.example"},
            }
        ],
    }
    headers = {"Content-Type": "application/problem+json"}
    ca.fault("/new-order", httpx.Response(400, json=body, headers=headers))
    result = await obtain(
        ca, fake_time, subset_request(*dns("yes.example", "no.example")), solvers(ca, "http-01")
    )
    assert result.dropped == [Identifier.dns("no.example")]
    assert ordered(ca)[-1] == ["yes.example"]
    # Without the flag the same answer is the error.
    ca.fault("/new-order", httpx.Response(400, json=body, headers=headers))
    with pytest.raises(RejectedIdentifier):
        await obtain(
            ca,
            fake_time,
            subset_request(*dns("yes.example", "no.example"), allow=False),
            solvers(ca, "http-01"),
        )


def test_allow_subset_without_a_csr_builder_is_refused() -> None:
    with pytest.raises(ValueError, match="csr_for"):
        IssuanceRequest(identifiers=dns("a.example"), csr_der=b"", allow_subset=True)


# --- the stored setting ----------------------------------------------------------------------


def test_renewalparams_read_and_write_allow_subset_of_names_as_certbot_does() -> None:
    assert LineageSettings.from_renewalparams(
        {"allow_subset_of_names": "True"}
    ).allow_subset_of_names
    assert not LineageSettings.from_renewalparams(
        {"allow_subset_of_names": "False"}
    ).allow_subset_of_names
    assert not LineageSettings.from_renewalparams({}).allow_subset_of_names
    on = LineageSettings(allow_subset_of_names=True).to_renewalparams()
    assert on["allow_subset_of_names"] == "True"
    assert "allow_subset_of_names" not in LineageSettings().to_renewalparams()
    # Not given on the command line (None) keeps the stored value.
    kept = SettingOverrides(allow_subset_of_names=None).apply(
        LineageSettings(allow_subset_of_names=True)
    )
    assert kept.allow_subset_of_names


# --- renewal honours it ----------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> World:
    config_dir = tmp_path / "etc"
    account_key = ec.generate_private_key(ec.SECP256R1())
    ident = AccountStore(config_dir).save(
        SERVER, account_key, f"{BASE}/acct/1", {"status": "valid", "contact": []}
    )
    return World(config_dir, ScriptedCA(finalize_valid=True), ident)


def add_lineage(world: World, allow: bool) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert_pem = world.ca.issuer.leaf_for(
        key, ["a.example", "b.example"], not_before=utcnow() - datetime.timedelta(days=10)
    )
    params: dict[str, Any] = {
        "authenticator": "manual",
        "manual_auth_hook": "true",
        "server": SERVER,
        "account": world.account_id,
        "key_type": "ecdsa",
    }
    if allow:
        params["allow_subset_of_names"] = "True"
    store = world.store
    conf = store.new_conf("a", params)
    store.save_version(
        "a",
        crypto.private_key_pem(key),
        cert_pem.encode(),
        world.ca.issuer.chain_a.encode(),
        conf=conf,
    )
    # a is already valid (no solver runs); b's authorization is invalid from the start.
    world.ca.specs["a.example"] = AuthzSpec(status="valid")
    world.ca.specs["b.example"] = AuthzSpec(status="invalid")


async def test_renewal_with_the_stored_flag_drops_the_failed_name_and_keeps_the_flag(
    world: World,
) -> None:
    add_lineage(world, allow=True)
    results = await world.renew(force=True)
    assert results["a"].outcome is Outcome.RENEWED, results["a"].error
    assert any("b.example" in note for note in results["a"].notes)
    lineage = world.store.load("a")
    assert lineage.deployed_version == 2
    assert lineage.identifiers == (Identifier.dns("a.example"),)
    assert lineage.conf.renewalparams.get_str("allow_subset_of_names") == "True"
    assert ordered(world.ca) == [["a.example", "b.example"], ["a.example"]]


async def test_renewal_without_the_flag_fails_naming_the_name(world: World) -> None:
    add_lineage(world, allow=False)
    results = await world.renew(force=True)
    assert results["a"].outcome is Outcome.FAILED
    assert isinstance(results["a"].error, ValidationFailed)
    assert "b.example" in str(results["a"].error)
    assert world.store.load("a").deployed_version == 1
    assert json.dumps(ordered(world.ca)) == json.dumps([["a.example", "b.example"]])
