"""The README files certbot puts in live/ and live/<name>/."""

from __future__ import annotations


def live_readme(prefix: str = "") -> str:
    """The README certbot-style tools put in live/ (``prefix`` "[cert name]/" for live/)."""
    return (
        "This directory holds the current certificate and key of each lineage.\n\n"
        f"`{prefix}privkey.pem`  : the private key of the certificate.\n"
        f"`{prefix}fullchain.pem`: the certificate and its chain, what most servers want.\n"
        f"`{prefix}chain.pem`    : the intermediate certificates only.\n"
        f"`{prefix}cert.pem`     : the certificate alone; most servers need fullchain.pem.\n\n"
        "These are links into the archive directory; do not move or rename them, certbot\n"
        "and certsmith expect them here.\n"
    )
