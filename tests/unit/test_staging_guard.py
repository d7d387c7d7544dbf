"""A staging certificate never replaces a production lineage, nor the reverse, unless
--break-my-certs (certbot's _avoid_invalidating_lineage, made two-way); a dry run is exempt."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_renewal_runner import SERVER, World, world

from certsmith.acme.identifier import Identifier
from certsmith.ca_urls import LETSENCRYPT, LETSENCRYPT_STAGING
from certsmith.cli.args import parse_args
from certsmith.errors import UsageError
from certsmith.renewal.runner import Outcome
from certsmith.renewal.settings import SettingOverrides
from certsmith.renewal.staging_guard import check_staging_switch, is_staging

__all__ = ["world"]  # the fixture, shared with test_renewal_runner

NAMES = [Identifier.dns("a.example")]
TEST_CA = "https://acme-staging.ca.test/dir"  # a lineage of test certificates


def staging_lineage(world: World, name: str = "a") -> None:
    world.add_lineage(name, "a.example")
    conf = world.store.read_conf(name)
    conf.renewalparams.set("server", TEST_CA)
    world.store.write_conf(name, conf)


def test_staging_is_recognised_as_certbot_does() -> None:
    assert is_staging(LETSENCRYPT_STAGING) and is_staging(TEST_CA)
    assert not is_staging(LETSENCRYPT) and not is_staging(SERVER)


@pytest.mark.parametrize(
    ("lineage", "new"), [(LETSENCRYPT, LETSENCRYPT_STAGING), (LETSENCRYPT_STAGING, LETSENCRYPT)]
)
def test_a_switch_between_test_and_real_ca_is_refused_unless_break_my_certs(
    lineage: str, new: str
) -> None:
    with pytest.raises(UsageError, match="--break-my-certs"):
        check_staging_switch(lineage, new, NAMES, break_my_certs=False, dry_run=False)
    check_staging_switch(lineage, new, NAMES, break_my_certs=True, dry_run=False)
    check_staging_switch(lineage, new, NAMES, break_my_certs=False, dry_run=True)
    check_staging_switch(lineage, lineage, NAMES, break_my_certs=False, dry_run=False)


def test_staging_over_production_has_certbots_message() -> None:
    with pytest.raises(UsageError) as caught:
        check_staging_switch(LETSENCRYPT, TEST_CA, NAMES, break_my_certs=False, dry_run=False)
    assert str(caught.value) == (
        "You've asked to renew/replace a seemingly valid certificate with a test certificate "
        "(domains: a.example). We will not do that unless you use the --break-my-certs flag!"
    )


async def test_renew_staging_on_a_production_lineage_is_refused_before_any_order(
    world: World,
) -> None:
    world.add_lineage("a", "a.example")
    overrides = SettingOverrides(server=LETSENCRYPT_STAGING)
    results = await world.renew(overrides=overrides, force=True)
    assert results["a"].outcome is Outcome.FAILED
    assert "--break-my-certs" in str(results["a"].error)
    assert world.ca.order_payloads() == []
    assert world.store.load("a").deployed_version == 1


async def test_renew_production_on_a_staging_lineage_needs_break_my_certs(world: World) -> None:
    staging_lineage(world)
    overrides = SettingOverrides(server=SERVER)
    refused = await world.renew(overrides=overrides, force=True)
    assert refused["a"].outcome is Outcome.FAILED and world.ca.order_payloads() == []
    allowed = await world.renew(overrides=overrides, force=True, break_my_certs=True)
    assert allowed["a"].outcome is Outcome.RENEWED, allowed["a"].error
    assert world.store.load("a").deployed_version == 2


async def test_renew_from_the_lineages_own_ca_is_not_refused(world: World) -> None:
    world.add_lineage("a", "a.example")  # SERVER both sides
    results = await world.renew(force=True)
    assert results["a"].outcome is Outcome.RENEWED, results["a"].error


@pytest.mark.parametrize("flag", ["", "--break-my-certs"])
def test_break_my_certs_reaches_the_certonly_request_and_renew_options(
    tmp_path: Path, flag: str
) -> None:
    from certsmith.cli.cmd_certonly import request_for

    certonly = parse_args(
        ["certonly", "--standalone", "-d", "a.example", "--config-dir", str(tmp_path)]
        + ([flag] if flag else []),
        environ={"HOME": str(tmp_path)},
        is_root=False,
    )
    request = request_for(certonly, "a.example", tuple(NAMES), True)
    assert request.break_my_certs is bool(flag)
    renew = parse_args(
        ["renew", "--config-dir", str(tmp_path)] + ([flag] if flag else []),
        environ={"HOME": str(tmp_path)},
        is_root=False,
    )
    assert renew.issuance.break_my_certs is bool(flag)
