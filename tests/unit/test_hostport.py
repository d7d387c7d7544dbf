"""hostport: IP literals and HOST:PORT text as --dns-resolver and the probes take them."""

from __future__ import annotations

import pytest

from certsmith.hostport import HostPortError, is_ip_literal, parse_host_port


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "2001:db8::5", "[2001:db8::5]"])
def test_ip_addresses_bracketed_or_not_are_ip_literals(host: str) -> None:
    assert is_ip_literal(host)


@pytest.mark.parametrize("host", ["example.com", "localhost", "1.2.3", "", "[example.com]"])
def test_names_and_malformed_addresses_are_not_ip_literals(host: str) -> None:
    assert not is_ip_literal(host)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        ("::1", ("::1", 53)),
        ("10.0.0.1", ("10.0.0.1", 53)),
    ],
)
def test_host_port_text_is_split_with_the_default_port(
    text: str, expected: tuple[str, int]
) -> None:
    assert parse_host_port(text) == expected


def test_a_port_out_of_range_is_told_apart_from_unreadable_text() -> None:
    with pytest.raises(HostPortError) as bad_port:
        parse_host_port("127.0.0.1:70000")
    assert bad_port.value.port_out_of_range
    with pytest.raises(HostPortError) as unreadable:
        parse_host_port("resolver.example:53")
    assert not unreadable.value.port_out_of_range
