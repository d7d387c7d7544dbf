"""certbot command lines people use, parsed into certsmith's typed options."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Any

import pytest

from certsmith.ca_urls import LETSENCRYPT, LETSENCRYPT_STAGING
from certsmith.cli.args import parse_args
from certsmith.cli.options import (
    Authenticator,
    CaaCheckOptions,
    CertificatesOptions,
    CertonlyOptions,
    DeleteOptions,
    DoctorOptions,
    HelpRequest,
    RegisterOptions,
    RenewOptions,
    RevokeOptions,
    ShowAccountOptions,
    UnregisterOptions,
    UpdateAccountOptions,
)
from certsmith.errors import UsageError

ENV = {"HOME": "/home/alice"}


def parse(line: str, **kw: Any) -> Any:
    kw.setdefault("environ", ENV)
    kw.setdefault("is_root", False)
    return parse_args(shlex.split(line), **kw)


def test_standalone_two_domains() -> None:
    opts = parse("certonly --standalone -d a.com -d www.a.com")
    assert isinstance(opts, CertonlyOptions)
    assert opts.domains == ("a.com", "www.a.com")
    assert opts.challenge.authenticator is Authenticator.STANDALONE
    assert opts.common.server == LETSENCRYPT
    assert not opts.common.non_interactive
    assert opts.common.set_on_command_line == {"domains", "authenticator"}


def test_webroot_paths_apply_to_the_domains_that_follow() -> None:
    opts = parse("certonly --webroot -w /var/www/a -d a.com -w /var/www/b -d b.com,www.b.com")
    assert opts.domains == ("a.com", "b.com", "www.b.com")
    assert dict(opts.challenge.webroot_map) == {
        "a.com": Path("/var/www/a"),
        "b.com": Path("/var/www/b"),
        "www.b.com": Path("/var/www/b"),
    }
    assert opts.challenge.webroot_for("new.b.com") == Path("/var/www/b")


def test_single_webroot_after_domains_applies_to_all() -> None:
    opts = parse("certonly -d a.com -d b.com --webroot -w /srv/www")
    assert opts.challenge.authenticator is Authenticator.WEBROOT
    assert dict(opts.challenge.webroot_map) == {
        "a.com": Path("/srv/www"),
        "b.com": Path("/srv/www"),
    }


def test_several_webroots_after_domains_is_an_error() -> None:
    with pytest.raises(UsageError, match="must come before all -d"):
        parse("certonly -d a.com -w /srv/a -w /srv/b -d b.com")


def test_webroot_path_alone_selects_webroot_and_map_json_merges() -> None:
    opts = parse("""certonly -w /srv/a -d a.com --webroot-map '{"b.com,c.com": "/srv/b"}'""")
    assert opts.challenge.authenticator is Authenticator.WEBROOT
    assert opts.challenge.webroot_for("c.com") == Path("/srv/b")
    assert opts.challenge.webroot_for("a.com") == Path("/srv/a")
    assert opts.domains == ("a.com", "b.com", "c.com")  # map entries imply -d, as in certbot
    ip = parse("""certonly --webroot-map '{"192.0.2.7": "/srv/ip"}'""")
    assert ip.ip_addresses == ("192.0.2.7",) and ip.domains == ()


def test_manual_dns_wildcard() -> None:
    opts = parse("certonly --manual --preferred-challenges dns -d *.a.com")
    assert opts.domains == ("*.a.com",)
    assert opts.challenge.authenticator is Authenticator.MANUAL
    assert opts.challenge.preferred_challenges == ("dns-01",)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http", ("http-01",)),
        ("dns,http", ("dns-01", "http-01")),
        ("tls-alpn,http-01", ("tls-alpn-01", "http-01")),
        ("DNS-01", ("dns-01",)),
    ],
)
def test_preferred_challenge_aliases(given: str, expected: tuple[str, ...]) -> None:
    assert parse(f"certonly --preferred-challenges {given}").challenge.preferred_challenges == (
        expected
    )


def test_renew_with_deploy_hook_quiet() -> None:
    opts = parse('renew --deploy-hook "systemctl reload nginx" -q')
    assert isinstance(opts, RenewOptions)
    assert opts.hooks.deploy_hook == "systemctl reload nginx"
    assert opts.common.quiet and opts.common.non_interactive


def test_renew_is_always_non_interactive_and_renew_hook_is_deploy_hook() -> None:
    opts = parse("renew --renew-hook /bin/true --parallel 4 --no-random-sleep-on-renew")
    assert opts.common.non_interactive
    assert opts.hooks.deploy_hook == "/bin/true"
    assert opts.parallel == 4 and opts.random_sleep is False


def test_flags_before_the_subcommand_and_verb_anywhere() -> None:
    first = parse("-n --config-dir /tmp/c --staging certonly -d a.com")
    later = parse("-d a.com -n certonly --config-dir /tmp/c --test-cert")
    for opts in (first, later):
        assert isinstance(opts, CertonlyOptions)
        assert opts.common.non_interactive
        assert opts.common.config_dir == Path("/tmp/c")
        assert opts.common.server == LETSENCRYPT_STAGING and opts.common.staging
        assert opts.domains == ("a.com",)


def test_option_value_that_looks_like_a_verb_is_not_the_verb() -> None:
    opts = parse("--cert-name renew certonly -d a.com")
    assert isinstance(opts, CertonlyOptions)
    assert opts.cert_name == "renew"


def test_no_subcommand_means_run_as_in_certbot() -> None:
    from certsmith.cli.options import RunOptions

    assert type(parse("-d a.com --standalone -i null")) is RunOptions
    assert type(parse("everything -d a.com --nginx")) is RunOptions
    assert type(parse("auth -d a.com")) is CertonlyOptions


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("certificates --json", CertificatesOptions),
        ("revoke --cert-path /etc/le/live/a/cert.pem", RevokeOptions),
        ("delete --cert-name a.com", DeleteOptions),
        ("register --agree-tos -m a@b.org", RegisterOptions),
        ("show_account", ShowAccountOptions),
        ("update_account -m new@b.org", UpdateAccountOptions),
        ("unregister", UnregisterOptions),
        ("caa-check -d a.com --issuer letsencrypt.org", CaaCheckOptions),
        ("doctor --json", DoctorOptions),
    ],
)
def test_each_subcommand_parses(line: str, kind: type) -> None:
    opts = parse(line)
    assert type(opts) is kind
    assert opts.verb.value == line.split()[0]


def test_dry_run_uses_staging_and_server_override_wins() -> None:
    assert parse("certonly --dry-run -d a.com").common.server == LETSENCRYPT_STAGING
    custom = parse("renew --dry-run --server https://127.0.0.1:14000/dir")
    assert custom.common.server == "https://127.0.0.1:14000/dir"


def test_staging_conflicts_with_other_server() -> None:
    with pytest.raises(UsageError, match="conflicts with --staging"):
        parse("certonly --staging --server https://127.0.0.1:14000/dir")


def test_dry_run_only_for_certonly_and_renew() -> None:
    with pytest.raises(UsageError, match="--dry-run only works"):
        parse("revoke --dry-run --cert-name a")


def test_key_flags() -> None:
    opts = parse("certonly --key-type rsa --rsa-key-size 4096 --reuse-key -d a.com")
    assert (opts.key.key_type, opts.key.rsa_key_size, opts.key.reuse_key) == ("rsa", 4096, True)
    plain = parse("certonly -d a.com")
    assert plain.key.key_type is None and plain.key.effective_key_type == "ecdsa"
    assert parse("renew --no-reuse-key").key.reuse_key is False


def test_revoke_reason_is_case_insensitive_and_coded() -> None:
    opts = parse("revoke --cert-name a.com --reason KeyCompromise --delete-after-revoke")
    assert opts.reason == "keycompromise" and opts.reason_code == 1
    assert opts.delete_after_revoke is True
    assert parse("revoke --cert-name a.com").delete_after_revoke is None


def test_rollover_shorthand_and_flag() -> None:
    assert parse("rollover").rollover_key is True
    assert parse("update_account --rollover-key").rollover_key is True
    assert parse("update_account -m x@y.org").rollover_key is False


def test_eab_and_email_lists() -> None:
    opts = parse("register --eab-kid kid1 --eab-hmac-key c2VjcmV0 -m 'a@b.org, c@d.org'")
    assert opts.account.eab_kid == "kid1" and opts.account.eab_hmac_alg == "HS256"
    assert opts.account.email == "a@b.org,c@d.org"


def test_ip_addresses_canonical_and_dns_resolver() -> None:
    opts = parse("certonly --ip-address 2001:DB8::0:1 --dns-resolver [::1]:5353")
    assert opts.ip_addresses == ("2001:db8::1",)
    assert opts.common.dns_resolver == ("::1", 5353)


def test_dns_plugin_credentials_follow_the_authenticator(tmp_path: Path) -> None:
    opts = parse(
        "certonly --dns-rfc2136 --dns-rfc2136-credentials /etc/r.ini "
        "--dns-rfc2136-propagation-seconds 30 -d a.com"
    )
    assert opts.challenge.authenticator is Authenticator.DNS_RFC2136
    assert opts.challenge.dns_credentials == Path("/etc/r.ini")
    assert opts.challenge.dns_propagation_seconds == 30


def test_verbose_counts() -> None:
    assert parse("-vvv renew").common.verbose == 3
    assert parse("renew -v --verbose").common.verbose == 2


def test_default_folders_root_and_user() -> None:
    root = parse("certificates", is_root=True).common
    assert (root.config_dir, root.work_dir, root.logs_dir) == (
        Path("/etc/letsencrypt"),
        Path("/var/lib/letsencrypt"),
        Path("/var/log/letsencrypt"),
    )
    user = parse("certificates").common
    assert user.config_dir == Path("/home/alice/.config/certsmith")
    assert user.work_dir == Path("/home/alice/.local/share/certsmith")
    xdg = parse("certificates", environ={"HOME": "/h", "XDG_CONFIG_HOME": "/x"}).common
    assert xdg.config_dir == Path("/x/certsmith")


def test_options_are_frozen() -> None:
    opts = parse("certonly -d a.com")
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.domains = ()  # type: ignore[misc]


def test_help_mentions_every_subcommand() -> None:
    text = parse("--help").text
    for verb in (
        "certonly",
        "renew",
        "certificates",
        "revoke",
        "delete",
        "register",
        "show_account",
        "update_account",
        "unregister",
        "caa-check",
        "doctor",
    ):
        assert verb in text


@pytest.mark.parametrize("line", ["renew --help", "--help renew", "help renew", "renew -h"])
def test_subcommand_help_lists_its_flags(line: str) -> None:
    result = parse(line)
    assert isinstance(result, HelpRequest)
    assert "--parallel" in result.text and "--deploy-hook" in result.text
    assert "--reason" not in result.text  # revoke's flag


def test_help_all_and_version() -> None:
    assert "--eab-hmac-key" in parse("--help all").text
    assert parse("--version").text.startswith("certsmith ")


def test_abbreviations_and_short_clusters_as_in_certbot() -> None:
    opts = parse("certonly --agree --standal -nvd a.com")
    assert opts.account.agree_tos is True
    assert opts.challenge.authenticator is Authenticator.STANDALONE
    assert opts.common.non_interactive and opts.common.verbose == 1
    assert opts.domains == ("a.com",)


def test_verb_after_clustered_short_flags_with_a_value() -> None:
    opts = parse("-nd renew.a.com certonly")
    assert isinstance(opts, CertonlyOptions)
    assert opts.domains == ("renew.a.com",)


def test_flag_of_another_subcommand_is_noted_not_fatal() -> None:
    opts = parse("renew --expand --duplicate")  # (renew -d is refused, as certbot refuses it)
    assert [(i.flag, i.reason) for i in opts.common.ignored_flags] == [
        ("--expand", "not used by renew"),
        ("--duplicate", "not used by renew"),
    ]
