"""The argparse actions and value types of the flag table (:mod:`certsmith.cli.flags`): how a
repeated ``-d``, ``--preferred-challenges``, ``-a``/shortcut flags, ``-i`` and certbot's
ignored flags are recorded in the namespace. Standard library only.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from typing import Any

from certsmith.cli.build import INSTALLERS, WEB_SERVERS
from certsmith.cli.usage import usage_error
from certsmith.wording import said

DNS_AUTH = ("dns-rfc2136", "dns-acme-dns", "dns-duckdns", "dns-cloudflare", "dns-route53",
            "dns-digitalocean", "dns-google", "dns-ovh", "dns-linode")  # fmt: skip
# certbot's other DNS plug-ins: their flags work once a certsmith.dns_providers plug-in of that
# name is installed (docs/dns-providers.md); without one, the run says so.
DNS_PLUGIN_ONLY = ("dns-dnsimple", "dns-dnsmadeeasy", "dns-gehirn", "dns-luadns", "dns-nsone",
                   "dns-sakuracloud")  # fmt: skip
AUTHENTICATORS = ("standalone", "webroot", "manual", *DNS_AUTH)
# -a dns-NAME: a DNS provider plug-in installed as a package (entry point certsmith.dns_providers)
PLUGIN_RE = re.compile(r"dns-[a-z0-9][a-z0-9-]{0,62}")


def int_type(low: int, high: int) -> Any:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                said("usage.value.not_integer", value=repr(text))
            ) from None
        if not low <= value <= high:
            why = said("usage.value.out_of_range", value=value, low=low, high=high)
            raise argparse.ArgumentTypeError(why)
        return value

    return convert


class AppendValues(argparse.Action):
    """Repeatable -d/--ip-address/-w; keeps their order for the webroot map."""

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        parts = [str(values)] if self.dest == "webroot_path" else str(values).split(",")
        parts = [p.strip() for p in parts if p.strip()]
        order = list(namespace.ident_order or [])
        order += [(self.dest, p) for p in parts]
        namespace.ident_order = order
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *parts])


class PreferredChallenges(argparse.Action):
    ALIASES: Mapping[str, str] = {
        "http": "http-01",
        "dns": "dns-01",
        "tls-alpn": "tls-alpn-01",
        "dns-account": "dns-account-01",
        "dns-persist": "dns-persist-01",
    }

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        names = [n.strip().lower() for n in str(values).split(",") if n.strip()]
        names = [self.ALIASES.get(n, n) for n in names]
        known = ("http-01", "dns-01", "tls-alpn-01", "dns-account-01", "dns-persist-01")
        bad = [n for n in names if n not in known]
        if bad:
            raise argparse.ArgumentError(self, said("usage.value.challenges", names=", ".join(bad)))
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *names])


class AuthenticatorChoice(argparse.Action):
    """-a NAME and the shortcut flags (--standalone, --nginx, ...), recorded as typed:
    ("-a", NAME) or ("flag", NAME); ``build.plugin_requests`` applies certbot's rule."""

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        name = str(self.const if self.nargs == 0 else values).lower()
        name = {"dns-acmedns": "dns-acme-dns"}.get(name, name)  # certbot-dns-acmedns's name
        if name not in AUTHENTICATORS and name not in WEB_SERVERS and not PLUGIN_RE.fullmatch(name):
            names = ", ".join((*AUTHENTICATORS, *WEB_SERVERS))
            raise usage_error("usage.unknown_authenticator", name=repr(name), names=names)
        entry = ("flag" if self.nargs == 0 else "-a", name)
        namespace.authenticator = [*(namespace.authenticator or []), entry]


def installer_name(text: str) -> str:
    name = text.lower()
    if name not in INSTALLERS:
        why = said("usage.value.installer", name=repr(text), names=", ".join(INSTALLERS))
        raise argparse.ArgumentTypeError(why)
    return name


class Note(argparse.Action):
    """Records a certbot flag certsmith ignores (const = reason) or refuses (dest unsupported)."""

    def __call__(
        self, parser: Any, namespace: Any, values: Any, option_string: str | None = None
    ) -> None:
        flag = option_string or self.option_strings[0]
        if self.dest == "unsupported":
            entry: Any = said("usage.flag_unsupported", flag=flag, why=self.const)
        else:
            entry = (flag, self.const)
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), entry])
