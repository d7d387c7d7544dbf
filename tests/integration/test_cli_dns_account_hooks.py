"""dns-account-01 through --manual's hooks (`-a dns-account`), against Pebble 2.10 + challtestsrv.

Two accounts validate the same name at the same time, each hook publishing at the owner name
certsmith gives it in CERTSMITH_TXT_NAME (`_<label>._acme-challenge.<name>`); the renewal conf
keeps the manual hooks and dns-account-01, so a forced renewal goes the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_cli_dns01 import CERTSMITH, ca_flags, certsmith, ok, san_names

from certsmith.challenges.dns_account import account_label
from certsmith.storage import LineageStore

pytestmark = [pytest.mark.pebble, pytest.mark.pebble_new]

HOOK = """\
import json, os, sys, urllib.request
body = {{"host": os.environ["CERTSMITH_TXT_NAME"] + "."}}
if sys.argv[1] == "/set-txt":
    body["value"] = os.environ["CERTBOT_VALIDATION"]
request = urllib.request.Request("{url}" + sys.argv[1], data=json.dumps(body).encode())
urllib.request.urlopen(request, timeout=10).read()
with open("{log}", "a") as log:
    log.write(sys.argv[1] + " " + os.environ["CERTBOT_DOMAIN"] + " " + body["host"] + "\\n")
"""


def folders(base: Path) -> list[str]:
    return ["--config-dir", str(base / "etc"), "--work-dir", str(base / "work"),
            "--logs-dir", str(base / "logs")]  # fmt: skip


def test_dns_account_hooks_two_accounts_at_once_then_renewal(tmp_path: Path, pebble: Any) -> None:
    name = "hooked-account.test"
    procs = {}
    for who in ("one", "two"):
        base = tmp_path / who
        base.mkdir()
        hook = base / "hook.py"
        hook.write_text(HOOK.format(url=pebble.challtestsrv_url, log=base / "hooks.log"))
        argv = [str(CERTSMITH), "certonly", "-a", "dns-account", "-d", name,
                "--manual-auth-hook", f"{sys.executable} {hook} /set-txt",
                "--manual-cleanup-hook", f"{sys.executable} {hook} /clear-txt",
                # challtestsrv answers SOA queries with NOTIMP: no zone pre-flight here.
                "--no-preflight", *ca_flags(pebble, pebble.dns_address), *folders(base),
                "-n"]  # fmt: skip
        procs[who] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    labels = []
    for who, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (out + err).decode()
        base = tmp_path / who
        assert san_names(base / "etc" / "live" / name) == [name]
        regr = next((base / "etc" / "accounts").rglob("regr.json"))
        label = account_label(json.loads(regr.read_text())["uri"])
        labels.append(label)
        owner = f"{label}._acme-challenge.{name}."
        calls = (base / "hooks.log").read_text().splitlines()
        assert calls == [f"/set-txt {name} {owner}", f"/clear-txt {name} {owner}"]
    assert labels[0] != labels[1]

    base = tmp_path / "one"
    params = LineageStore(base / "etc").load(name).conf.renewalparams
    assert params.get("authenticator") == "manual"
    assert params.get("pref_challs") in (["dns-account-01"], "dns-account-01")
    out = ok(certsmith(base, "renew", "--force-renewal", "--no-random-sleep-on-renew",
                       "--no-preflight"))  # fmt: skip
    assert "1 renewed, 0 not due, 0 failed" in out
    assert len((base / "hooks.log").read_text().splitlines()) == 4
