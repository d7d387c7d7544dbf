"""The errors of storage/, issuance.py, renewal/ari_cache.py and preflight/caa.py reach the user
in the user's language (issue 8), while their English stays what it was byte for byte (logs,
--json and scripts read it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from certsmith.errors import CertsmithError, LineageCorrupt, LockHeld
from certsmith.preflight.messages import Catalogue
from certsmith.renewal.ari_cache import AriCacheRecord, parse_certbot_retry_after
from certsmith.storage.accounts import AccountStore, server_folder
from certsmith.storage.lineage import LineageStore
from certsmith.storage.locks import try_standalone_lock
from certsmith.storage.renewal_conf import RenewalConf
from certsmith.wording import Said

EN, KO = Catalogue("en"), Catalogue("ko")
LOCALE = Path(__file__).resolve().parents[2] / "src" / "certsmith" / "locale"


def _korean(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def _both(error: BaseException) -> tuple[str, str]:
    message = error.args[0]
    assert isinstance(message, Said), f"not worded from the catalogue: {message!r}"
    assert EN.words(message) == str(message)
    korean = KO.words(message)
    assert _korean(korean) and "{" not in korean, korean
    return str(message), korean


def test_a_held_lock_is_named_in_both_languages(tmp_path: Path) -> None:
    store = LineageStore(tmp_path)
    with store.lock("a.example"), pytest.raises(LockHeld) as caught:
        store.lock("a.example", blocking=False)
    english, korean = _both(caught.value)
    lock_file = store.lock_dir / "a.example.lock"
    assert english == (
        f"Another certsmith run is working on certificate 'a.example' (lock file {lock_file})."
    )
    assert korean == (
        f"다른 certsmith 프로세스가 인증서 'a.example'를 처리하고 있습니다(잠금 파일: {lock_file})."
    )
    with try_standalone_lock(tmp_path, "", 80), pytest.raises(LockHeld) as port:
        try_standalone_lock(tmp_path, "", 80)
    english, korean = _both(port.value)
    assert english.startswith("Another certsmith run is working on port 80 (all addresses) (lock")
    assert korean.startswith("다른 certsmith 프로세스가 포트 80(모든 주소)를 처리하고 있습니다")


@pytest.mark.parametrize(
    ("text", "english", "korean"),
    [
        ("[a]]\n", "Line 1: bad section header '[a]]'.", "갱신 설정 파일 1행: 섹션 헤더가"),
        ("[a]\n[a]\n", "Line 2: duplicate section 'a'.", "갱신 설정 파일 2행: 같은 섹션이"),
        ("x = 1\nx = 2\n", "Line 2: duplicate key 'x'.", "갱신 설정 파일 2행: 같은 키가"),
        (
            "just words\n",
            "Line 1: expected 'key = value', got 'just words'.",
            "'key = value' 형식이",
        ),
    ],
)
def test_a_damaged_renewal_conf_names_its_line_in_both_languages(
    text: str, english: str, korean: str
) -> None:
    with pytest.raises(LineageCorrupt) as caught:
        RenewalConf.parse(text)
    said_english, said_korean = _both(caught.value)
    assert said_english == english
    assert korean in said_korean


def test_missing_certificate_and_account_are_worded(tmp_path: Path) -> None:
    with pytest.raises(LineageCorrupt) as caught:
        LineageStore(tmp_path).read_conf("nope.example")
    assert _both(caught.value) == (
        "No certificate named 'nope.example' exists.",
        "해당 이름의 인증서가 없습니다: 'nope.example'.",
    )
    with pytest.raises(CertsmithError) as account:
        AccountStore(tmp_path).delete("https://ca.test/dir", "abc")
    english, korean = _both(account.value)
    assert english == "No account abc is stored for https://ca.test/dir."
    assert "서버: https://ca.test/dir," in korean  # no particle glued to the URL
    with pytest.raises(CertsmithError) as server:
        server_folder("https://ca.test/../x")
    assert _both(server.value)[0] == (
        "Cannot store accounts for the server URL 'https://ca.test/../x'."
    )


@pytest.mark.parametrize(
    ("record", "english"),
    [
        ([], "ARI cache record is not a JSON object"),
        ({}, "ARI cache record: cert_id is missing"),
        ({"cert_id": "c", "window": [1]}, "ARI cache record: window is not a [start, end] pair"),
        ({"cert_id": "c", "failures": -1}, "ARI cache record: failures is not a count"),
        ({"cert_id": "c"}, "ARI cache record: next_fetch is missing or not a string"),
        (
            {"cert_id": "c", "next_fetch": "soon"},
            "ARI cache record: next_fetch 'soon' is not a timestamp",
        ),
        (
            {"cert_id": "c", "next_fetch": "2026-01-01T00:00:00"},
            "ARI cache record: next_fetch '2026-01-01T00:00:00' has no time zone",
        ),
    ],
)
def test_a_damaged_ari_record_is_worded(record: object, english: str) -> None:
    with pytest.raises(CertsmithError) as caught:
        AriCacheRecord.from_json(record)
    assert _both(caught.value)[0] == english


def test_certbots_ari_retry_after_is_worded() -> None:
    with pytest.raises(CertsmithError) as caught:
        parse_certbot_retry_after("later")
    assert _both(caught.value)[0] == "ari_retry_after 'later' is not a timestamp"


# -- Korean templates: no particle glued to a flag, a URL or a literal English word ----------

_GLUED_FLAG = re.compile(r"--[a-z0-9-]+[과와을를이가은는에]")
_GLUED_URL = re.compile(r"\{(url|flag)(:[^}]*)?\}[을를이가은는과와]|\{(url|flag):[^}]+\}")


def test_korean_templates_glue_no_particle_to_a_flag_or_url() -> None:
    korean = json.loads((LOCALE / "ko.json").read_text("utf-8"))
    glued = {
        key: text
        for key, text in korean.items()
        if _GLUED_FLAG.search(text) or _GLUED_URL.search(text)
    }
    assert glued == {}
