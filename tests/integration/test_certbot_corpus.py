"""The certbot command-line corpus (certbot_corpus/lines.txt), run line by line through certbot
5.8.0 and certsmith against one Pebble, each line in its own folders (see support/corpus.py).

Each line must agree — exit class, files, renewal conf keys, hooks and their variables, the
facts a script reads — or be listed in certbot_corpus/intended_differences.toml. Lines that
leave lineages in both trees are then renewed crosswise (certsmith renews certbot's folder,
certbot certsmith's), and both must renew every lineage and keep its conf keys.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support.certbot_peer import CERTBOT
from support.corpus import Line, LineSetup, StepResult, load_lines
from support.corpus_compare import (
    Rules,
    Snapshot,
    cross_result,
    differences,
    load_rules,
    snapshot,
)

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.certbot,
    pytest.mark.pebble,
    pytest.mark.skipif(not CERTBOT.exists(), reason="certbot interop venv missing"),
]

HERE = Path(__file__).resolve().parent / "certbot_corpus"
LINES = load_lines(HERE / "lines.txt")
RULES = load_rules(HERE / "intended_differences.toml")
WORKERS = 3
RENEW = ["renew", "--force-renewal", "--no-random-sleep-on-renew", "-n"]
VERBS = ("certonly", "run", "renew", "certificates", "revoke", "delete", "register",
         "update_account", "show_account", "unregister", "--version", "--help", "plugins",
         "reconfigure", "update_symlinks")  # fmt: skip


@dataclass
class Outcome:
    line: Line
    found: dict[str, str]
    cross: dict[str, Any] | None


def run_line(index: int, line: Line, root: Path, pebble: Any, rules: Rules) -> Outcome:
    setup = LineSetup(index, line, root / line.id, pebble)
    setup.prepare()
    try:
        steps: dict[str, list[StepResult]] = {"certbot": [], "certsmith": []}
        for step in line.steps:
            for tool in steps:
                steps[tool].append(setup.run_step(step, tool))
        shots = {tool: snapshot(setup.base(tool), done, rules) for tool, done in steps.items()}
        found = differences(shots["certbot"], shots["certsmith"])
        (setup.root / "steps.json").write_text(
            json.dumps({t: [[s.argv, s.returncode, s.output] for s in r] for t, r in steps.items()})
        )
        cross = None
        if all(s == "ok" for s in shots["certbot"].status + shots["certsmith"].status) and (
            shots["certbot"].confs and set(shots["certbot"].confs) == set(shots["certsmith"].confs)
        ):
            cross = renew_crosswise(setup, shots, rules)
            if _cross_problem(cross):
                found["cross"] = json.dumps(cross, sort_keys=True)
        (setup.root / "found.json").write_text(json.dumps({"found": found, "cross": cross}))
        return Outcome(line, found, cross)
    finally:
        setup.close()


def renew_crosswise(setup: LineSetup, shots: dict[str, Snapshot], rules: Rules) -> dict[str, Any]:
    """certsmith renews certbot's folder, certbot renews certsmith's."""
    results: dict[str, Any] = {}
    for renewer, owner in (("certsmith", "certbot"), ("certbot", "certsmith")):
        base = setup.base(owner)
        step = setup.run_tool(renewer, RENEW, base)
        after = snapshot(base, [step], rules)
        results[f"{renewer} renews {owner}'s"] = cross_result(shots[owner], after, step)
        if step.returncode != 0:
            results[f"{renewer} said"] = step.output[-600:]
    return results


def _cross_problem(cross: dict[str, Any]) -> bool:
    runs = [v for k, v in cross.items() if " renews " in k]
    return any(r["status"] != "ok" or r["changed_keys"] or not r["renewed"] for r in runs)


@pytest.fixture(scope="module")
def corpus_pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pebble import PebbleCA, find_bin_dir

    if find_bin_dir() is None:
        pytest.skip("pebble not installed: run tools/fetch-pebble.sh")
    # certbot retries a rejected nonce only once: no nonce rejection here.
    ca = PebbleCA(tmp_path_factory.mktemp("corpus-pebble"), nonce_reject=0)
    ca.start()
    ca.challtest("/set-default-ipv6", {"ip": ""})
    yield ca
    ca.stop()


def selected_lines() -> list[tuple[int, Line]]:
    """All lines, or those whose id starts with CORPUS_ONLY's comma-separated prefixes."""
    only = [p for p in os.environ.get("CORPUS_ONLY", "").split(",") if p]
    return [
        (i, line) for i, line in enumerate(LINES) if not only or line.id.startswith(tuple(only))
    ]


def test_corpus_covers_every_verb_and_enough_lines() -> None:
    assert len(LINES) >= 150
    first_words = {step.split()[0] for line in LINES for step in line.steps}
    texts = " ".join(line.text for line in LINES)
    missing = [v for v in VERBS if v not in first_words and f" {v}" not in texts]
    assert missing == []
    ids = {line.id for line in LINES} | {"*"}
    assert [i.line for i in RULES.intended if i.line not in ids] == []


def test_every_line_agrees_with_certbot_or_is_an_intended_difference(
    corpus_pebble: Any, tmp_path: Path
) -> None:
    chosen = selected_lines()
    tmp_path = Path(os.environ.get("CORPUS_OUT", tmp_path))  # CORPUS_OUT keeps the runs to read
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(
            pool.map(lambda il: run_line(il[0], il[1], tmp_path, corpus_pebble, RULES), chosen)
        )
    unexpected: list[str] = []
    stale: list[str] = []
    for outcome in outcomes:
        listed = RULES.listed(outcome.line.id)
        for aspect, detail in outcome.found.items():
            if aspect not in listed:
                unexpected.append(f"{outcome.line.id} [{aspect}] {detail}\n    {outcome.line.text}")
        stale += [f"{outcome.line.id} [{a}]" for a in sorted(listed - set(outcome.found))]
    report = tmp_path / "report.txt"
    report.write_text("\n".join([*unexpected, "stale:", *stale]))
    print(f"corpus: {len(chosen)} lines, report in {report}", file=sys.stderr)
    assert unexpected == [], "\n".join(unexpected)
    assert stale == [], f"listed differences that no longer differ: {stale}"


def test_comparison_names_each_aspect_that_differs(tmp_path: Path) -> None:
    """The comparator itself: a file, a conf value, a hook line and a fact seen by one tool only."""
    shots = []
    for tool, value in (("certbot", "rsa"), ("certsmith", "ecdsa")):
        base = tmp_path / tool
        (base / "etc" / "renewal").mkdir(parents=True)
        (base / "etc" / "renewal" / "a.conf").write_text(f"[renewalparams]\nkey_type = {value}\n")
        (base / "hooks.log").write_text(f"RENEWED_DOMAINS={tool}\n")
        if tool == "certbot":
            (base / "etc" / "live").mkdir()
            (base / "etc" / "live" / "README").write_text("")
        said = "Certificate not yet due for renewal" if tool == "certbot" else "0 renewed"
        shots.append(
            snapshot(base, [StepResult(["x"], 0 if tool == "certbot" else 2, said)], RULES)
        )
    found = differences(*shots)
    assert sorted(found) == ["conf", "facts", "files", "hooks", "status"]
    assert "key_type certbot='rsa' certsmith='ecdsa'" in found["conf"]
    assert differences(shots[0], shots[0]) == {}
