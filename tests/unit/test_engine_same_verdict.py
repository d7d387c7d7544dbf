"""`certonly` and `renew` give the same verdict for the same lineage.

Both commands now decide through the engine's one DueChecker. Each case builds two config dirs
holding the very same certificate (same key, serial and dates) and the same stored account: in
one, `renew`'s check phase (``Renewer.check``, which renews nothing) gives its verdict; in the
other, the command line `certonly -d NAME ...` is parsed, turned into the engine request by
``cmd_certonly.request_for`` and run through ``Engine.obtain_lineage``. The two worlds are
separate so certonly decides from scratch, not from what renew cached.
(``Renewer.decide``: the check and ARI phases, no renewal.)

The cases where the old certonly disagreed: a 6-day certificate 3.5 days old (due under the
half-lifetime rule for certificates under 10 days; the old fixed one-third rule said not due)
and ``renew_before_expiry`` (the old certonly ignored it).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from test_issuance import AuthzSpec, ScriptedCA
from test_renewal_runner import SERVER

from certsmith import crypto
from certsmith.cli.args import parse_args
from certsmith.cli.cmd_certonly import request_for
from certsmith.cli.options import CertonlyOptions
from certsmith.renewal.check import Verdict
from certsmith.renewal.engine import Engine, LineageResult, Outcome
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.hooks import CommandOutcome, HookRunner
from certsmith.renewal.runner import Renewer, RenewPlan
from certsmith.storage import AccountStore, LineageStore
from support.scripted_acme import BASE

NAME = "a.example"
DAY = datetime.timedelta(days=1)
PAST_WINDOW = ("2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")
FAR_WINDOW = ("2099-01-01T00:00:00Z", "2099-01-02T00:00:00Z")


@dataclass(frozen=True)
class Case:
    days: int  # the certificate's lifetime
    age: datetime.timedelta
    due: bool  # what both commands must say
    renew_before_expiry: str | None = None
    ari_window: tuple[str, str] | None = None  # None: the CA offers no ARI


CASES = [
    pytest.param(Case(90, 10 * DAY, False), id="90d-aged-10d-not-due"),
    pytest.param(Case(90, 70 * DAY, True), id="90d-aged-70d-due"),
    pytest.param(Case(6, 2 * DAY, False), id="6d-aged-2d-not-due"),
    # The half-lifetime rule for short-lived certificates: due after 3 of 6 days (the old
    # certonly's one-third rule waited for 4 and said not due).
    pytest.param(Case(6, 3.5 * DAY, True), id="6d-aged-3.5d-due-by-half-lifetime"),
    # renew_before_expiry wins over the lifetime rule (the old certonly ignored it).
    pytest.param(Case(90, 10 * DAY, True, "85 days"), id="90d-aged-10d-renew-before-85d"),
    pytest.param(Case(6, 2 * DAY, True, "5 days"), id="6d-aged-2d-renew-before-5d"),
    # The CA's renewal information counts for both: a window that has passed makes a young
    # certificate due, a window far ahead keeps an old one (the CA asked for that).
    pytest.param(Case(90, 10 * DAY, True, ari_window=PAST_WINDOW), id="90d-aged-10d-ari-passed"),
    pytest.param(Case(90, 70 * DAY, False, ari_window=FAR_WINDOW), id="90d-aged-70d-ari-ahead"),
]


class Deployment:
    """One certificate and key, deployed identically into any number of config dirs."""

    def __init__(self, ca: ScriptedCA, case: Case, now: datetime.datetime) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.account_key = ec.generate_private_key(ec.SECP256R1())
        self.cert_pem = ca.issuer.leaf_for(
            self.key, [NAME], not_before=now - case.age, days=case.days
        )
        self.chain = ca.issuer.chain_a
        self.case = case

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem.encode())

    def into(self, config_dir: Path) -> None:
        account = AccountStore(config_dir).save(
            SERVER, self.account_key, f"{BASE}/acct/1", {"status": "valid", "contact": []}
        )
        params: dict[str, Any] = {
            "authenticator": "manual",
            "manual_auth_hook": "true",
            "server": SERVER,
            "account": account,
            "key_type": "ecdsa",
        }
        store = LineageStore(config_dir)
        conf = store.new_conf(NAME, params)
        if self.case.renew_before_expiry:
            conf.root.set("renew_before_expiry", self.case.renew_before_expiry)
        store.save_version(
            NAME,
            crypto.private_key_pem(self.key),
            self.cert_pem.encode(),
            self.chain.encode(),
            conf=conf,
        )


def _no_hook(command: str, *, env: Any, timeout: float) -> CommandOutcome:
    raise AssertionError(f"no hook is configured, yet {command!r} ran")


def hooks(config_dir: Path) -> HookRunner:
    return HookRunner(config_dir=config_dir, runner=_no_hook, base_env={})


async def renew_verdict(ca: ScriptedCA, config_dir: Path, now: datetime.datetime) -> Verdict:
    env = RunEnvironment(config_dir, transport=ca.transport, now=lambda: now)
    renewer = Renewer(env, RenewPlan(), hooks(config_dir))
    try:
        (verdict,) = await renewer.decide([NAME])
    finally:
        await renewer.close_clients()
    return verdict


def certonly_options(config_dir: Path, tmp_path: Path) -> CertonlyOptions:
    argv = [
        "certonly",
        "-d", NAME,
        "--server", SERVER,
        "--non-interactive",
        "--no-preflight",
        "--config-dir", str(config_dir),
        "--work-dir", str(tmp_path / "work"),
        "--logs-dir", str(tmp_path / "logs"),
    ]  # fmt: skip
    options = parse_args(argv, environ={}, is_root=True)
    assert isinstance(options, CertonlyOptions)
    return options


async def certonly_result(
    ca: ScriptedCA, config_dir: Path, tmp_path: Path, now: datetime.datetime
) -> LineageResult:
    options = certonly_options(config_dir, tmp_path)
    identifiers = tuple(dict.fromkeys(crypto.normalize_names(options.domains)))
    request = request_for(options, NAME, identifiers, exists=True)
    assert not request.force and not request.preflight  # the verdict is what decides
    env = RunEnvironment(config_dir, transport=ca.transport, now=lambda: now)
    async with Engine(env, hooks(config_dir)) as engine:
        return await engine.obtain_lineage(request)


@pytest.mark.parametrize("case", CASES)
async def test_certonly_and_renew_give_the_same_verdict_for_the_same_lineage(
    tmp_path: Path, case: Case
) -> None:
    ca = ScriptedCA(finalize_valid=True, with_ari=case.ari_window is not None)
    if case.ari_window is not None:
        ca.ari_window = case.ari_window
    ca.specs[NAME] = AuthzSpec(status="valid")
    now = datetime.datetime.now(datetime.UTC)
    deployment = Deployment(ca, case, now)
    renew_dir, certonly_dir = tmp_path / "renew-etc", tmp_path / "certonly-etc"
    deployment.into(renew_dir)
    deployment.into(certonly_dir)

    verdict = await renew_verdict(ca, renew_dir, now)
    assert ca.order_payloads() == []  # the check phase renews nothing
    result = await certonly_result(ca, certonly_dir, tmp_path, now)

    assert verdict.due is case.due, verdict.reason
    assert (result.outcome is Outcome.RENEWED) is verdict.due, (verdict.reason, result)
    certonly_orders = ca.order_payloads()
    deployed = LineageStore(certonly_dir).load(NAME)
    if case.due:
        assert len(certonly_orders) == 1
        assert deployed.deployed_version == 2
        assert deployed.certificate().serial_number != deployment.certificate.serial_number
    else:
        assert result.outcome is Outcome.NOT_DUE
        assert result.reason == verdict.reason  # the very same rule gave the very same words
        assert certonly_orders == []
        assert deployed.deployed_version == 1
    assert LineageStore(renew_dir).load(NAME).deployed_version == 1
