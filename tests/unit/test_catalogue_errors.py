"""The errors of crypto.py and challenges/ reach the user in the user's language (issue 8, item
8): each is raised with a catalogue key (certsmith.wording.said), its English byte for byte what
it said before (logs, --json and scripts read it), and the CLI words it from ko.json."""

from __future__ import annotations

import ast
import asyncio
import errno
import os
import re
import socket
from pathlib import Path

import pytest

from certsmith.acme.identifier import Identifier
from certsmith.challenges.base import ChallengeTask
from certsmith.challenges.dns01.contract import read_credentials
from certsmith.challenges.http01_standalone import StandaloneHttp01Server
from certsmith.challenges.selfcheck import SelfCheckFailure, describe_failure
from certsmith.challenges.webroot import WebrootSolver
from certsmith.cli.explain import explain
from certsmith.cli.usage import usage_text
from certsmith.crypto import normalize_names
from certsmith.errors import CertsmithError, UsageError
from certsmith.preflight.messages import Catalogue, load_templates
from certsmith.wording_parts import joined, os_reason

SRC = Path(__file__).resolve().parents[2] / "src" / "certsmith"
EN, KO = Catalogue("en"), Catalogue("ko")


def _details(error: CertsmithError) -> tuple[str, str]:
    """The detail line the CLI shows for ``error``, in English and in Korean."""
    return explain(error, catalogue=EN).detail, explain(error, catalogue=KO).detail


def test_bad_names_are_refused_in_korean_and_the_english_is_unchanged() -> None:
    with pytest.raises(UsageError) as caught:
        normalize_names(["a_b.test", "ok.test", "xn--abc.test"])
    assert str(caught.value) == (
        "The name 'a_b.test' contains an underscore, which DNS names cannot have. "
        "The name 'xn--abc.test' has an invalid punycode label."
    )
    assert usage_text(caught.value, EN) == str(caught.value)
    assert usage_text(caught.value, KO) == (
        "이름 'a_b.test'에 밑줄(_)이 있습니다. 인증서에 넣을 DNS 이름에는 밑줄을 쓸 수 "
        "없습니다. 이름 'xn--abc.test'에 올바르지 않은 퓨니코드(xn--) 레이블이 있습니다."
    )


def test_a_missing_webroot_is_named_in_korean(tmp_path: Path) -> None:
    task = ChallengeTask(Identifier("dns", "a.test"), "http-01", "tok_en-1", "tok.x")
    missing = tmp_path / "nowhere"
    with pytest.raises(CertsmithError) as caught:
        asyncio.run(WebrootSolver(default_webroot=missing).present(task))
    assert _details(caught.value) == (
        f"webroot {missing} is not a directory",
        f"webroot 경로 {missing}: 디렉터리가 아니거나 존재하지 않습니다",
    )
    with pytest.raises(CertsmithError) as caught:
        asyncio.run(WebrootSolver().present(task))
    assert _details(caught.value)[1] == "a.test에 쓸 webroot 폴더가 지정되지 않았습니다"


def test_a_busy_standalone_port_says_why_in_korean() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def start() -> None:
            async with StandaloneHttp01Server(address="127.0.0.1", port=port):
                pass

        with pytest.raises(CertsmithError) as caught:
            asyncio.run(asyncio.wait_for(start(), 10))
    english, korean = _details(caught.value)
    assert english == (
        f"http-01 server: cannot listen on 127.0.0.1 port {port}: {os.strerror(errno.EADDRINUSE)}"
    )
    assert korean == (
        f"http-01 서버: 127.0.0.1 주소의 {port}번 포트에서 연결을 받을 수 없습니다: "
        "다른 프로그램이 이미 쓰고 있습니다"
    )


