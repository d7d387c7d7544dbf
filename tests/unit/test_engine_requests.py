"""How many requests the engine sends the CA (counted by the scripted CA, HEADs included).

One engine keeps one ACME client per CA and account for the run (renewal/ca.py), so a run reads
the CA's directory once however many lineages or registrations it handles, and a single-name
issuance costs no more round trips than RFC 8555 needs:

    GET /dir, HEAD /nonce, POST /new-order, POST /authz, POST /chall, POST /order (ready),
    POST /order/finalize, POST /order (valid), POST /cert
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from test_issuance import ScriptedCA
from test_renewal_runner import SERVER, World

from certsmith.acme.identifier import Identifier
from certsmith.renewal.engine import Engine, LineageRequest, Outcome
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.events import QuietEvents
from certsmith.renewal.hooks import CommandOutcome, HookRunner
from certsmith.renewal.settings import SettingOverrides
from certsmith.storage import AccountStore, LineageStore
from support.scripted_acme import BASE

NAME = "a.example"

# What a single-name order with one pending authorization costs (see the module docstring).
MAX_REQUESTS_PER_ISSUANCE = 9


class StrictNonceCA(ScriptedCA):
    """Replay-Nonce only where RFC 8555 section 6.5 requires one (POST answers, newNonce), as
    a CA may: the client must then fetch its first nonce with ``HEAD newNonce``. (ScriptedCA
    also sends one with every GET, which saves that request.)"""

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = super().handle(request)
        if request.method == "GET":
            del response.headers["Replay-Nonce"]
        return response


def _no_hook(command: str, *, env: object, timeout: float) -> CommandOutcome:
    raise AssertionError(f"no hook is configured, yet {command!r} ran")


def webroot_request(tmp_path: Path) -> LineageRequest:
    """A new lineage for NAME, proven over http-01 by files in a webroot (no network needed:
    the CA's authorization is pending and turns valid once the challenge is answered)."""
    webroot = tmp_path / "www"
    webroot.mkdir(exist_ok=True)
    return LineageRequest(
        NAME,
        identifiers=(Identifier.dns(NAME),),
        overrides=SettingOverrides(authenticator="webroot", webroot_map={NAME: str(webroot)}),
        new_lineage=SettingOverrides(server=SERVER),
    )


async def issue(ca: ScriptedCA, config_dir: Path, request: LineageRequest) -> Outcome:
    env = RunEnvironment(config_dir, transport=ca.transport, events=QuietEvents(agree_tos=True))
    hooks = HookRunner(config_dir=config_dir, runner=_no_hook, base_env={})
    async with Engine(env, hooks) as engine:
        result = await engine.obtain_lineage(request)
    assert result.lineage is not None and result.lineage.deployed_version == 1
    return result.outcome


async def test_first_issuance_without_an_account_reads_the_directory_once(
    tmp_path: Path,
) -> None:
    ca = StrictNonceCA()
    config_dir = tmp_path / "etc"  # fresh: no account stored

    outcome = await issue(ca, config_dir, webroot_request(tmp_path))

    assert outcome is Outcome.RENEWED
    paths = ca.paths(heads=True)
    # Registering the account and ordering share one client: one directory, one first nonce.
    assert paths.count("GET /dir") == 1, paths
    assert paths.count("HEAD /nonce") == 1, paths
    assert paths.index("POST /new-acct") < paths.index("POST /new-order")
    assert paths.count("POST /new-acct") == 1
    (account_id,) = AccountStore(config_dir).ids(SERVER)
    conf = LineageStore(config_dir).read_conf(NAME)
    assert conf.renewalparams.get("account") == account_id
    assert ca.payloads[0] == ("/new-acct", {"contact": [], "termsOfServiceAgreed": True})


@pytest.mark.parametrize(
    ("make_ca", "expected"),
    [
        pytest.param(
            StrictNonceCA,
            ["GET /dir", "HEAD /nonce", "POST /new-order", "POST /authz/1/0",
             "POST /chall/1/0/http-01", "POST /order/1", "POST /order/1/finalize",
             "POST /order/1", "POST /cert/1"],
            id="nonces-only-on-posts",
        ),
        pytest.param(
            ScriptedCA,
            ["GET /dir", "POST /new-order", "POST /authz/1/0", "POST /chall/1/0/http-01",
             "POST /order/1", "POST /order/1/finalize", "POST /order/1", "POST /cert/1"],
            id="nonce-with-the-directory",
        ),
    ],
)  # fmt: skip
async def test_one_single_name_issuance_with_a_stored_account_makes_at_most_nine_requests(
    tmp_path: Path, make_ca: type[ScriptedCA], expected: list[str]
) -> None:
    ca = make_ca()  # the authorization is pending; finalize answers "processing"
    config_dir = tmp_path / "etc"
    AccountStore(config_dir).save(
        SERVER,
        ec.generate_private_key(ec.SECP256R1()),
        f"{BASE}/acct/1",
        {"status": "valid", "contact": []},
    )

    outcome = await issue(ca, config_dir, webroot_request(tmp_path))

    assert outcome is Outcome.RENEWED
    paths = ca.paths(heads=True)
    assert len(paths) <= MAX_REQUESTS_PER_ISSUANCE, paths
    assert Counter(paths)["GET /dir"] == 1
    assert Counter(paths)["HEAD /nonce"] <= 1  # each answer brings the next request's nonce
    assert "POST /new-acct" not in paths  # the stored account is used as stored
    assert paths == expected  # the sequence counted (see the module docstring)


@pytest.mark.parametrize("parallel", [1, 2])
async def test_two_lineages_renewed_in_one_run_read_the_directory_once(
    tmp_path: Path, parallel: int
) -> None:
    config_dir = tmp_path / "etc"
    account = AccountStore(config_dir).save(
        SERVER,
        ec.generate_private_key(ec.SECP256R1()),
        f"{BASE}/acct/1",
        {"status": "valid", "contact": []},
    )
    world = World(config_dir, ScriptedCA(finalize_valid=True), account)
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    world.add_lineage("b", "b.example", renew_before_expiry="85 days")

    results = await world.renew(parallel=parallel)

    assert {r.outcome for r in results.values()} == {Outcome.RENEWED}
    assert len(world.ca.order_payloads()) == 2
    paths = world.ca.paths(heads=True)
    assert paths.count("GET /dir") == 1, paths
