"""Driving the certbot 5.8.0 peer (.venv-certbot) and certsmith side by side in one folder tree.

- ``run_in(tool, base, *args, env=...)``: certbot or certsmith with ``base``/etc, work and logs.
- ``pebble_for_certbot(pebble_factory, name)``: a private Pebble certbot can talk to, with
  ``name`` resolving to ``STANDALONE_ADDRESS``; ``standalone_args(pebble)`` to obtain from it.
- ``certbot_listing(output)``, ``listed_names(entry)``, ``assert_listed(entry, lineage)``: what
  ``certbot certificates`` says, checked against the lineage as certsmith reads it.
- ``configobj_reads(path)``: a renewal conf as certbot's parser (configobj) reads it.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from certsmith import crypto
from certsmith.storage import Lineage

ROOT = Path(__file__).resolve().parents[2]
CERTBOT = ROOT / ".venv-certbot" / "bin" / "certbot"
CERTBOT_PYTHON = ROOT / ".venv-certbot" / "bin" / "python"
CERTSMITH = ROOT / ".venv" / "bin" / "certsmith"
STANDALONE_ADDRESS = "127.0.0.3"  # the standalone responder of either tool; challtestsrv has .1


def folder_args(base: Path) -> list[str]:
    """``--config-dir base/etc --work-dir base/work --logs-dir base/logs``."""
    return [
        "--config-dir",
        str(base / "etc"),
        "--work-dir",
        str(base / "work"),
        "--logs-dir",
        str(base / "logs"),
    ]


def run_in(
    tool: Path,
    base: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    extra: tuple[str, ...] = (),
    stdout_only: bool = False,
) -> str:
    """Run ``tool args <folders of base> extra`` with ``env`` over os.environ (120 s at most).

    Fails the test on a non-zero exit; returns stdout, or stdout + stderr."""
    result = subprocess.run(
        [str(tool), *args, *folder_args(base), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, (
        f"{tool.name} {' '.join(args)} failed ({result.returncode}):\n"
        f"{result.stdout}\n{result.stderr}"
    )
    return result.stdout if stdout_only else result.stdout + result.stderr


def pebble_for_certbot(pebble_factory: Callable[..., Any], name: str) -> Any:
    """A private Pebble where ``name`` resolves (A only) to ``STANDALONE_ADDRESS``."""
    # certbot's ACME client retries a rejected nonce only once: no nonce rejection here.
    pebble = pebble_factory(nonce_reject=0)
    pebble.add_a(name, [STANDALONE_ADDRESS])
    # Pebble prefers AAAA (challtestsrv answers ::1 by default); this private instance drops it.
    pebble.challtest("/set-default-ipv6", {"ip": ""})
    return pebble


def standalone_args(pebble: Any) -> list[str]:
    """The options, common to certbot and certsmith, to answer http-01 from ``pebble`` here."""
    return [
        "--standalone",
        "--http-01-port",
        str(pebble.http01_port),
        "--http-01-address",
        STANDALONE_ADDRESS,
        "--server",
        pebble.directory_url,
    ]


def certbot_listing(output: str) -> dict[str, dict[str, str]]:
    """``certbot certificates`` output as {name: {field: value}}; no invalid confs allowed."""
    assert "invalid" not in output.lower(), output
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in output.splitlines():
        match = re.match(r"^\s+([A-Z][A-Za-z ]+): (.*)$", line)
        if not match:
            continue
        field, value = match.groups()
        if field == "Certificate Name":
            current = found.setdefault(value, {})
        elif current is not None:
            current[field] = value
    return found


def listed_names(entry: dict[str, str]) -> list[str]:
    """The identifiers of one listing entry (certbot >= 4 says Identifiers, older Domains)."""
    return (entry.get("Identifiers") or entry.get("Domains") or "").split()


def assert_listed(entry: dict[str, str], lineage: Lineage) -> None:
    """certbot's entry shows the deployed certificate of ``lineage`` and its live paths."""
    info = crypto.inspect_certificate(lineage.certificate())
    # certbot lists DNS names first, then IP addresses.
    ordered = sorted(info.identifiers, key=lambda i: i.type != "dns")
    assert listed_names(entry) == [i.value for i in ordered]
    expiry = datetime.datetime.fromisoformat(entry["Expiry Date"].split(" (")[0])
    assert expiry == info.not_after
    assert entry["Serial Number"] == info.serial_hex
    assert entry["Certificate Path"] == str(lineage.live_paths["fullchain"])
    assert entry["Private Key Path"] == str(lineage.live_paths["privkey"])


def configobj_reads(path: Path) -> Any:
    """The file as configobj (certbot's parser) reads it, as JSON data; None if it refuses it."""
    code = (
        "import configobj, json, sys\n"
        "try:\n"
        "    c = configobj.ConfigObj(sys.argv[1], encoding='utf-8', default_encoding='utf-8')\n"
        "    print(json.dumps(c.dict()))\n"
        "except configobj.ConfigObjError:\n"
        "    print('null')\n"
    )
    result = subprocess.run(
        [str(CERTBOT_PYTHON), "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)
