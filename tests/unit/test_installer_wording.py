"""The errors of installers/ (nginx, apache, checkpoints) and notify/config.py reach the user in
the user's language (issue 8), while their English stays what it was byte for byte: logs,
--json and scripts read it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from certsmith.errors import CertsmithError
from certsmith.installers import make_installer, rollback
from certsmith.installers.apache.layout import enable_module
from certsmith.installers.checkpoints import Checkpoints, reload_or_undo
from certsmith.installers.nginx import control
from certsmith.installers.nginx.parse import load_config
from certsmith.installers.nginx.spans import parse_spans
from certsmith.notify.config import (
    check_address,
    check_webhook_url,
    parse_config,
    parse_smtp_server,
)
from certsmith.preflight.messages import Catalogue
from certsmith.renewal.install import InstallError
from certsmith.wording import Said

EN, KO = Catalogue("en"), Catalogue("ko")


def _korean(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def _both(call: Callable[[], object]) -> tuple[str, str]:
    """The English and the Korean of the CertsmithError ``call`` raises."""
    with pytest.raises(CertsmithError) as caught:
        call()
    message = caught.value.args[0]
    assert isinstance(message, Said), f"not worded from the catalogue: {message!r}"
    assert EN.words(message) == str(message) == str(caught.value)
    korean = KO.words(message)
    assert _korean(korean) and "{" not in korean.replace("{ }", ""), korean
    return str(message), korean


SMTP = '[smtp]\nhost = "mail.test"\nport = 25\nmail_from = "a@b.test"\nmail_to = ["c@d.test"]\n'


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("smtp = 1\n", "n.toml: [smtp] must be a table"),
        (SMTP.replace("port = 25", "port = 0"), "n.toml: smtp.port must be a port number"),
        (SMTP.replace('["c@d.test"]', "[1]"), "n.toml: smtp.mail_to must be a list of addresses"),
        (
            SMTP + 'security = "ssl"\n',
            "n.toml: smtp.security must be starttls, tls or none",
        ),
        (SMTP + "credentials = 3\n", "n.toml: smtp.credentials must be a path"),
        (SMTP.replace('host = "mail.test"\n', ""), "n.toml: host must be a non-empty string"),
        (
            SMTP + 'security = "none"\ncredentials = "/etc/pw"\n',
            "n.toml: smtp.security = none would send the password of smtp.credentials to "
            "mail.test in clear text; use starttls or tls (none with credentials is allowed "
            "only for a server on this machine)",
        ),
        (
            SMTP.replace('"a@b.test"', '"nobody"'),
            "smtp.mail_from 'nobody' is not a mail address (name@example.com)",
        ),
        ("webhook = 1\n", "n.toml: [webhook] must be a table"),
        (
            '[webhook]\nurl = "https://h.test/"\nformat = "xml"\n',
            "n.toml: webhook.format must be json, slack or ntfy",
        ),
    ],
)
def test_a_bad_alert_settings_file_is_named_in_both_languages(text: str, english: str) -> None:
    assert _both(lambda: parse_config(text, "n.toml"))[0] == english


def test_bad_alert_flags_are_worded_without_a_particle_after_the_flag() -> None:
    english, korean = _both(lambda: parse_smtp_server("mail.test"))
    assert english == "--smtp 'mail.test': expected HOST:PORT, e.g. smtp.example.com:587"
    assert korean.startswith("--smtp 'mail.test': HOST:PORT 형식으로")
    english, _ = _both(lambda: parse_smtp_server("a/b:25"))
    assert english == "--smtp 'a/b:25': 'a/b' is not a host name"
    english, _ = _both(lambda: check_webhook_url("ftp://h.test/"))
    assert english == "--webhook 'ftp://h.test/': expected an http:// or https:// URL"
    english, _ = _both(lambda: check_webhook_url("https://h.test/a b"))
    assert english == "--webhook 'https://h.test/a b': a URL has no spaces"
    english, korean = _both(lambda: check_address("x", "--mail-to"))
    assert english == "--mail-to 'x' is not a mail address (name@example.com)"
    assert korean == "--mail-to 'x': 메일 주소가 아닙니다(예: name@example.com)"


@pytest.mark.parametrize(
    ("text", "english", "korean"),
    [
        ('server { return "x;\n', "f.conf:1: unterminated quoted string", "따옴표"),
        ("}\n", "f.conf:1: unexpected '}'", "'}' 문자"),
        ("server {\n  ;\n}\n", "f.conf:2: unexpected ';'", "';' 토큰"),
        ("server {\n", "f.conf: unexpected end of file (a missing ';' or '}')", "파일이 도중에"),
    ],
)
def test_an_nginx_syntax_error_names_file_and_line_in_both_languages(
    text: str, english: str, korean: str
) -> None:
    said_english, said_korean = _both(lambda: parse_spans(text, "f.conf"))
    assert said_english == english
    assert korean in said_korean


def test_an_nginx_config_without_main_file_or_http_block_is_worded(tmp_path: Path) -> None:
    main = tmp_path / "nginx.conf"
    english, _ = _both(lambda: load_config(main))
    assert english == f"nginx's main configuration {main} does not exist (--nginx-server-root)."
    main.write_text("events { }\n")
    english, korean = _both(lambda: load_config(main))
    assert english == f"{main} has no http {{ }} block; certsmith has nothing to edit."
    assert korean == f"{main}: http {{ }} 블록이 없어 고칠 곳이 없습니다."


def test_nginx_refusing_a_change_or_a_reload_is_worded() -> None:
    def refuses(argv: object) -> tuple[int, str]:
        return 1, 'nginx: [emerg] unknown directive "x"\nnginx: test failed\n'

    english, korean = _both(lambda: control.check(refuses, "nginx", Path("/n.conf"), "a test"))
    assert english == (
        'nginx rejected the configuration after a test (nginx: [emerg] unknown directive "x"); '
        "it was restored."
    )
    assert "변경 내용: a test" in korean
    english, _ = _both(lambda: control.reload(lambda argv: (1, ""), "nginx", Path("/n.conf")))
    assert english == "nginx could not be reloaded (1)."


def test_an_undone_reload_words_the_cause_and_what_followed(tmp_path: Path) -> None:
    checkpoint = Checkpoints(tmp_path).begin("nginx", "install a")
    checkpoint.commit()

    outcomes = [(1, "down"), (0, "")]

    def reload() -> None:
        control.reload(lambda argv: outcomes.pop(0), "nginx", Path("/n.conf"))

    english, korean = _both(lambda: reload_or_undo("nginx", reload, [checkpoint]))
    assert english == (
        "nginx could not be reloaded (down). certsmith undid its changes (install a); "
        "nginx was reloaded with the previous configuration."
    )
    assert korean == (
        "nginx 설정을 다시 읽어 들이지 못했습니다(down). 변경 사항을 되돌렸습니다(install a). "
        "nginx 서버가 이전 설정을 다시 읽어 들였습니다."
    )


def test_installer_choice_checkpoints_and_apache_modules_are_worded(tmp_path: Path) -> None:
    english, _ = _both(lambda: make_installer("iis", {}))
    assert english == "Unknown installer 'iis': certsmith installs into nginx or apache."
    english, korean = _both(lambda: rollback("nginx", {}, 0))
    assert english == "--checkpoints must be a positive number."
    assert korean == "--checkpoints 옵션에는 양수를 지정해야 합니다."
    (tmp_path / "cp" / "1").mkdir(parents=True)
    english, _ = _both(Checkpoints(tmp_path / "cp").list)
    assert english.startswith(f"checkpoint {tmp_path / 'cp' / '1'} is unreadable: ")
    available = tmp_path / "mods-available"
    english, korean = _both(lambda: enable_module(tmp_path, "ssl", lambda path: None))
    assert english == f"Apache module ssl is not in {available} (is it installed?)."
    assert (
        korean == f"Apache 모듈 ssl: {available} 디렉터리에 없습니다(설치되어 있는지 확인하십시오)."
    )
    assert issubclass(InstallError, CertsmithError)
