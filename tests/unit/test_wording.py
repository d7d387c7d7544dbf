"""What the engine says (renewal reasons, notes) reaches the user in the user's language, while
the English text stays what logs, --json and the run history read (certsmith/wording.py)."""

from __future__ import annotations

import ast
import io
import pickle
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certsmith.acme import Directory
from certsmith.acme.identifier import Identifier
from certsmith.cli.console import Console
from certsmith.issuance import OTHER_ACCOUNT_NOTE
from certsmith.preflight.messages import Catalogue, load_templates
from certsmith.renewal.check import UNCHANGED
from certsmith.renewal.issue import _dropped_note, choose_profile
from certsmith.renewal.keep_issued import KEPT_REASON
from certsmith.renewal.policy import FORCED, decide
from certsmith.renewal.settings import LineageSettings
from certsmith.wording import Said

SRC = Path(__file__).resolve().parents[2] / "src" / "certsmith"
NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = NOT_BEFORE + timedelta(days=90)


def _decisions() -> list[str]:
    """One reason of every rule of renewal/policy.py, due and not due."""
    rng = random.Random(1)
    start, end = NOT_BEFORE + timedelta(days=60), NOT_BEFORE + timedelta(days=62)
    early, late = NOT_BEFORE + timedelta(days=10), NOT_BEFORE + timedelta(days=80)
    short_after = NOT_BEFORE + timedelta(days=6)
    reasons = [
        decide(NOT_BEFORE, NOT_AFTER, early, force=True, rng=rng).reason,
        decide(NOT_BEFORE, NOT_AFTER, NOT_AFTER, rng=rng).reason,
        decide(NOT_BEFORE, NOT_AFTER, early, rng=rng).reason,
        decide(NOT_BEFORE, NOT_AFTER, late, rng=rng).reason,
        decide(NOT_BEFORE, short_after, NOT_BEFORE, rng=rng).reason,
        decide(NOT_BEFORE, short_after, NOT_BEFORE + timedelta(days=4), rng=rng).reason,
        decide(
            NOT_BEFORE, NOT_AFTER, early, renew_before_expiry=timedelta(days=30), rng=rng
        ).reason,
        decide(NOT_BEFORE, NOT_AFTER, late, renew_before_expiry=timedelta(days=30), rng=rng).reason,
        decide(NOT_BEFORE, NOT_AFTER, early, ari_window=(start, end), rng=rng).reason,
        decide(NOT_BEFORE, NOT_AFTER, late, ari_window=(start, end), rng=rng).reason,
        decide(
            NOT_BEFORE, NOT_AFTER, end - timedelta(hours=1), ari_window=(start, end), rng=rng
        ).reason,
        decide(
            NOT_BEFORE, NOT_AFTER, early, ari_window=(start, end), rng=rng, next_wake=late
        ).reason,
    ]
    return reasons


def _notes() -> list[str]:
    meta = {"profiles": {"classic": "", "shortlived": ""}}
    directory = Directory.from_json(
        {k: "https://ca.test/x" for k in ("newNonce", "newAccount", "newOrder", "revokeCert")}
        | {"keyChange": "https://ca.test/k", "meta": meta}
    )
    ip = [Identifier("ip", "192.0.2.1")]
    _, preferred = choose_profile(directory, LineageSettings(preferred_profile="tlsserver"), [])
    _, shortlived = choose_profile(directory, LineageSettings(), ip)
    assert preferred is not None and shortlived is not None
    one = _dropped_note([Identifier("dns", "b.example")])
    two = _dropped_note([Identifier("dns", "b.example"), Identifier("dns", "c.example")])
    return [preferred, shortlived, one, two, OTHER_ACCOUNT_NOTE]


SAYINGS = [*_decisions(), *_notes(), UNCHANGED, FORCED, KEPT_REASON]


@pytest.mark.parametrize("said", SAYINGS, ids=str)
def test_the_english_template_says_what_the_engine_logs(said: str) -> None:
    assert isinstance(said, Said), said
    assert Catalogue("en").words(said) == str(said)


@pytest.mark.parametrize("said", SAYINGS, ids=str)
def test_the_korean_catalogue_words_every_reason_and_note(said: str) -> None:
    assert isinstance(said, Said)
    korean = Catalogue("ko").words(said)
    assert korean != str(said)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in korean), korean
    assert "{" not in korean and "not yet due" not in korean


def test_every_rule_of_the_policy_is_covered() -> None:
    keys = {said.key for said in _decisions() if isinstance(said, Said)}
    assert len(keys) == 12, keys


def test_a_said_is_its_english_text_and_survives_pickling() -> None:
    said = Said("not yet due: ARI suggests renewing at X", "renewal.reason.ari.wait", at="X")
    assert said == "not yet due: ARI suggests renewing at X"
    assert f"{said}" == str(said) and said.startswith("not yet due")
    back = pickle.loads(pickle.dumps(said))  # the helper process sends verdicts this way
    assert (back, back.key, back.values) == (said, said.key, {"at": "X"})
    assert isinstance(back, Said)


def test_the_console_shows_a_reason_in_the_users_language() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out=out, err=err, catalogue=Catalogue("ko"))
    reason = decide(NOT_BEFORE, NOT_AFTER, NOT_BEFORE, rng=random.Random(1)).reason
    console.say(console.message("renew.not_due", name="a.example", reason=reason))
    console.note(_dropped_note([Identifier("dns", "b.example")]))
    assert out.getvalue() == (
        "a.example: 아직 갱신할 때가 아닙니다(유효 기간이 3분의 1 남으면 갱신).\n"
    )
    assert err.getvalue().startswith("CA가 b.example를 검증하지 못해 이 이름을 빼고")
    english = Console(out=io.StringIO(), catalogue=Catalogue("en"))
    assert english.message("renew.not_due", name="a", reason=reason) == (
        "a: not due (not yet due: renews when a third of the lifetime remains)."
    )


def test_every_said_key_in_the_source_is_in_both_catalogues() -> None:
    en, ko = load_templates("en"), load_templates("ko")
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            # Said(english, key, ...) or said(key, ...) (its English read from en.json)
            position = {"Said": 1, "said": 0}.get(getattr(node.func, "id", None) or "")
            if position is None or len(node.args) <= position:
                continue
            if not isinstance(node.args[position], ast.Constant):
                continue  # a key built from parts: covered by the rendering tests above
            key = node.args[position].value
            if key not in en or key not in ko:
                missing.append(f"{path.relative_to(SRC)}:{node.lineno}: {key}")
    assert missing == []


def test_a_value_named_key_fills_its_placeholder_instead_of_clashing() -> None:
    """The sentence's key is positional-only everywhere a sentence is worded, so a template
    may use a ``{key}`` placeholder (a conf key, a JSON field) without a TypeError."""
    from certsmith.cli.usage import usage_error
    from certsmith.preflight.messages import Catalogue

    assert Catalogue("en").get("no.such.sentence", key="x") == "no.such.sentence"
    assert str(usage_error("no.such.sentence", key="x")) == "no.such.sentence"
