"""``certonly --csr FILE``: one order for a CSR made elsewhere (e.g. from a hardware key).

    account -> pre-flight of the CSR's names -> order -> validate -> finalize with the CSR as is

certsmith has no private key for it, so nothing is stored as a lineage: the caller writes the
certificate where the user asked (certbot's --cert-path/--chain-path/--fullchain-path). Hooks do
not run, as in certbot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from certsmith.acme.identifier import Identifier
from certsmith.issuance import IssuanceRequest, obtain_certificate
from certsmith.renewal.issue import Order, Services, choose_profile, methods_for, run_preflight
from certsmith.renewal.settings import LineageSettings
from certsmith.renewal.solvers import SolverContext, check_before_order, solvers_for


@dataclass(frozen=True)
class CsrCertificate:
    """What the CA issued for the CSR (PEM text); empty after a dry run."""

    cert_pem: str = ""
    chain_pem: str = ""
    fullchain_pem: str = ""


async def obtain_for_csr(
    services: Services,
    settings: LineageSettings,
    csr_der: bytes,
    names: Sequence[Identifier],
    dry_run: bool,
    preflight: bool = False,
) -> CsrCertificate:
    """Order a certificate for ``names`` finalized with ``csr_der`` (the CSR's own names)."""
    identifiers = tuple(names)
    check_before_order(settings, identifiers, methods_for(settings))
    session = await services.ca.session(settings)
    client = session.client
    directory = await client.directory()
    profile, _note = choose_profile(directory, settings, identifiers)
    if preflight:
        order = Order(identifiers[0].value.removeprefix("*."), identifiers, settings, dry_run)
        await run_preflight(services, order, directory, False)
    await services.ca.registered(session, settings)
    request = IssuanceRequest(
        identifiers=identifiers,
        csr_der=csr_der,
        profile=profile,
        preferred_chain=settings.preferred_chain,
        preferred_challenges=methods_for(settings),
    )
    context = SolverContext(
        show_instructions=services.env.events.show_manual_instructions,
        servers=services.servers,
        web_server=services.installers.web_server_solver,
    )
    async with solvers_for(settings, context) as solvers:
        result = await obtain_certificate(
            client, request, solvers, issuance_timeout=services.env.issuance_timeout
        )
    if dry_run:
        return CsrCertificate()
    return CsrCertificate(result.cert_pem, result.chain_pem, result.fullchain_pem)
