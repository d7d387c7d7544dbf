"""A first issuance that died before its lineage existed is finished by the re-run, no new order.

The certificate the CA issued is kept in ``.certsmith-state/pending/NAME.json`` before the
lineage is touched (keep_issued.py). Here the save of a new lineage fails (``os.replace`` into
``archive/NAME/`` raises EIO, as a kill or a full disk would leave it: a kept record and no
renewal conf); the same request run again installs the kept certificate as the new lineage,
with the conf the order would have written, deploys it and drops the copy, when it is what
the re-run would order: the same names, CA, account and key type, still valid.
"""

from __future__ import annotations

import datetime
import errno
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from test_disk_errors import failing_for
from test_issuance import ScriptedCA

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.errors import DiskWriteFailed
from certsmith.renewal import keep_issued
from certsmith.renewal.engine import Engine, HookCommands, LineageRequest, LineageResult, Outcome
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.events import QuietEvents
from certsmith.renewal.hooks import CommandOutcome, HookRunner
from certsmith.renewal.settings import SettingOverrides
from certsmith.storage import AccountStore, LineageStore
from certsmith.storage.filesystem import file_stores
from certsmith.storage.pending import PendingStore
from support.scripted_acme import BASE

SERVER = f"{BASE}/dir"
NAME = "first.example"


class Run:
    """The engine against one scripted CA and config dir; hook commands recorded."""

    def __init__(self, tmp_path: Path) -> None:
        self.config_dir = tmp_path / "etc"
        self.webroot = tmp_path / "www"
        self.webroot.mkdir()
        self.ca = ScriptedCA(finalize_valid=True)
        self.hooks: list[str] = []
        self.account_id = self.new_account()

    def new_account(self) -> str:
        key = ec.generate_private_key(ec.SECP256R1())
        meta = {"status": "valid", "contact": []}
        return AccountStore(self.config_dir).save(SERVER, key, f"{BASE}/acct/1", meta)

    def request(self, *names: str, key_type: str = "ecdsa") -> LineageRequest:
        values = names or (NAME,)
        return LineageRequest(
            NAME,
            identifiers=tuple(Identifier.dns(n) for n in values),
            overrides=SettingOverrides(
                authenticator="webroot",
                webroot_map={n: str(self.webroot) for n in values},
                key_type=key_type,
            ),
            new_lineage=SettingOverrides(server=SERVER),
            hooks=HookCommands(deploy="deploy-hook"),
        )

    def record(self, command: str, *, env: object, timeout: float) -> CommandOutcome:
        self.hooks.append(command)
        return CommandOutcome(0)

    async def obtain(
        self, request: LineageRequest, now: datetime.datetime | None = None
    ) -> LineageResult:
        clock = {"now": (lambda: now)} if now is not None else {}
        env = RunEnvironment(
            self.config_dir, transport=self.ca.transport, events=QuietEvents(), **clock
        )
        hooks = HookRunner(config_dir=self.config_dir, runner=self.record, base_env={})
        async with Engine(env, hooks) as engine:
            return await engine.obtain_lineage(request)

    async def killed_first_issuance(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A first issuance whose certificate was kept but never became a lineage."""
        with monkeypatch.context() as patch:
            patch.setattr(os, "replace", failing_for(NAME, errno.EIO))
            with pytest.raises(DiskWriteFailed):
                await self.obtain(self.request())
        assert not LineageStore(self.config_dir).exists(NAME)
        assert self.kept().exists()
        assert self.orders() == 1

    def kept(self) -> Path:
        return self.config_dir / ".certsmith-state" / "pending" / f"{NAME}.json"

    def orders(self) -> int:
        return len(self.ca.order_payloads())


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


async def test_the_rerun_installs_the_kept_certificate_as_the_new_lineage_without_an_order(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    await run.killed_first_issuance(monkeypatch)
    kept = PendingStore(run.config_dir).load(NAME)
    assert kept is not None
    issued = crypto.load_certificates(kept.cert_pem)[0]

    result = await run.obtain(run.request())

    assert run.orders() == 1, "the re-run ordered again"
    assert result.outcome is Outcome.RENEWED and result.reason == keep_issued.KEPT_REASON
    assert result.previous is None  # reported as a new certificate, not a renewal
    lineage = LineageStore(run.config_dir).load(NAME)
    assert lineage.certificate() == issued
    key = crypto.load_private_key(lineage.private_key_pem())
    assert crypto.key_matches_certificate(key, lineage.certificate())
    # The conf the order would have written: account, CA, authenticator and webroot.
    params = lineage.conf.renewalparams
    assert params.get_str("account") == run.account_id
    assert params.get_str("server") == SERVER
    assert params.get_str("authenticator") == "webroot"
    assert run.hooks == ["deploy-hook"]
    assert not run.kept().exists()
    again = await run.obtain(run.request())
    assert again.outcome is Outcome.NOT_DUE and run.orders() == 1


async def test_a_kept_certificate_of_another_account_is_not_reused(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    await run.killed_first_issuance(monkeypatch)
    AccountStore(run.config_dir).delete(SERVER, run.account_id)
    other = run.new_account()

    result = await run.obtain(run.request())

    assert run.orders() == 2
    assert result.reason != keep_issued.KEPT_REASON
    conf = LineageStore(run.config_dir).read_conf(NAME)
    assert conf.renewalparams.get_str("account") == other
    assert not run.kept().exists()  # dropped after the new certificate was deployed


@pytest.mark.parametrize(
    "change",
    ["other-names", "other-key-type", "expired"],
)
async def test_a_kept_certificate_unlike_the_rerun_order_is_not_reused(
    run: Run, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    await run.killed_first_issuance(monkeypatch)
    request, now = run.request(), None
    if change == "other-names":
        request = run.request(NAME, f"www.{NAME}")
    elif change == "other-key-type":
        request = run.request(key_type="rsa")
    else:
        now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=400)

    result = await run.obtain(request, now)

    assert run.orders() == 2, "the kept certificate was installed"
    assert result.reason != keep_issued.KEPT_REASON
    assert result.lineage is not None
    assert set(result.lineage.identifiers) == set(request.identifiers or ())


async def test_a_rerun_of_duplicate_goes_on_under_the_name_it_was_creating(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    await run.killed_first_issuance(monkeypatch)
    pending = PendingStore(run.config_dir)
    kept = pending.load(NAME)
    assert kept is not None
    pending.save("base.example-0002", kept)
    pending.save("base.example-x001", kept)
    stores, names = file_stores(run.config_dir), (Identifier.dns(NAME),)

    assert keep_issued.unfinished_duplicate(stores, "base.example", names) == "base.example-0002"
    other_names = (Identifier.dns(NAME), Identifier.dns(f"www.{NAME}"))
    assert keep_issued.unfinished_duplicate(stores, "base.example", other_names) is None
    assert keep_issued.unfinished_duplicate(stores, "other.example", names) is None
    assert kept.key_pem is not None
    stores.lineages.save_version("base.example-0002", kept.key_pem, kept.cert_pem, kept.chain_pem)
    assert keep_issued.unfinished_duplicate(stores, "base.example", names) is None  # finished
