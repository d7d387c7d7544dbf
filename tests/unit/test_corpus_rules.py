"""The corpus's intended-differences file: an entry may name several lines and aspects, and
stands for each pair (tests/support/corpus_compare.py)."""

from __future__ import annotations

from pathlib import Path

from support.corpus_compare import load_rules


def test_an_entry_with_lists_stands_for_each_line_and_aspect(tmp_path: Path) -> None:
    path = tmp_path / "intended.toml"
    path.write_text(
        '[[difference]]\nline = ["a", "b"]\naspect = ["status", "files"]\nwhat = "w"\nwhy = "y"\n'
        '[[difference]]\nline = "c"\naspect = "facts"\nwhat = "w"\nwhy = "y"\n'
    )
    rules = load_rules(path)
    assert rules.listed("a") == rules.listed("b") == {"status", "files"}
    assert rules.listed("c") == {"facts"}
    assert rules.listed("d") == set()
    assert len(rules.intended) == 5


def test_the_corpus_file_loads_and_names_no_aspect_twice_for_a_line() -> None:
    path = (
        Path(__file__).parents[1] / "integration" / "certbot_corpus" / "intended_differences.toml"
    )
    pairs = [(i.line, i.aspect) for i in load_rules(path).intended if i.line != "*"]
    assert len(pairs) == len(set(pairs))
