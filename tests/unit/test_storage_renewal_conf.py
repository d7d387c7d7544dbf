"""certbot renewal conf parsing and writing (certsmith.storage.renewal_conf)."""

from __future__ import annotations

import pytest

from certsmith.errors import LineageCorrupt
from certsmith.storage.renewal_conf import RenewalConf, parse_value, quote_value

# As certbot 5.x writes it (configobj), plus comments and keys certsmith does not know.
CERTBOT_CONF = """\
# renew_before_expiry = 30 days
version = 5.8.0
archive_dir = /etc/letsencrypt/archive/example.com
cert = /etc/letsencrypt/live/example.com/cert.pem
privkey = /etc/letsencrypt/live/example.com/privkey.pem
chain = /etc/letsencrypt/live/example.com/chain.pem
fullchain = /etc/letsencrypt/live/example.com/fullchain.pem
renew_before_expiry = 20 days
future_top_key = "kept, verbatim"

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef0123456789abcdef
authenticator = webroot
webroot_path = /var/www/html, "/srv/odd, path"
server = https://acme-v02.api.letsencrypt.org/directory
key_type = ecdsa
pref_challs = http-01,
manual_public_ip_logging_ok = None
some_plugin_option = "it's # not a comment" # but this is
[[webroot_map]]
example.com = /var/www/html
www.example.com = /var/www/html
[acme_renewal_info]
ari_retry_after = 2026-01-01T00:00:00
"""


def test_parse_certbot_conf() -> None:
    conf = RenewalConf.parse(CERTBOT_CONF)
    assert conf.get("version") == "5.8.0"
    assert conf.path("privkey") == "/etc/letsencrypt/live/example.com/privkey.pem"
    assert conf.get("renew_before_expiry") == "20 days"
    params = conf.renewalparams
    assert params.get("webroot_path") == ["/var/www/html", "/srv/odd, path"]
    assert params.get("pref_challs") == ["http-01"]
    assert params.get_list("authenticator") == ["webroot"]
    assert params.get("some_plugin_option") == "it's # not a comment"
    assert params.sections["webroot_map"].values == {
        "example.com": "/var/www/html",
        "www.example.com": "/var/www/html",
    }
    assert conf.root.sections["acme_renewal_info"].get("ari_retry_after") == "2026-01-01T00:00:00"


def test_round_trip_is_byte_identical_for_canonical_text() -> None:
    assert RenewalConf.parse(CERTBOT_CONF).serialize() == CERTBOT_CONF


def test_rewrite_preserves_unknown_keys_and_comments() -> None:
    conf = RenewalConf.parse(CERTBOT_CONF)
    conf.root.set("version", "5.9.0")
    conf.set_renewalparams(
        {
            "account": "ffff",
            "authenticator": "webroot",
            "server": "https://acme-v02.api.letsencrypt.org/directory",
            "webroot_map": {"example.com": "/srv/new"},
            "webroot_path": ["/srv/new"],
        }
    )
    text = conf.serialize()
    again = RenewalConf.parse(text)
    assert again.get("future_top_key") == "kept, verbatim"
    assert "# Options used in the renewal process" in text
    assert "# renew_before_expiry = 30 days" in text
    assert again.renewalparams.get("account") == "ffff"
    assert again.renewalparams.get("key_type") is None  # dropped like certbot's atomic_rewrite
    assert again.renewalparams.sections["webroot_map"].values == {"example.com": "/srv/new"}
    assert "acme_renewal_info" in again.root.sections
    # Scalars of a section come before its subsections, or they would land in the subsection.
    assert text.index("webroot_path = /srv/new,") < text.index("[[webroot_map]]")


def test_new_conf_shape() -> None:
    conf = RenewalConf.new(
        "/c/archive/n",
        {k: f"/c/live/n/{k}.pem" for k in ("cert", "privkey", "chain", "fullchain")},
        {"authenticator": "standalone", "pref_challs": ["http-01"], "webroot_map": {}},
        "5.8.0",
    )
    lines = conf.serialize().splitlines()
    assert lines[:3] == [
        "version = 5.8.0",
        "archive_dir = /c/archive/n",
        "cert = /c/live/n/cert.pem",
    ]
    assert lines[6:] == [
        "[renewalparams]",
        "authenticator = standalone",
        "pref_challs = http-01,",
        "[[webroot_map]]",
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("", '""'),
        ("a, b", '"a, b"'),
        (" lead", '" lead"'),
        ("has#hash", '"has#hash"'),
        ('say "hi"', "'say \"hi\"'"),
        ('it\'s "both"', "'''it's \"both\"'''"),
        ([], ","),
        (["one"], "one,"),
        (["a", "b, c", ""], 'a, "b, c", ""'),
    ],
)
def test_quoting_round_trips(value: str | list[str], text: str) -> None:
    assert quote_value(value) == text
    assert parse_value(text) == (value, "")


@pytest.mark.parametrize(
    "text",
    ['"unterminated', "'''multi", '"a" b', "a,,b"],
)
def test_bad_values(text: str) -> None:
    with pytest.raises(ValueError):
        parse_value(text)


@pytest.mark.parametrize(
    "text",
    [
        "just words\n",
        "[renewalparams]\n[[[too_deep]]]\n",
        "a = 1\na = 2\n",
        "[x]\n[x]\n",
        "[unbalanced]]\n",
        'value = "open\n',
    ],
)
def test_bad_files_are_lineage_corrupt(text: str) -> None:
    with pytest.raises(LineageCorrupt, match="Line"):
        RenewalConf.parse(text)


def test_missing_path_is_lineage_corrupt() -> None:
    with pytest.raises(LineageCorrupt, match="privkey"):
        RenewalConf.parse("cert = /x\n").path("privkey")
