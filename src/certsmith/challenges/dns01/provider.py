"""How DNS providers are found and built: the built-ins and the entry-point plug-ins.

A provider writes and removes TXT records at one DNS hosting service. Third parties ship one in
their own package and register a factory under the entry point group ``certsmith.dns_providers``;
the entry point's name is the provider's name::

    # pyproject.toml of certsmith-dns-example
    [project.entry-points."certsmith.dns_providers"]
    example = "certsmith_dns_example:make_provider"

    # certsmith_dns_example/__init__.py
    def make_provider(options: Mapping[str, str]) -> ExampleProvider: ...

What a provider must do, and the helpers it reads its options with (``read_credentials``,
``require``), are in ``certsmith.challenges.dns01.contract``; providers import that module,
never this one, so the registry can name them without an import cycle.

Built-in providers win over entry points with the same name (a package cannot silently replace
``rfc2136``); the conflict is logged.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Mapping
from typing import Any

from certsmith.challenges.dns01.contract import DnsProvider, ProviderFactory
from certsmith.errors import UsageError
from certsmith.wording import said

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "certsmith.dns_providers"


def _rfc2136(options: Mapping[str, str]) -> DnsProvider:
    from certsmith.challenges.dns01.rfc2136 import Rfc2136Provider

    return Rfc2136Provider.from_options(options)


def _acmedns(options: Mapping[str, str]) -> DnsProvider:
    from certsmith.challenges.dns01.acmedns import AcmeDnsProvider

    return AcmeDnsProvider.from_options(options)


def _duckdns(options: Mapping[str, str]) -> DnsProvider:
    from certsmith.challenges.dns01.duckdns import DuckDnsProvider

    return DuckDnsProvider.from_options(options)


def _http_api(module: str, cls: str) -> ProviderFactory:
    """A factory that imports ``certsmith.challenges.dns01.<module>`` only when used."""

    def factory(options: Mapping[str, str]) -> DnsProvider:
        provider_class = getattr(importlib.import_module(f"{__package__}.{module}"), cls)
        provider: DnsProvider = provider_class.from_options(options)
        return provider

    return factory


# The providers of certbot's own DNS plug-ins, over their HTTP APIs (same credentials keys).
HTTP_API_PROVIDERS = {
    "cloudflare": ("cloudflare", "CloudflareProvider"),
    "route53": ("route53", "Route53Provider"),
    "digitalocean": ("digitalocean", "DigitalOceanProvider"),
    "google": ("google", "GoogleProvider"),
    "ovh": ("ovh", "OvhProvider"),
    "linode": ("linode", "LinodeProvider"),
}
# How a provider takes its credentials: an INI file read into options (the default), the
# file's path as the option below (Google's service-account JSON key), or none at all
# (Route53 reads the AWS credential chain, as certbot-dns-route53 does).
CREDENTIALS_AS_PATH = {"google": "dns_google_credentials"}
NO_CREDENTIALS_FILE = frozenset({"route53"})
# certbot DNS plug-ins certsmith has no built-in for: a certsmith.dns_providers plug-in may
# supply them under the same name (see docs/dns-providers.md).
NOT_BUILT_IN = ("dnsimple", "dnsmadeeasy", "gehirn", "luadns", "nsone", "sakuracloud")


def builtin_providers() -> dict[str, ProviderFactory]:
    """The providers shipped with certsmith: name -> factory."""
    found: dict[str, ProviderFactory] = {
        "rfc2136": _rfc2136, "acme-dns": _acmedns, "duckdns": _duckdns,
    }  # fmt: skip
    for name, (module, cls) in HTTP_API_PROVIDERS.items():
        found[name] = _http_api(module, cls)
    return found


def discover_providers(
    entry_points: Callable[..., Any] | None = None,
) -> dict[str, ProviderFactory]:
    """Built-in providers merged with the entry points of ``certsmith.dns_providers``.

    ``entry_points`` defaults to ``importlib.metadata.entry_points`` (looked up at call time).

    An entry point that fails to load is logged and skipped (a broken plug-in must not break
    the others); it is reported again by ``load_provider`` if the user asks for it by name.
    """
    found = builtin_providers()
    entry_points = entry_points or importlib.metadata.entry_points
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        name = entry_point.name
        if name in found:
            logger.warning("ignoring DNS provider plug-in %r: a built-in has that name", name)
            continue
        found[name] = _lazy_factory(entry_point)
    return found


def _lazy_factory(entry_point: Any) -> ProviderFactory:
    def factory(options: Mapping[str, str]) -> DnsProvider:
        try:
            loaded = entry_point.load()
        except Exception as exc:  # a broken plug-in: say which one, never a traceback
            name, value = repr(entry_point.name), entry_point.value
            why = said("dns01.provider.load_failed", name=name, value=value, reason=exc)
            raise UsageError(why) from exc
        provider = loaded(options)
        if not isinstance(provider, DnsProvider):
            kind = type(provider).__name__
            why = said("dns01.provider.not_a_provider", name=repr(entry_point.name), type=kind)
            raise UsageError(why)
        return provider

    return factory


def load_provider(
    name: str,
    options: Mapping[str, str],
    entry_points: Callable[..., Any] | None = None,
) -> DnsProvider:
    """Make the provider called ``name`` with ``options``; ``UsageError`` if it is unknown."""
    providers = discover_providers(entry_points)
    factory = providers.get(name)
    if factory is None:
        hint = (
            said("dns01.provider.not_built_in", name=name, group=ENTRY_POINT_GROUP)
            if name in NOT_BUILT_IN
            else said("dns01.provider.available", names=", ".join(sorted(providers)))
        )
        raise UsageError(said("dns01.provider.unknown", name=repr(name), hint=hint))
    return factory(options)
