"""The Apache configuration reader, vhost matching and line edits (no apache2 needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from certsmith.errors import UsageError
from certsmith.installers.apache.edits import Splices, directive_line, quote_arg
from certsmith.installers.apache.parser import parse_config, split_args
from certsmith.installers.apache.vhosts import best_matches, find_vhosts, parse_address


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return root


def test_split_args_follows_httpds_quoting_rules() -> None:
    assert split_args("Header set X \"a b\" 'c d'") == ["Header", "set", "X", "a b", "c d"]
    assert split_args(r'LogFormat "say \"hi\"" x') == ["LogFormat", 'say "hi"', "x"]
    assert split_args(r"RewriteCond %{REQUEST_URI} !^/\.well") == [
        "RewriteCond", "%{REQUEST_URI}", r"!^/\.well",
    ]  # fmt: skip
    assert split_args(r"a\\b") == ["a\\b"]


def test_quote_arg_round_trips_through_split_args() -> None:
    for value in ["plain", "/path with space/x.pem", 'say "hi"', r"!^/\.x"]:
        assert split_args(quote_arg(value)) == [value]


def test_includes_with_globs_are_followed_in_name_order_relative_to_server_root(
    tmp_path: Path,
) -> None:
    write(tmp_path, {
        "apache2.conf": "Include ports.conf\nIncludeOptional sites-enabled/*.conf\n"
                        "IncludeOptional conf-enabled/*.conf\n",
        "ports.conf": "Listen 80\n",
        "sites-enabled/b.conf": "<VirtualHost *:80>\nServerName b.test\n</VirtualHost>\n",
        "sites-enabled/a.conf": "<VirtualHost *:80>\nServerName a.test\n</VirtualHost>\n",
        "sites-enabled/skip.txt": "<VirtualHost *:80>\nServerName skip.test\n</VirtualHost>\n",
    })  # fmt: skip
    config = parse_config(tmp_path)
    assert [v.server_name for v in find_vhosts(config)] == ["a.test", "b.test"]
    assert [n.args for n in config.root.find("Listen")] == [["80"]]


def test_a_missing_include_is_an_error_but_a_missing_optional_one_is_not(tmp_path: Path) -> None:
    write(tmp_path, {"apache2.conf": "IncludeOptional nowhere/*.conf\nIncludeOptional gone.conf\n"})
    assert find_vhosts(parse_config(tmp_path)) == []
    write(tmp_path, {"apache2.conf": "Include gone.conf\n"})
    with pytest.raises(UsageError, match=r"gone\.conf: no such file"):
        parse_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<VirtualHost *:80>\nServerName a\n", "is never closed"),
        ("</VirtualHost>\n", "closes no open"),
        ("<VirtualHost *:80>\n</Directory>\n", "closes no open"),
        ("<VirtualHost *:80\n</VirtualHost>\n", "must end with '>'"),
    ],
)
def test_unbalanced_sections_are_refused_with_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    write(tmp_path, {"apache2.conf": text})
    with pytest.raises(UsageError, match=message):
        parse_config(tmp_path)


def test_an_include_loop_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"apache2.conf": "Include a.conf\n", "a.conf": "Include apache2.conf\n"})
    with pytest.raises(UsageError, match="Include loop"):
        parse_config(tmp_path)


def test_continuations_comments_and_ifmodule_are_read_as_httpd_does(tmp_path: Path) -> None:
    write(tmp_path, {"apache2.conf": (
        "LoadModule ssl_module mods/mod_ssl.so\n"
        "#<VirtualHost *:80>\n#ServerName commented.test\n#</VirtualHost>\n"
        "<VirtualHost *:80>\n"
        "    ServerName main.test\n"
        "    ServerAlias one.test \\\n        two.test\n"
        "    # ServerAlias comment.test\n"
        "    <IfModule mod_ssl.c>\n        ServerAlias ssl.test\n    </IfModule>\n"
        "    <IfModule !mod_ssl.c>\n        ServerAlias nossl.test\n    </IfModule>\n"
        "    <IfModule mod_nothing.c>\n        ServerAlias nothing.test\n    </IfModule>\n"
        "    <IfDefine NOPE>\n        ServerAlias nope.test\n    </IfDefine>\n"
        "</VirtualHost>\n"
    )})  # fmt: skip
    (vhost,) = find_vhosts(parse_config(tmp_path))
    assert vhost.names == ("main.test", "one.test", "two.test", "ssl.test")


def test_vhost_matching_ranks_servername_then_alias_then_wildcard(tmp_path: Path) -> None:
    write(tmp_path, {"apache2.conf": (
        "<VirtualHost *:80>\nServerName wild.test\nServerAlias *.shop.test\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName other.test\nServerAlias a.shop.test\n</VirtualHost>\n"
        "<VirtualHost 192.0.2.1:80 [2001:db8::1]:80>\nServerName https://ip.test:80\n"
        "</VirtualHost>\n"
        "<VirtualHost _default_:8080>\nServerName ip.test\n</VirtualHost>\n"
    )})  # fmt: skip
    vhosts = find_vhosts(parse_config(tmp_path))
    assert [v.server_name for v in best_matches(vhosts, "a.shop.test", 80, False)] == ["other.test"]
    assert [v.server_name for v in best_matches(vhosts, "B.Shop.Test.", 80, False)] == ["wild.test"]
    assert best_matches(vhosts, "x.b.shop.test", 80, False)[0].server_name == "wild.test"
    assert best_matches(vhosts, "*.shop.test", 80, False)[0].server_name == "wild.test"
    assert best_matches(vhosts, "nothing.test", 80, False) == []
    ip = best_matches(vhosts, "ip.test", 80, False)
    assert len(ip) == 1 and [str(a) for a in ip[0].addresses] == [
        "192.0.2.1:80",
        "[2001:db8::1]:80",
    ]
    assert [a.host for a in best_matches(vhosts, "ip.test", 8080, False)[0].addresses] == [
        "_default_"
    ]
    assert best_matches(vhosts, "ip.test", 443, True) == []


def test_parse_address_reads_ipv6_default_and_portless_forms() -> None:
    assert parse_address("[2001:db8::1]:443").port == "443"
    assert parse_address("[2001:db8::1]").port == "*"
    assert parse_address("_default_:443").host == "_default_"
    assert parse_address("*").on_port(443)
    assert not parse_address("*:80").on_port(443)


def test_splices_change_only_the_named_lines_and_keep_other_bytes(tmp_path: Path) -> None:
    original = (
        b"# caf\xe9 (latin-1)\r\n<VirtualHost *:80>\r\n\tServerName x.test\r\n"
        b"\tSSLCertificateChainFile /old \\\r\n\t\t/continued\r\n</VirtualHost>"
    )
    write(tmp_path, {"apache2.conf": original})
    config = parse_config(tmp_path)
    (vhost,) = find_vhosts(config)
    (chain,) = vhost.node.find("SSLCertificateChainFile")
    splices = Splices()
    splices.delete(chain)
    splices.before_close(
        vhost.node, [directive_line("\t", "Header", ["always", "set", "A b"], "\r\n")]
    )
    splices.after_open(vhost.node, ["\tFirst on\r\n"])
    (data,) = splices.results().values()
    assert data == (
        b"# caf\xe9 (latin-1)\r\n<VirtualHost *:80>\r\n\tFirst on\r\n\tServerName x.test\r\n"
        b'\tHeader always set "A b"\r\n</VirtualHost>'
    )
