"""certsmith.renewal.runner.Renewer, end to end in tmp_path against the scripted CA.

Lineages are real certsmith lineages (LineageStore.save_version) whose certificates come from the
scripted CA's intermediate (so they have an AKI and an RFC 9773 certID); their renewal confs name
``authenticator = manual`` with a ``manual_auth_hook``, the scripted CA's directory and an account
stored with AccountStore. The CA reports every authorization already valid, so the manual solver
is built but never has to publish anything. Hooks go through an injected recording runner.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from test_issuance import BASE, AuthzSpec, ScriptedCA

from certsmith import crypto
from certsmith.acme import AcmeClient
from certsmith.errors import CertsmithError
from certsmith.renewal.check import Verdict
from certsmith.renewal.due import DueChecker, remember_deployed
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.hooks import CommandOutcome, HookRunner
from certsmith.renewal.runner import LineageResult, Outcome, Renewer, RenewPlan
from certsmith.storage import AccountStore, LineageStore
from certsmith.storage.filesystem import file_stores

SERVER = f"{BASE}/dir"
UTC = datetime.UTC


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(UTC)


@dataclass
class World:
    """A config dir with one stored account, the scripted CA, and the hook commands run."""

    config_dir: Path
    ca: ScriptedCA
    account_id: str
    commands: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def store(self) -> LineageStore:
        return LineageStore(self.config_dir)

    def record(self, command: str, *, env: Mapping[str, str], timeout: float) -> CommandOutcome:
        self.commands.append((command, dict(env)))
        return CommandOutcome(0)

    def hook_commands(self) -> list[str]:
        return [c for c, _ in self.commands]

    def hook_env(self, command: str) -> dict[str, str]:
        (env,) = [e for c, e in self.commands if c == command]
        return env

    def add_lineage(
        self,
        name: str,
        *names: str,
        age: datetime.timedelta = datetime.timedelta(days=10),
        renew_before_expiry: str | None = None,
    ) -> x509.Certificate:
        """A 90-day certificate for ``names`` issued ``age`` ago, deployed as version 1."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert_pem = self.ca.issuer.leaf_for(key, names, not_before=utcnow() - age, days=90)
        params: dict[str, Any] = {
            "authenticator": "manual",
            "manual_auth_hook": "true",
            "server": SERVER,
            "account": self.account_id,
            "key_type": "ecdsa",
            "pre_hook": "pre-hook",
            "post_hook": "post-hook",
            "renew_hook": f"deploy-hook {name}",
        }
        store = self.store
        conf = store.new_conf(name, params)
        if renew_before_expiry:
            conf.root.set("renew_before_expiry", renew_before_expiry)
        store.save_version(
            name,
            crypto.private_key_pem(key),
            cert_pem.encode(),
            self.ca.issuer.chain_a.encode(),
            conf=conf,
        )
        for value in names:
            self.ca.specs[value] = AuthzSpec(status="valid")
        return x509.load_pem_x509_certificate(cert_pem.encode())

    async def renew(
        self,
        names: list[str] | None = None,
        *,
        now: Callable[[], datetime.datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **plan: Any,
    ) -> dict[str, LineageResult]:
        hooks = HookRunner(config_dir=self.config_dir, runner=self.record, base_env={})
        env = RunEnvironment(self.config_dir, transport=self.ca.transport, now=now)
        extra = {"sleep": sleep} if sleep is not None else {}
        renewer = Renewer(env, RenewPlan(**plan), hooks, **extra)
        results = await renewer.run(names if names is not None else self.store.names())
        return {r.name: r for r in results}


@pytest.fixture
def world(tmp_path: Path) -> World:
    config_dir = tmp_path / "etc"
    account_key = ec.generate_private_key(ec.SECP256R1())
    ident = AccountStore(config_dir).save(
        SERVER, account_key, f"{BASE}/acct/1", {"status": "valid", "contact": []}
    )
    return World(config_dir, ScriptedCA(finalize_valid=True), ident)


def ari_path(cert: x509.Certificate) -> str:
    return f"/ari/{AcmeClient.cert_id(cert)}"


def assert_unlocked(store: LineageStore, name: str) -> None:
    store.lock(name, blocking=False).release()  # raises LockHeld if the run left it locked


# --- not due --------------------------------------------------------------------------------


async def test_not_due_asks_only_ari_and_leaves_no_lock_and_runs_no_hook(world: World) -> None:
    cert = world.add_lineage("a", "a.example")
    results = await world.renew()
    assert results["a"].outcome is Outcome.NOT_DUE
    assert results["a"].error is None
    assert world.ca.paths() == ["GET /dir", f"GET {ari_path(cert)}"]
    assert world.commands == []  # no renewal attempted: not even the post hook
    assert world.store.load("a").deployed_version == 1
    assert_unlocked(world.store, "a")


# --- renewed --------------------------------------------------------------------------------


async def test_renew_before_expiry_makes_it_due_and_a_new_version_is_deployed(
    world: World,
) -> None:
    old = world.add_lineage("a", "a.example", "www.a.example", renew_before_expiry="85 days")
    old_key_pem = world.store.load("a").private_key_pem()

    results = await world.renew()

    result = results["a"]
    assert result.outcome is Outcome.RENEWED, result
    assert result.replaced == AcmeClient.cert_id(old)
    (order,) = world.ca.order_payloads()
    assert order["replaces"] == AcmeClient.cert_id(old)
    assert sorted(i["value"] for i in order["identifiers"]) == ["a.example", "www.a.example"]
    lineage = world.store.load("a")
    assert lineage.deployed_version == 2
    new = lineage.certificate()
    assert new.serial_number != old.serial_number
    assert crypto.certificate_identifiers(new) == crypto.certificate_identifiers(old)
    assert lineage.private_key_pem() != old_key_pem  # reuse_key is off: a new key
    assert crypto.key_matches_certificate(crypto.load_private_key(lineage.private_key_pem()), new)
    assert (lineage.live_dir / "chain.pem").read_text() == world.ca.issuer.chain_a
    assert_unlocked(world.store, "a")


async def test_hooks_pre_once_deploy_per_lineage_post_once(world: World) -> None:
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    world.add_lineage("b", "b.example", renew_before_expiry="85 days")

    results = await world.renew(parallel=2)

    assert {r.outcome for r in results.values()} == {Outcome.RENEWED}
    commands = world.hook_commands()
    assert commands[0] == "pre-hook" and commands[-1] == "post-hook"
    assert sorted(commands[1:-1]) == ["deploy-hook a", "deploy-hook b"]
    deploy_a = world.hook_env("deploy-hook a")
    assert deploy_a["RENEWED_LINEAGE"] == str(world.store.live_root / "a")
    assert deploy_a["RENEWED_DOMAINS"] == "a.example"
    post = world.hook_env("post-hook")
    assert sorted(post["RENEWED_DOMAINS"].split()) == ["a.example", "b.example"]
    assert post["FAILED_DOMAINS"] == ""


async def test_only_the_due_lineage_is_renewed(world: World) -> None:
    world.add_lineage("due", "due.example", renew_before_expiry="85 days")
    world.add_lineage("fresh", "fresh.example")
    results = await world.renew()
    assert results["due"].outcome is Outcome.RENEWED
    assert results["fresh"].outcome is Outcome.NOT_DUE
    assert world.store.load("fresh").deployed_version == 1
    assert [p["identifiers"] for p in world.ca.order_payloads()] == [
        [{"type": "dns", "value": "due.example"}]
    ]
    assert "deploy-hook fresh" not in world.hook_commands()


async def test_force_renews_a_lineage_that_is_not_due(world: World) -> None:
    world.add_lineage("a", "a.example")
    results = await world.renew(force=True)
    assert results["a"].outcome is Outcome.RENEWED
    assert world.store.load("a").deployed_version == 2


async def test_dry_run_orders_but_deploys_nothing(world: World) -> None:
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    results = await world.renew(dry_run=True)
    assert results["a"].outcome is Outcome.RENEWED
    assert len(world.ca.order_payloads()) == 1
    assert world.store.load("a").deployed_version == 1


async def test_the_first_renewal_delay_runs_once_before_any_hook(world: World) -> None:
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    world.add_lineage("b", "b.example", renew_before_expiry="85 days")
    waits: list[tuple[float, int]] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append((seconds, len(world.commands)))

    results = await world.renew(sleep=fake_sleep, first_renewal_delay=42.0, parallel=2)
    assert {r.outcome for r in results.values()} == {Outcome.RENEWED}
    assert waits == [(42.0, 0)]  # once, and before the pre hook ran


async def test_the_first_renewal_delay_runs_before_any_lineage_is_locked(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, hole 11: a run waiting out its random delay holds no lineage lock, so another
    run (a person's) is not told "locked" for the delay's length."""
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    world.add_lineage("b", "b.example", renew_before_expiry="85 days")
    steps: list[str] = []
    lock = LineageStore.lock

    def recording_lock(self: LineageStore, name: str, *args: Any, **kwargs: Any) -> Any:
        steps.append(f"lock {name}")
        return lock(self, name, *args, **kwargs)

    async def fake_sleep(seconds: float) -> None:
        steps.append(f"sleep {seconds:.0f}")

    monkeypatch.setattr(LineageStore, "lock", recording_lock)
    results = await world.renew(sleep=fake_sleep, first_renewal_delay=42.0, parallel=2)
    assert {r.outcome for r in results.values()} == {Outcome.RENEWED}
    assert steps[0] == "sleep 42", steps
    assert steps.count("sleep 42") == 1 and {"lock a", "lock b"} <= set(steps)


async def test_no_random_delay_when_nothing_is_due(world: World) -> None:
    world.add_lineage("a", "a.example")
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    results = await world.renew(sleep=fake_sleep, first_renewal_delay=42.0)
    assert results["a"].outcome is Outcome.NOT_DUE
    assert waits == []


# --- locked ---------------------------------------------------------------------------------


async def test_a_lineage_locked_by_another_holder_is_skipped(world: World) -> None:
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    world.add_lineage("b", "b.example", renew_before_expiry="85 days")
    with world.store.lock("a"):
        results = await world.renew()
    assert results["a"].outcome is Outcome.LOCKED
    assert "another certsmith run" in results["a"].reason.lower()
    assert results["b"].outcome is Outcome.RENEWED
    assert world.store.load("a").deployed_version == 1
    assert [p["identifiers"][0]["value"] for p in world.ca.order_payloads()] == ["b.example"]
    assert "deploy-hook a" not in world.hook_commands()
    assert_unlocked(world.store, "a")


async def test_a_lineage_that_is_not_due_is_checked_without_its_lock(world: World) -> None:
    world.add_lineage("a", "a.example")
    with world.store.lock("a"):
        results = await world.renew()
    assert results["a"].outcome is Outcome.NOT_DUE


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("parallel", [1, 3])
async def test_a_failing_lineage_does_not_stop_the_others(world: World, parallel: int) -> None:
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    world.add_lineage("bad", "bad.example", "www.bad.example", renew_before_expiry="85 days")
    world.add_lineage("c", "c.example", renew_before_expiry="85 days")
    world.ca.fail_names = {"bad.example"}

    results = await world.renew(parallel=parallel)

    assert results["bad"].outcome is Outcome.FAILED
    assert isinstance(results["bad"].error, CertsmithError)
    assert "rejectedIdentifier" in results["bad"].reason or "scripted" in results["bad"].reason
    assert results["a"].outcome is results["c"].outcome is Outcome.RENEWED
    assert world.store.load("bad").deployed_version == 1
    post = world.hook_env("post-hook")
    assert sorted(post["FAILED_DOMAINS"].split()) == ["bad.example", "www.bad.example"]
    assert sorted(post["RENEWED_DOMAINS"].split()) == ["a.example", "c.example"]
    assert "deploy-hook bad" not in world.hook_commands()
    assert world.hook_commands().count("post-hook") == 1
    assert_unlocked(world.store, "bad")


async def test_an_unreadable_lineage_fails_alone(world: World) -> None:
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    world.add_lineage("broken", "broken.example")
    (world.store.live_root / "broken" / "cert.pem").unlink()
    results = await world.renew()
    assert results["broken"].outcome is Outcome.FAILED
    assert results["broken"].error is not None
    assert results["a"].outcome is Outcome.RENEWED


# --- the ARI cache ----------------------------------------------------------------------------


async def test_second_run_within_retry_after_makes_no_renewal_info_request(
    world: World,
) -> None:
    cert = world.add_lineage("a", "a.example")
    first = await world.renew()
    assert first["a"].outcome is Outcome.NOT_DUE
    assert world.ca.paths().count(f"GET {ari_path(cert)}") == 1
    world.ca.requests.clear()

    second = await world.renew()

    assert second["a"].outcome is Outcome.NOT_DUE
    assert world.ca.paths() == []  # neither ARI nor even the directory


async def test_after_retry_after_ari_is_asked_again(world: World) -> None:
    cert = world.add_lineage("a", "a.example")
    world.ca.ari_retry_after = "3600"
    await world.renew()
    world.ca.requests.clear()

    later = await world.renew(now=lambda: utcnow() + datetime.timedelta(hours=2))

    assert later["a"].outcome is Outcome.NOT_DUE
    assert world.ca.paths() == ["GET /dir", f"GET {ari_path(cert)}"]


async def test_ari_window_in_the_past_makes_it_due(world: World) -> None:
    world.add_lineage("a", "a.example")
    world.ca.ari_window = ("2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")
    results = await world.renew()
    assert results["a"].outcome is Outcome.RENEWED
    assert world.store.load("a").deployed_version == 2


async def test_ari_failure_falls_back_to_the_lifetime_rule(world: World) -> None:
    cert = world.add_lineage("a", "a.example")
    world.ca.fault(ari_path(cert), httpx.Response(404))
    results = await world.renew()
    assert results["a"].outcome is Outcome.NOT_DUE  # 10 days into 90: not due by lifetime
    assert world.commands == []


# --- renewed by someone else between the check and the lock ----------------------------------


async def test_a_lineage_renewed_by_another_process_after_the_check_is_not_renewed_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    look = DueChecker.look

    def check_then_other_process_renews(self: DueChecker, name: str, *args: Any) -> Verdict:
        verdict = look(self, name, *args)  # due: 85 days before expiry of a 90-day cert
        # Right after this run's check, another certsmith renews the lineage (200 days left).
        with world.store.lock("a"):
            key = ec.generate_private_key(ec.SECP256R1())
            pem = world.ca.issuer.leaf_for(key, ["a.example"], days=200)
            lineage = world.store.save_version(
                "a", crypto.private_key_pem(key), pem.encode(), world.ca.issuer.chain_a.encode()
            )
            assert lineage.deployed_version == 2
            remember_deployed(file_stores(world.config_dir), "a")
        return verdict

    monkeypatch.setattr(DueChecker, "look", check_then_other_process_renews)

    results = await world.renew()

    assert world.store.load("a").deployed_version == 2  # the other process's version only
    assert world.ca.order_payloads() == []
    assert results["a"].outcome is Outcome.NOT_DUE


async def test_dry_run_of_a_lets_encrypt_lineage_asks_staging(world: World) -> None:
    from certsmith.renewal.settings import LETSENCRYPT

    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    conf = world.store.read_conf("a")
    conf.renewalparams.set("server", LETSENCRYPT)
    world.store.write_conf("a", conf)
    hosts: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(400, json={"type": "urn:ietf:params:acme:error:malformed"})

    hooks = HookRunner(config_dir=world.config_dir, runner=world.record, base_env={})
    env = RunEnvironment(world.config_dir, transport=httpx.MockTransport(refuse), now=utcnow)
    renewer = Renewer(env, RenewPlan(dry_run=True), hooks)
    (result,) = await renewer.run(["a"])
    assert result.outcome is Outcome.FAILED  # the refusing CA; what matters is who was asked
    assert "acme-staging-v02.api.letsencrypt.org" in hosts
    assert "acme-v02.api.letsencrypt.org" not in hosts
