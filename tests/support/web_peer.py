"""certbot 5.8.0 and certsmith driving one web server (nginx or apache) against one Pebble, in
one set of folders: the interop tests' shared peer and their two crosswise renewals.

A test module subclasses :class:`WebServerPeer` with its server's command line
(``obtain_args``), where it serves HTTPS (``address``, ``https_port``) and, when needed, its
own environment (``extra_env``) and work folder (``work_dir``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509

from support import served
from support.certbot_peer import CERTBOT, CERTSMITH, configobj_reads


class WebServerPeer:
    pebble: Any
    tmp: Path
    name: str
    address: str = ""  # the IP the web server serves HTTPS on
    https_port: int  # a field or a property of the subclass

    @property
    def config_dir(self) -> Path:
        return self.tmp / "etc"

    @property
    def work_dir(self) -> Path:
        return self.tmp / "work"

    def extra_env(self) -> dict[str, str]:
        return {}

    def obtain_args(self) -> list[str]:
        raise NotImplementedError

    def run(self, tool: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """``tool`` with ``args``, this peer's folders and -n; the run must succeed."""
        env = {
            **os.environ,
            "REQUESTS_CA_BUNDLE": str(self.pebble.ca_bundle),
            "PYTHONWARNINGS": "error" if tool == CERTSMITH else "ignore",
            **self.extra_env(),
        }
        extra: list[str] = []
        if tool == CERTSMITH:
            extra = ["--ca-bundle", str(self.pebble.ca_bundle)]
            extra += ["--dns-resolver", self.pebble.dns_address]
        folders = [
            "--config-dir", str(self.config_dir),
            "--work-dir", str(self.work_dir),
            "--logs-dir", str(self.tmp / "logs"),
        ]  # fmt: skip
        result = subprocess.run(
            [str(tool), *args, *folders, *extra, "-n"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert result.returncode == 0, f"{tool.name} {args}:\n{result.stdout}\n{result.stderr}"
        return result

    def renew(self, tool: Path) -> None:
        self.run(tool, "renew", "--force-renewal", "--no-random-sleep-on-renew")

    def live_serial(self) -> int:
        cert = self.config_dir / "live" / self.name / "cert.pem"
        return x509.load_pem_x509_certificate(cert.read_bytes()).serial_number

    def served_serial(self) -> int:
        root = self.tmp / "root.pem"
        return served.served_serial(self.address, self.https_port, self.name, root)

    def wait_served(self, serial: int, timeout: float = 10.0) -> int:
        root = self.tmp / "root.pem"
        return served.wait_served(self.address, self.https_port, self.name, root, serial, timeout)

    def renewal_params(self) -> dict[str, str]:
        conf = configobj_reads(self.config_dir / "renewal" / f"{self.name}.conf")
        params: dict[str, str] = conf["renewalparams"]
        return params


def certsmith_renews_certbots_lineage(peer: WebServerPeer, plugin: str, server_root: Path) -> None:
    """certbot obtains and installs through ``plugin``; certsmith renews from certbot's conf,
    keeps its settings, and the server serves the new certificate."""
    peer.run(CERTBOT, *peer.obtain_args())
    first = peer.live_serial()
    assert peer.wait_served(first) == first
    params = peer.renewal_params()
    assert (params["authenticator"], params["installer"]) == (plugin, plugin)
    assert params[f"{plugin}_server_root"] == str(server_root)

    peer.renew(CERTSMITH)

    renewed = peer.live_serial()
    assert renewed != first
    assert peer.wait_served(renewed) == renewed
    after = peer.renewal_params()
    assert {k: after.get(k) for k in params} == params  # certbot's settings kept as they were


def certbot_renews_certsmiths_lineage(peer: WebServerPeer) -> None:
    """The reverse: certsmith obtains and installs; certbot renews; the server serves it."""
    peer.run(CERTSMITH, *peer.obtain_args())
    first = peer.live_serial()
    assert peer.wait_served(first) == first

    peer.renew(CERTBOT)

    renewed = peer.live_serial()
    assert renewed != first
    assert peer.wait_served(renewed) == renewed
