"""`make demo`: obtain, list, renew and revoke a certificate from a local Pebble CA on loopback.

Runs the real `certsmith` command line; every step is printed before it runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pebble import PebbleCA

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"
CERTSMITH = str(ROOT / ".venv" / "bin" / "certsmith")
NAME = "demo.certsmith.test"


def run(args: list[str], env: dict[str, str], expect: int = 0) -> None:
    print(f"\n$ certsmith {shlex.join(args)}", flush=True)
    result = subprocess.run([CERTSMITH, *args], env=env, timeout=120, check=False)
    if result.returncode != expect:
        raise SystemExit(f"demo step failed with exit code {result.returncode}")
    if expect:
        print(f"(exit code {result.returncode}, as expected)")


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    with PebbleCA(OUT / "pebble", nonce_reject=20) as ca:
        # Pebble resolves names through challtestsrv; point the demo name at 127.0.0.2, where
        # certsmith's own http-01 responder listens (challtestsrv holds 127.0.0.1).
        ca.add_a(NAME, ["127.0.0.2"])
        env = dict(os.environ, PYTHONWARNINGS="error")
        common = [
            "--server", ca.directory_url,
            "--ca-bundle", str(ca.ca_bundle),
            "--config-dir", str(OUT / "config"),
            "--work-dir", str(OUT / "work"),
            "--logs-dir", str(OUT / "logs"),
            "--dns-resolver", ca.dns_address,
            "-n",
        ]  # fmt: skip
        run(
            [
                "certonly", "--standalone", "-d", NAME,
                "--http-01-address", "127.0.0.2", "--http-01-port", str(ca.http01_port),
                "--agree-tos", "--register-unsafely-without-email", *common,
            ],
            env,
        )  # fmt: skip
        run(["certificates", *common], env)
        # A name whose CAA record names another CA: certsmith stops before ordering and says why.
        blocked = "blocked.certsmith.test"
        ca.add_a(blocked, ["127.0.0.2"])
        caa = {"host": blocked, "policies": [{"tag": "issue", "value": "otherca.example"}]}
        ca.challtest("/add-caa", caa)
        run(["caa-check", blocked, *common], env, expect=1)
        run(
            [
                "certonly", "--standalone", "-d", blocked,
                "--http-01-address", "127.0.0.2", "--http-01-port", str(ca.http01_port),
                *common,
            ],
            env,
            expect=1,
        )  # fmt: skip
        run(["renew", "--force-renewal", "--no-random-sleep-on-renew", *common], env)
        run(["certificates", "--json", *common], env)
        print(f"\nFiles are in {OUT / 'config'}; nginx would use")
        print(f"  ssl_certificate     {OUT / 'config/live' / NAME / 'fullchain.pem'};")
        print(f"  ssl_certificate_key {OUT / 'config/live' / NAME / 'privkey.pem'};")


if __name__ == "__main__":
    main()
