"""Bad input is a one-sentence UsageError (exit 2, no traceback); ignored flags are recorded."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from certsmith.cli.args import USAGE_EXIT_CODE, parse_args
from certsmith.errors import UsageError

ENV = {"HOME": "/home/alice"}


def parse(line: str, **kw: Any) -> Any:
    return parse_args(shlex.split(line), environ=ENV, is_root=False, **kw)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("certonly --agre-tos", "Unknown flag --agre-tos; did you mean --agree-tos?"),
        ("certonly --standalne -d a.com", "did you mean --standalone?"),
        ("certonly --webroot-pth=/x", "did you mean --webroot-path?"),
        ("--bogus value certonly", "Unknown flag --bogus"),
        ("-x certonly", "Unknown flag -x"),
        ("--dns certonly -d a.com", "Ambiguous flag --dns: it could be --dns-acme-dns"),
        ("certonly --dns -d a.com", "ambiguous option: --dns could match"),
        ("certonly --rsa-key-size abc", "--rsa-key-size: 'abc' is not a whole number"),
        ("certonly --rsa-key-size 1024", "--rsa-key-size 1024 is not supported"),
        ("certonly --key-type dsa", "invalid choice: 'dsa'"),
        ("certonly --http-01-port 70000", "not between 1 and 65535"),
        ("certonly --preferred-challenges smtp", "unrecognized challenges: smtp"),
        ("reneww", "did you mean 'renew'?"),
        ("certonly extra", "unexpected argument 'extra'"),
        ("run -i bogus -d a.com", "installer 'bogus': use null, nginx, apache"),
        ("certonly -a iis", "authenticator 'iis' is not supported"),
        ("run --csr req.pem -d a.com --standalone -i null", "--csr works only with certonly"),
        ("run --standalone -i null --redirect -d a.com", "need a web server"),
        ("certonly --nginx -i apache -d a.com", "'apache' -> 'nginx'"),
        ("certonly --configurator nginx -a standalone", "'nginx' -> 'standalone'"),
        ("certonly --standalone --webroot", "Too many flags setting configurators"),
        ("certonly -a standalone --manual", "'standalone' -> 'manual'"),
        ("certonly -d 192.0.2.1", "pass it with --ip-address"),
        ("certonly -d 'a b.com'", "not a valid domain name"),
        ("certonly --ip-address 300.1.1.1", "is not an IP address"),
        ("certonly -m not-an-email", "is not an e-mail address"),
        ("certonly -m a@", "is not an e-mail address"),
        ("certonly -m a@example..com", "is not an e-mail address"),
        ("certonly -m .a@example.com,b@example.com", "is not an e-mail address"),
        ("certonly -m a@b.org --register-unsafely-without-email", "contradict"),
        ("register --eab-kid k", "needs both --eab-kid and --eab-hmac-key"),
        ("certonly --cert-name a/b", "must not be empty or contain /"),
        ("certonly --server ftp://x", "is not an http(s) URL"),
        ("certonly --dns-resolver example.com", "expected IP[:PORT]"),
        ("certonly --allow-subset-of-names -d *.a.com", "wildcard"),
        ("revoke --reason because", "invalid choice"),
        ("revoke --cert-name a --cert-path /x", "not both"),
        ("caa-check -d a.com --method smtp-01", "expected one of"),
        ("certonly --preferred-profile a --required-profile b", "not both"),
        ("renew --parallel 0", "not between 1 and 64"),
    ],
)
def test_bad_input_is_a_usage_error(line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(line)
    assert message in str(info.value)


def test_ignored_certbot_flags_are_recorded() -> None:
    opts = parse(
        "certonly -d a.com --no-eff-email --keep-until-expiring --must-staple "
        "--max-log-backups 0 --no-self-upgrade --redirect --reason superseded"
    )
    assert opts.common.max_log_backups == 0  # honoured: the log never rotates, as certbot
    flags = [i.flag for i in opts.common.ignored_flags]
    assert flags == [
        "--no-eff-email",
        "--keep-until-expiring",
        "--must-staple",
        "--no-self-upgrade",
        "--redirect",
        "--reason",
    ]
    reasons = {i.flag: i.reason for i in opts.common.ignored_flags}
    assert reasons["--reason"] == "not used by certonly"
    assert "not used by certonly" in reasons["--redirect"]  # an enhancement needs `run`
    loud = [i.flag for i in opts.common.ignored_flags if i.announce]
    assert loud == ["--no-eff-email", "--keep-until-expiring", "--must-staple",
                    "--no-self-upgrade"]  # fmt: skip
    assert opts.domains == ("a.com",)


def test_no_ignored_flags_for_a_clean_command_line() -> None:
    assert parse("certonly --standalone -d a.com -m a@b.org --agree-tos").common.ignored_flags == ()


def test_cert_path_with_certonly_is_ignored_but_used_by_revoke() -> None:
    certonly = parse("certonly -d a.com --cert-path /x/cert.pem")
    assert [i.flag for i in certonly.common.ignored_flags] == ["--cert-path"]
    assert certonly.common.ignored_flags[0].announce  # said at the default verbosity
    with_csr = parse("certonly --csr r.pem --cert-path /x/cert.pem")
    assert with_csr.common.ignored_flags == ()
    assert with_csr.csr is not None and with_csr.csr.cert_path == Path("/x/cert.pem")
    revoke = parse("revoke --cert-path x/cert.pem")
    assert revoke.cert_path == Path.cwd() / "x/cert.pem"
    assert revoke.common.ignored_flags == ()


def test_main_maps_usage_error_to_exit_2_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from certsmith.cli.main import main

    assert main(["certonly", "--agre-tos"]) == USAGE_EXIT_CODE == 2
    err = capsys.readouterr().err
    assert "did you mean --agree-tos?" in err
    assert "Traceback" not in err


def test_main_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    from certsmith.cli.main import main

    assert main(["--help"]) == 0
    assert "certonly" in capsys.readouterr().out


def test_help_path_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import certsmith.cli.args, certsmith.cli.options; "
        "bad = [m for m in ('httpx', 'cryptography', 'dns') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stderr


def test_internationalized_names_pass_to_idna_conversion() -> None:
    # The parser keeps U-labels; crypto.normalize_names converts them with IDNA 2008.
    from certsmith.cli.args import parse_args

    command = parse_args(["certonly", "--standalone", "-d", "bücher.de"], environ={}, is_root=False)
    assert getattr(command, "domains", None) == ("bücher.de",)
