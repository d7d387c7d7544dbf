"""certbot flags certsmith used to drop or refuse: the plugin rule (the later -a/-i wins),
installers and their options, --csr, --no-verify-ssl, and one note per flag it does not act on."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from certsmith.cli.args import parse_args
from certsmith.cli.flags import _NOTES, _VALUED_NOTES

ENV = {"HOME": "/home/alice"}


def parse(line: str) -> Any:
    return parse_args(shlex.split(line), environ=ENV, is_root=False)


def test_the_later_authenticator_and_installer_win() -> None:
    assert parse("certonly -a standalone -a manual -d a.com").challenge.authenticator == "manual"
    assert parse("certonly --authenticator webroot -a standalone").challenge.authenticator == (
        "standalone"
    )
    run = parse("run -i nginx -i apache --standalone -d a.com")
    assert run.installer.name == "apache"
    assert run.challenge.authenticator == "standalone"


def test_nginx_shortcut_is_authenticator_and_installer_with_its_options() -> None:
    opts = parse(
        "run --nginx -d a.com --nginx-server-root /srv/nginx --nginx-ctl /opt/nginx --redirect"
        " --hsts --no-uir"
    )
    assert opts.challenge.authenticator == "nginx"
    assert opts.installer.name == "nginx"
    assert dict(opts.installer.options) == {
        "nginx_server_root": "/srv/nginx",
        "nginx_ctl": "/opt/nginx",
    }
    assert opts.installer.enhancements == ("redirect", "hsts")
    from certsmith.cli.common import installer_overrides

    overrides = installer_overrides(opts.installer)
    assert overrides.installer == "nginx"
    assert overrides.extra == {"nginx_server_root": "/srv/nginx", "nginx_ctl": "/opt/nginx"}


def test_certonly_records_the_installer_but_run_installs(tmp_path: Path) -> None:
    from certsmith.cli.cmd_certonly import request_for
    from certsmith.crypto import normalize_names

    ids = tuple(normalize_names(["a.com"]))
    certonly = parse(f"certonly --nginx -d a.com --config-dir {tmp_path}")
    request = request_for(certonly, "a.com", ids, False)
    assert request.overrides.installer == "nginx" and request.install is False
    run = parse(f"run --apache -d a.com --redirect --config-dir {tmp_path}")
    request = request_for(run, "a.com", ids, False)
    assert request.overrides.installer == "apache" and request.install is True
    assert request.enhancements == ("redirect",)


def test_csr_and_its_paths() -> None:
    opts = parse("certonly --csr req.der --cert-path c.pem --fullchain-path f.pem")
    assert opts.csr.csr == Path.cwd() / "req.der"
    assert opts.csr.cert_path == Path.cwd() / "c.pem"
    assert opts.csr.chain_path is None


def test_no_verify_ssl_reaches_the_run_environment(tmp_path: Path) -> None:
    from certsmith.cli.common import environment
    from certsmith.renewal.ca import client_for
    from certsmith.renewal.settings import LineageSettings

    opts = parse(f"certificates --no-verify-ssl --config-dir {tmp_path}")
    assert opts.common.verify_tls is False
    env = environment(opts.common)
    assert env.verify_tls is False
    assert parse("certificates").common.verify_tls is True
    import ssl

    from certsmith.renewal.account import new_account_key

    settings = LineageSettings(server="https://127.0.0.1:1/dir")
    insecure = client_for(env, settings, new_account_key())
    checked = client_for(environment(parse("certificates").common), settings, new_account_key())
    modes = [c._sender._http._transport._pool._ssl_context.verify_mode for c in (insecure, checked)]
    assert modes == [ssl.CERT_NONE, ssl.CERT_REQUIRED]


def test_user_agent_flags() -> None:
    from certsmith.cli.common import USER_AGENT, user_agent

    assert user_agent(parse("certificates --user-agent-comment ci").common) == f"{USER_AGENT} (ci)"
    assert user_agent(parse("certificates --user-agent x/1").common) == "x/1"
    both = parse("certificates --user-agent x/1 --user-agent-comment ci").common
    assert user_agent(both) == "x/1"  # certbot: --user-agent replaces the comment too


ALL_NOTED = [names[0] for names in _NOTES] + [names[0] for names in _VALUED_NOTES]


@pytest.mark.parametrize("flag", ALL_NOTED)
def test_each_ignored_certbot_flag_says_once_what_certsmith_does(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from certsmith.cli.main import main

    value = ["1"] if any(flag in names for names in _VALUED_NOTES) else []
    argv = ["certificates", flag, *value, "--config-dir", str(tmp_path / "etc"),
            "--work-dir", str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l")]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if flag in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"Note: {flag}")
    assert main([*argv, "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_issuance_timeout_is_honoured_not_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from certsmith.cli.common import environment
    from certsmith.cli.main import main

    opts = parse(f"certonly --issuance-timeout 7 -d a.example --config-dir {tmp_path}")
    assert environment(opts.common).issuance_timeout == 7
    assert environment(parse("certificates").common).issuance_timeout is None
    argv = ["certificates", "--issuance-timeout", "7", "--config-dir", str(tmp_path / "etc"),
            "--work-dir", str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l")]  # fmt: skip
    assert main(argv) == 0
    assert "--issuance-timeout" not in capsys.readouterr().err
