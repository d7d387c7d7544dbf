"""Certificate chains as sent by the CA (RFC 8555 section 7.4.2): download, alternates, and
the preferred-chain choice."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from certsmith.acme.errors import ProtocolViolation
from certsmith.acme.messages import CertificateChain
from certsmith.acme.transport import Fetch, Response

logger = logging.getLogger(__name__)

_MAX_CERTS = 10
_MAX_ALTERNATES = 10


def parse_chain(pem: str) -> list[x509.Certificate]:
    """The certificates of a ``application/pem-certificate-chain`` body, leaf first."""
    try:
        certs = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ProtocolViolation("the CA sent a certificate chain that is not PEM") from None
    if not certs or len(certs) > _MAX_CERTS:
        raise ProtocolViolation(f"the CA sent a chain of {len(certs)} certificates")
    return certs


def _common_names(name: x509.Name) -> set[str]:
    return {str(a.value) for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)}


def choose_chain(chains: Sequence[str], preferred_issuer: str) -> str:
    """Pick the chain for ``--preferred-chain`` the way certbot does.

    First choice: the first chain whose topmost certificate's issuer CN equals the name (so the
    chain leads to that root). Second: the first chain in which any certificate's issuer or subject
    CN (the leaf's subject aside) equals it. Otherwise the default (first) chain.
    """
    if not chains:
        raise ProtocolViolation("no certificate chain to choose from")
    parsed = [parse_chain(chain) for chain in chains]
    for chain, certs in zip(chains, parsed, strict=True):
        if preferred_issuer in _common_names(certs[-1].issuer):
            return chain
    for chain, certs in zip(chains, parsed, strict=True):
        names = set().union(*(_common_names(c.issuer) for c in certs))
        names |= set().union(*(_common_names(c.subject) for c in certs[1:]))  # not the leaf's
        if preferred_issuer in names:
            return chain
    return chains[0]


async def _fetch_chain(fetch: Fetch, url: str) -> tuple[str, Response]:
    response = await fetch(url)
    try:
        pem = response.body.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolViolation(f"{url} sent a certificate chain that is not ASCII") from None
    parse_chain(pem)
    return pem, response


async def download_chain(
    fetch: Fetch,
    check_url: Callable[[str], None],
    url: str,
    preferred_chain: str | None,
) -> CertificateChain:
    """The chain at ``url`` (``fetch`` is a POST-as-GET for PEM); with ``preferred_chain`` also
    the alternates of its ``Link: rel="alternate"`` headers (each passed through ``check_url``,
    at most _MAX_ALTERNATES), and the chain ``choose_chain`` picks."""
    default, response = await _fetch_chain(fetch, url)
    if preferred_chain is None:
        return CertificateChain(default)
    chains = [default]
    for link in response.links("alternate")[:_MAX_ALTERNATES]:
        try:
            check_url(link)
        except ProtocolViolation as exc:
            logger.warning("Skipping an alternate chain: %s", exc)
            continue
        chains.append((await _fetch_chain(fetch, link))[0])
    chosen = choose_chain(chains, preferred_chain)
    return CertificateChain(chosen, tuple(c for c in chains if c is not chosen))