def test_dns_credentials_file_errors_read_in_korean(tmp_path: Path) -> None:
    missing = tmp_path / "missing.ini"
    with pytest.raises(UsageError) as caught:
        read_credentials(missing)
    assert str(caught.value) == f"cannot read credentials file {missing}: No such file or directory"
    assert usage_text(caught.value, KO) == (
        f"인증 정보 파일 {missing} 읽기 실패: 파일이나 디렉터리가 없습니다"
    )
    shared = tmp_path / "shared.ini"
    shared.write_text("dns_cloudflare_api_token = x\n", "utf-8")
    shared.chmod(0o644)
    with pytest.raises(UsageError) as caught:
        read_credentials(shared)
    assert str(caught.value) == (
        f"credentials file {shared} is accessible by group or others (mode 0644); "
        f"run `chmod 600 {shared}`"
    )
    assert usage_text(caught.value, KO).startswith(
        f"인증 정보 파일 {shared}: 그룹이나 다른 사용자도 접근할 수 있습니다(권한 0644)."
    )


def test_what_the_self_check_saw_is_worded_piece_by_piece() -> None:
    url = "http://a.test/.well-known/acme-challenge/t"
    failure = SelfCheckFailure(url, address="192.0.2.1", status=404)
    seen = describe_failure(failure)
    assert seen == (
        "http://a.test/.well-known/acme-challenge/t answered HTTP 404 (connected to "
        "192.0.2.1) with an empty body"
    )
    assert KO.words(seen) == (
        "http://a.test/.well-known/acme-challenge/t (접속한 주소: 192.0.2.1)에서 HTTP 404 "
        "응답을 받았습니다(본문: 비어 있음)"
    )


def test_joined_parts_keep_their_english_and_are_worded_each() -> None:
    refused = os_reason(PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    unknown = os_reason(OSError(errno.EXDEV, os.strerror(errno.EXDEV)))
    both = joined([refused, unknown])
    assert both == f"{os.strerror(errno.EACCES)}; {os.strerror(errno.EXDEV)}"
    assert KO.words(both) == f"권한이 없습니다; {os.strerror(errno.EXDEV)}"
    assert joined([]) == "" and joined(["one"]) == "one"


def test_every_os_error_template_is_the_c_librarys_english() -> None:
    english = load_templates("en")
    keys = [key for key in english if key.startswith("os.error.")]
    assert len(keys) >= 10
    for key in keys:
        number = getattr(errno, key.removeprefix("os.error."))
        assert english[key] == os.strerror(number), key


def _said_constants() -> list[tuple[str, str, str]]:
    """Every ``Said("english", "key")`` with no values in the source."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Said"):
                continue
            texts = [str(a.value) for a in node.args if isinstance(a, ast.Constant)]
            if len(node.args) == len(texts) == 2 and not node.keywords:
                english, key = texts
                found.append((f"{path.relative_to(SRC)}:{node.lineno}", english, key))
    return found


def test_a_said_constant_says_what_its_english_template_says() -> None:
    constants = _said_constants()
    labels = {key for _, _, key in constants}
    assert {"challenge.label.standalone", "challenge.label.tls_alpn"} <= labels
    english = load_templates("en")
    wrong = [where for where, text, key in constants if english.get(key) != text]
    assert wrong == []


@pytest.mark.parametrize(
    "prefix",
    ["crypto.", "challenge.", "webroot.", "selfcheck.", "manual.hook.", "dns01.", "os.error."],
)
def test_every_new_error_sentence_has_korean(prefix: str) -> None:
    english, korean = load_templates("en"), load_templates("ko")
    keys = [key for key in english if key.startswith(prefix)]
    assert keys
    untranslated = [
        key
        for key in keys
        if any(
            ch.isalpha() for ch in re.sub(r"\{[^}]*\}", "", english[key])
        )  # words, not "{a}; {b}"
        and not any("\uac00" <= ch <= "\ud7a3" for ch in korean[key])
    ]
    assert untranslated == []
    assert not [key for key in keys if "은(는)" in korean[key] or "이(가)" in korean[key]]
