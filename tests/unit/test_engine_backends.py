"""A lineage's whole life through the one engine, on both storage backends.

issue (version 1, cached state) -> forced renewal (version 2, new serial, `replaces` sent since
the CA offers ARI) -> revoke (the cached state says revoked, so the next check says due) ->
delete (no lineage left). The engine only sees ``Stores``: the file backend
(``file_stores``) and the in-memory one (``memory_stores``) must behave alike, and the deploy
hook must get the lineage's live folder as the backend names it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from test_issuance import AuthzSpec, ScriptedCA
from test_renewal_runner import SERVER

from certsmith import crypto
from certsmith.acme import AcmeClient
from certsmith.acme.identifier import Identifier
from certsmith.errors import LineageCorrupt
from certsmith.renewal.engine import Engine, LineageRequest, Outcome
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.hooks import CommandOutcome, HookRunner
from certsmith.renewal.settings import SettingOverrides
from certsmith.storage.filesystem import file_stores
from certsmith.storage.interface import Stores
from certsmith.storage.memory import memory_stores
from support.scripted_acme import BASE

NAME = "a.example"
DEPLOY_HOOK = "deploy-hook"
REASON_SUPERSEDED = 4


class RevokingCA(ScriptedCA):
    """ScriptedCA that also accepts revokeCert (RFC 8555 section 7.6) and records it."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.revoked: list[dict[str, Any]] = []

    def _dispatch(self, path: str, payload: Any) -> httpx.Response:
        if path == "/revoke":
            self.revoked.append(payload)
            return httpx.Response(200)
        return super()._dispatch(path, payload)


@dataclass
class Run:
    """The stores of one backend, the scripted CA, and the hook commands run."""

    config_dir: Path
    stores: Stores
    ca: RevokingCA
    commands: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def record(self, command: str, *, env: Mapping[str, str], timeout: float) -> CommandOutcome:
        self.commands.append((command, dict(env)))
        return CommandOutcome(0)

    def engine(self) -> Engine:
        env = RunEnvironment(self.config_dir, transport=self.ca.transport, stores=self.stores)
        hooks = HookRunner(config_dir=self.config_dir, runner=self.record, base_env={})
        return Engine(env, hooks)

    def deploy_envs(self) -> list[dict[str, str]]:
        return [env for command, env in self.commands if command == DEPLOY_HOOK]


@pytest.fixture(params=["files", "memory"])
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Run:
    config_dir = tmp_path / "etc"
    stores = file_stores(config_dir) if request.param == "files" else memory_stores()
    stores.accounts.save(
        SERVER,
        ec.generate_private_key(ec.SECP256R1()),
        f"{BASE}/acct/1",
        {"status": "valid", "contact": []},
    )
    ca = RevokingCA(finalize_valid=True)
    ca.specs[NAME] = AuthzSpec(status="valid")  # the manual hook never has to publish
    return Run(config_dir, stores, ca)


def new_lineage_request() -> LineageRequest:
    return LineageRequest(
        NAME,
        identifiers=(Identifier.dns(NAME),),
        overrides=SettingOverrides(
            authenticator="manual", manual_auth_hook="true", deploy_hook=DEPLOY_HOOK
        ),
        new_lineage=SettingOverrides(server=SERVER),
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_issue_renew_revoke_delete_through_one_engine(run: Run) -> None:
    stores = run.stores
    live_dir = str(stores.lineages.live_paths(NAME)["cert"].parent)

    # Issue: a new lineage, deployed as version 1, its facts cached for its revision.
    async with run.engine() as engine:
        issued = await engine.obtain_lineage(new_lineage_request())
    assert issued.outcome is Outcome.RENEWED and issued.previous is None
    first = stores.lineages.load(NAME)
    assert first.deployed_version == 1
    assert first.identifiers == (Identifier.dns(NAME),)
    first_cert = first.certificate()
    assert crypto.key_matches_certificate(
        crypto.load_private_key(first.private_key_pem()), first_cert
    )
    state = stores.states.load(NAME, stores.lineages.revision(NAME))
    assert state is not None and state.serial == first_cert.serial_number
    assert "replaces" not in run.ca.order_payloads()[0]
    assert [e["RENEWED_LINEAGE"] for e in run.deploy_envs()] == [live_dir]
    assert run.deploy_envs()[0]["RENEWED_DOMAINS"] == NAME

    # Renew (forced, the lineage's own names and stored settings): version 2 replaces 1.
    async with run.engine() as engine:
        renewed = await engine.obtain_lineage(LineageRequest(NAME, force=True))
    assert renewed.outcome is Outcome.RENEWED
    second = stores.lineages.load(NAME)
    assert second.deployed_version == 2
    second_cert = second.certificate()
    assert second_cert.serial_number != first_cert.serial_number
    old_id = AcmeClient.cert_id(first_cert)
    assert run.ca.order_payloads()[-1]["replaces"] == old_id
    assert renewed.replaced == old_id
    revision = stores.lineages.revision(NAME)
    state = stores.states.load(NAME, revision)
    assert state is not None and state.serial == second_cert.serial_number
    assert not state.revoked
    # The deploy hook was stored with the lineage and got the same live folder again.
    assert [e["RENEWED_LINEAGE"] for e in run.deploy_envs()] == [live_dir, live_dir]

    # Revoke: the CA gets the deployed certificate; the cache remembers; renew would replace it.
    async with run.engine() as engine:
        assert (await engine.due.verdict(NAME)).due is False  # 90-day cert, fresh
        await engine.revoke_lineage(NAME, REASON_SUPERSEDED)
    (revocation,) = run.ca.revoked
    assert revocation == {
        "certificate": b64url(second_cert.public_bytes(Encoding.DER)),
        "reason": REASON_SUPERSEDED,
    }
    state = stores.states.load(NAME, revision)
    assert state is not None and state.revoked
    async with run.engine() as engine:
        verdict = await engine.due.verdict(NAME)
    assert verdict.due is True, verdict
    assert "revoked" in verdict.reason

    # Delete: nothing left, not even the cached state.
    async with run.engine() as engine:
        engine.delete_lineage(NAME)
    assert stores.lineages.names() == []
    assert not stores.lineages.exists(NAME)
    with pytest.raises(LineageCorrupt):
        stores.lineages.load(NAME)
    assert stores.states.load(NAME, revision) is None
    assert len(run.deploy_envs()) == 2  # revoking and deleting deploy nothing
