"""[renewalparams] as certbot 5.8 writes and reads them: the deploy hook under either name, the
retired ACMEv1 URL, `autorenew = False` (certbot's --no-autorenew), and a dry run that simulates
every lineage, due or not."""

from __future__ import annotations

import pytest
from test_renewal_runner import World, world

from certsmith.cli.args import parse_args
from certsmith.cli.common import setting_overrides
from certsmith.cli.options import CertonlyOptions
from certsmith.renewal.runner import Outcome
from certsmith.renewal.settings import LETSENCRYPT, LineageSettings

__all__ = ["world"]


def test_deploy_hook_key_is_read_and_written_back_as_renew_hook() -> None:
    settings = LineageSettings.from_renewalparams({"deploy_hook": "systemctl reload nginx"})
    assert settings.deploy_hook == "systemctl reload nginx"
    out = settings.to_renewalparams()
    assert out["renew_hook"] == "systemctl reload nginx"
    assert "deploy_hook" not in out
    both = LineageSettings.from_renewalparams({"renew_hook": "a", "deploy_hook": "b"})
    assert both.deploy_hook == "a"  # certbot writes renew_hook; it wins


def test_acme_v1_url_becomes_the_v2_directory() -> None:
    v1 = "https://acme-v01.api.letsencrypt.org/directory"
    assert LineageSettings.from_renewalparams({"server": v1}).server == LETSENCRYPT


@pytest.mark.parametrize(("stored", "expected"), [(None, True), ("True", True), ("False", False)])
def test_autorenew_round_trip(stored: str | None, expected: bool) -> None:
    params = {"autorenew": stored} if stored is not None else {}
    settings = LineageSettings.from_renewalparams(params)
    assert settings.autorenew is expected
    out = settings.to_renewalparams()
    assert out.get("autorenew", "True") == str(expected)


def test_no_autorenew_flag_is_stored() -> None:
    options = parse_args(
        ["certonly", "--standalone", "-d", "a.example", "--no-autorenew"], environ={}, is_root=True
    )
    assert isinstance(options, CertonlyOptions)
    overrides = setting_overrides(
        options.common,
        options.key,
        options.challenge,
        options.hooks,
        options.issuance,
        options.account,
    )
    assert overrides.autorenew is False
    assert not any("autorenew" in note for note in options.common.ignored_flags)
    plain = parse_args(["certonly", "--standalone", "-d", "a.example"], environ={}, is_root=True)
    assert isinstance(plain, CertonlyOptions)
    assert setting_overrides(
        plain.common, plain.key, plain.challenge, plain.hooks, plain.issuance, plain.account
    ).autorenew is None  # fmt: skip


def _disable_autorenew(world: World, name: str) -> None:
    conf = world.store.conf_path(name)
    conf.write_text(
        conf.read_text().replace("[renewalparams]", "[renewalparams]\nautorenew = False")
    )


async def test_autorenew_off_is_not_renewed_unless_forced(world: World) -> None:
    world.add_lineage("a", "a.example", renew_before_expiry="85 days")
    _disable_autorenew(world, "a")
    results = await world.renew()
    assert results["a"].outcome is Outcome.NOT_DUE
    assert "autorenew" in results["a"].reason
    assert world.ca.order_payloads() == []
    assert world.hook_commands() == []
    forced = await world.renew(force=True)
    assert forced["a"].outcome is Outcome.RENEWED


async def test_dry_run_simulates_a_lineage_that_is_not_due(world: World) -> None:
    world.add_lineage("a", "a.example")
    _disable_autorenew(world, "a")  # certbot simulates it all the same
    results = await world.renew(dry_run=True)
    assert results["a"].outcome is Outcome.RENEWED
    assert len(world.ca.order_payloads()) == 1
    assert world.store.load("a").deployed_version == 1


def test_certbot_dns_acmedns_lineages_use_the_acme_dns_authenticator() -> None:
    from certsmith.renewal.settings import LineageSettings

    settings = LineageSettings.from_renewalparams(
        {
            "authenticator": "dns-acmedns",
            "dns_acmedns_credentials": "/etc/letsencrypt/acmedns.ini",
            "server": "https://acme-v02.api.letsencrypt.org/directory",
        }
    )
    assert settings.authenticator == "dns-acme-dns"
    assert settings.dns_credentials == "/etc/letsencrypt/acmedns.ini"


def test_dash_a_dns_acmedns_is_accepted() -> None:
    from certsmith.cli.args import parse_args

    command = parse_args(
        ["certonly", "-a", "dns-acmedns", "-d", "example.com"], environ={}, is_root=False
    )
    authenticator = command.challenge.authenticator  # type: ignore[union-attr]
    assert str(authenticator) == "dns-acme-dns"


def test_a_certbot_dns_acmedns_lineage_is_written_back_under_its_own_names() -> None:
    from certsmith.renewal.settings import LineageSettings

    params = {
        "authenticator": "dns-acmedns",
        "dns_acmedns_credentials": "/etc/letsencrypt/acmedns.ini",
        "server": "https://acme-v02.api.letsencrypt.org/directory",
    }
    written = LineageSettings.from_renewalparams(params).to_renewalparams()
    assert written["authenticator"] == "dns-acmedns"
    assert written["dns_acmedns_credentials"] == "/etc/letsencrypt/acmedns.ini"
    assert "dns_acme_dns_credentials" not in written


def test_switching_away_from_dns_acmedns_writes_the_new_authenticator() -> None:
    from certsmith.renewal.settings import LineageSettings

    settings = LineageSettings.from_renewalparams({"authenticator": "dns-acmedns"})
    moved = settings.replace(authenticator="webroot", webroot_map={"a.example": "/srv"})
    assert moved.to_renewalparams()["authenticator"] == "webroot"
