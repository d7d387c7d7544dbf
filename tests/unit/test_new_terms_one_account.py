"""A CA's new terms of service (``userActionRequired``) stop one account's renewals, never
silently agreed to, while the lineages of the run's other accounts still renew."""

from __future__ import annotations

import json

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from test_acme_jws import b64d
from test_renewal_runner import BASE, SERVER, World, world

from certsmith.acme import UserActionRequired
from certsmith.renewal.runner import Outcome
from certsmith.storage import AccountStore
from support.scripted_acme import problem

__all__ = ["world"]  # the fixture, shared with test_renewal_runner


def protected_header(request: httpx.Request) -> dict[str, object]:
    if request.method != "POST":
        return {}
    header: dict[str, object] = json.loads(b64d(json.loads(request.content)["protected"]))
    return header


def refuse_new_orders_of(world: World, kid: str) -> None:
    """newOrder from account ``kid`` answers userActionRequired (new terms to agree to)."""
    handle = world.ca.handle

    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/new-order" and protected_header(request).get("kid") == kid:
            world.ca.requests.append(request)
            response = problem("userActionRequired", 403)
            body = json.loads(response.content) | {"instance": f"{BASE}/terms/v2"}
            return httpx.Response(403, json=body, headers=dict(response.headers))
        return handle(request)

    world.ca.transport = httpx.MockTransport(respond)


async def test_new_terms_for_one_account_fail_its_lineages_only_and_agree_to_nothing(
    world: World,
) -> None:
    second = AccountStore(world.config_dir).save(
        SERVER, ec.generate_private_key(ec.SECP256R1()), f"{BASE}/acct/2",
        {"status": "valid", "contact": []},
    )  # fmt: skip
    world.add_lineage("a", "a.example")
    world.add_lineage("b", "b.example")
    conf = world.store.read_conf("b")
    conf.renewalparams.set("account", second)
    world.store.write_conf("b", conf)
    refuse_new_orders_of(world, f"{BASE}/acct/2")

    results = await world.renew(force=True)

    assert results["a"].outcome is Outcome.RENEWED
    assert results["b"].outcome is Outcome.FAILED
    assert isinstance(results["b"].error, UserActionRequired)
    assert world.store.load("b").deployed_version == 1  # still served, untouched
    assert "/new-acct" not in [p for p, _ in world.ca.payloads]  # nothing re-agreed
    assert not any(
        isinstance(payload, dict) and payload.get("termsOfServiceAgreed")
        for _, payload in world.ca.payloads
    )
