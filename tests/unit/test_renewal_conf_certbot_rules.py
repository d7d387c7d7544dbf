"""How certbot 5.8 updates [renewalparams] from a command line, and certsmith the same way:
--user-agent stored and used on renewal; --reuse-key / --no-reuse-key / --new-key; webroot_path
only from -w; --key-type that would change an existing lineage's key type."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from certsmith import crypto
from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.webroot import WebrootSolver
from certsmith.cli.args import parse_args
from certsmith.cli.cmd_certonly import _check_key_type_change, request_for
from certsmith.cli.common import setting_overrides
from certsmith.cli.console import Console
from certsmith.cli.options import CertonlyOptions, RenewOptions
from certsmith.cli.prompt import NonInteractivePrompter, TTYPrompter
from certsmith.errors import UsageError
from certsmith.preflight.messages import Catalogue
from certsmith.renewal import issue
from certsmith.renewal.ca import read_directory
from certsmith.renewal.environment import RunEnvironment
from certsmith.renewal.key_change import KeyTypeChange, key_type_change, private_key_type
from certsmith.renewal.settings import LineageSettings, SettingOverrides
from certsmith.renewal.solvers import SolverContext, solvers_for
from certsmith.storage.interface import LineageStorage
from certsmith.storage.lineage_model import Lineage

NAME = "a.example"
SERVER = "https://127.0.0.1:14000/dir"


def _parse(line: str) -> Any:
    return parse_args(line.split(), environ={}, is_root=True)


def _overrides(line: str) -> SettingOverrides:
    o = _parse(line)
    assert isinstance(o, CertonlyOptions | RenewOptions)
    return setting_overrides(o.common, o.key, o.challenge, o.hooks, o.issuance, o.account)


def _stored(**values: str) -> LineageSettings:
    return LineageSettings.from_renewalparams({"authenticator": "standalone", **values})


# --- user_agent (certbot renewal.py STR_CONFIG_ITEMS) -----------------------------------------


def test_user_agent_flag_is_stored_but_not_its_comment() -> None:
    given = _overrides("certonly --standalone -d a.example --user-agent corpus/1.0")
    assert given.apply(LineageSettings()).to_renewalparams()["user_agent"] == "corpus/1.0"
    comment = _overrides("certonly --standalone -d a.example --user-agent-comment c")
    assert "user_agent" not in comment.apply(LineageSettings()).to_renewalparams()


def test_stored_user_agent_is_kept_by_a_renewal_and_replaced_by_a_new_flag() -> None:
    stored = _stored(user_agent="corpus/1.0")
    assert _overrides("renew").apply(stored).to_renewalparams()["user_agent"] == "corpus/1.0"
    again = _overrides("renew --user-agent other/2").apply(stored)
    assert again.to_renewalparams()["user_agent"] == "other/2"


async def test_a_renewal_sends_the_stored_user_agent_not_the_runs_default(
    tmp_path: Path,
) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["User-Agent"])
        urls = ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange")
        return httpx.Response(200, json=dict.fromkeys(urls, SERVER))

    transport = httpx.MockTransport(answer)
    env = RunEnvironment(tmp_path, transport=transport, user_agent="certsmith/default")
    await read_directory(env, LineageSettings(server=SERVER, user_agent="corpus/1.0"))
    await read_directory(env, LineageSettings(server=SERVER))
    assert seen == ["corpus/1.0", "certsmith/default"]


# --- reuse_key / new_key (certbot renewal.py renew_cert, main.py certonly) --------------------


def _order(settings: LineageSettings) -> issue.Order:
    previous = cast(Lineage, object())  # only "is there a previous version" is asked
    return issue.Order(NAME, (Identifier.dns(NAME),), settings, previous=previous)


def test_renew_new_key_makes_a_new_key_once_and_keeps_reuse_key_stored() -> None:
    after = _overrides("renew --new-key").apply(_stored(reuse_key="True"))
    assert after.to_renewalparams()["reuse_key"] == "True"
    assert issue._new_key_pem(_order(after)) is not None  # a new key this time
    plain = _overrides("renew").apply(_stored(reuse_key="True"))
    assert issue._new_key_pem(_order(plain)) is None  # reused next time


def test_reuse_key_with_new_key_replaces_the_key_now_and_reuses_it_later() -> None:
    after = _overrides("renew --reuse-key --new-key").apply(_stored())
    assert after.to_renewalparams()["reuse_key"] == "True"
    assert issue._new_key_pem(_order(after)) is not None


def test_no_reuse_key_stores_false() -> None:
    after = _overrides("renew --no-reuse-key").apply(_stored(reuse_key="True"))
    assert after.to_renewalparams()["reuse_key"] == "False"
    assert issue._new_key_pem(_order(after)) is not None


@pytest.mark.parametrize(("flag", "stored"), [("", "False"), ("--reuse-key", "True")])
def test_certonly_on_an_existing_lineage_reuses_the_key_only_with_reuse_key_now(
    tmp_path: Path, flag: str, stored: str
) -> None:
    options = _parse(f"certonly --standalone -d {NAME} --config-dir {tmp_path} {flag}")
    request = request_for(options, NAME, (Identifier.dns(NAME),), True)
    after = request.overrides.apply(_stored(reuse_key="True"))
    assert after.to_renewalparams()["reuse_key"] == stored
    assert (issue._new_key_pem(_order(after)) is None) is (stored == "True")


# --- webroot_path (certbot: the -w folders; --webroot-map alone writes none) -------------------


def test_webroot_map_alone_writes_no_webroot_path() -> None:
    given = _overrides('certonly --webroot --webroot-map {"a.example":"/srv/a"}')
    out = given.apply(LineageSettings()).to_renewalparams()
    assert out["webroot_map"] == {"a.example": "/srv/a"}
    assert "webroot_path" not in out
    renewed = _overrides("renew").apply(LineageSettings.from_renewalparams(out))
    assert "webroot_path" not in renewed.to_renewalparams()


def test_webroot_path_lists_the_w_folders_in_order_not_the_maps() -> None:
    line = "certonly --webroot -w /srv/b -d b.example -w /srv/a -d a.example"
    given = _overrides(line + ' --webroot-map {"c.example":"/srv/c"}')
    out = given.apply(LineageSettings()).to_renewalparams()
    assert out["webroot_path"] == ["/srv/b", "/srv/a"]
    assert out["webroot_map"] == {
        "b.example": "/srv/b",
        "a.example": "/srv/a",
        "c.example": "/srv/c",
    }
    kept = _overrides("renew").apply(LineageSettings.from_renewalparams(out))
    assert kept.to_renewalparams()["webroot_path"] == ["/srv/b", "/srv/a"]


async def test_a_conf_with_webroot_path_only_serves_every_name_from_its_last_folder(
    tmp_path: Path,
) -> None:
    settings = LineageSettings.from_renewalparams(
        {"authenticator": "webroot", "webroot_path": [str(tmp_path / "x"), str(tmp_path)]}
    )
    async with solvers_for(settings, SolverContext()) as solvers:
        solver = solvers["http-01"]
        assert isinstance(solver, WebrootSolver)
        task = ChallengeTask(Identifier.dns(NAME), "http-01", "tok", "tok.thumb")
        assert solver.webroot_for(task) == tmp_path


# --- key type change (certbot main.py _handle_unexpected_key_type_migration) ------------------


@pytest.mark.parametrize(
    ("requested", "named", "expected"),
    [
        (None, False, KeyTypeChange.NONE),
        ("ECDSA", False, KeyTypeChange.NONE),
        ("rsa", True, KeyTypeChange.CONFIRMED),
        ("rsa", False, KeyTypeChange.ASK),
    ],
)
def test_key_type_change_needs_cert_name_or_a_person(
    requested: str | None, named: bool, expected: KeyTypeChange
) -> None:
    assert key_type_change("ecdsa", requested, named=named) is expected


class _OneLineage:
    def __init__(self, key_pem: bytes) -> None:
        self.key_pem = key_pem

    def load(self, name: str) -> Any:
        return type("L", (), {"private_key_pem": lambda _self: self.key_pem})()


def _check(line: str, key_type: str, prompter: Any) -> None:
    pem = crypto.private_key_pem(crypto.generate_private_key(key_type, 2048, "secp256r1"))
    assert private_key_type(pem) == key_type
    store = cast(LineageStorage, _OneLineage(pem))
    options = _parse(f"certonly --standalone -d {NAME} {line}")
    _check_key_type_change(options, store, NAME, prompter, Console(catalogue=Catalogue("en")))


def test_unattended_key_type_change_without_cert_name_is_refused_with_certbots_words() -> None:
    with pytest.raises(UsageError) as refused:
        _check("--key-type rsa", "ecdsa", NonInteractivePrompter())
    assert str(refused.value) == (
        f"Are you trying to change the key type of the certificate named {NAME} from ECDSA to "
        "RSA? Please provide both --cert-name and --key-type on the command line to confirm "
        "the change you are trying to make."
    )


def test_key_type_change_goes_ahead_with_cert_name_or_the_same_type() -> None:
    _check(f"--key-type rsa --cert-name {NAME}", "ecdsa", NonInteractivePrompter())
    _check("--key-type rsa", "rsa", NonInteractivePrompter())
    _check("", "rsa", NonInteractivePrompter())  # not given: the lineage keeps its type


@pytest.mark.parametrize(("answer", "refused"), [("y\n", False), ("n\n", True), ("\n", True)])
def test_a_person_is_asked_before_the_key_type_changes(answer: str, refused: bool) -> None:
    out = io.StringIO()
    prompter = TTYPrompter(io.StringIO(answer), out)
    if refused:
        with pytest.raises(UsageError):
            _check("--key-type rsa", "ecdsa", prompter)
    else:
        _check("--key-type rsa", "ecdsa", prompter)
    assert f"An ECDSA certificate named {NAME} already exists" in out.getvalue()
