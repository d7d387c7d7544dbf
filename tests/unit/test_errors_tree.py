"""The exception trees drawn in the docstrings of certsmith.errors and certsmith.acme.errors are
the classes: every drawn class exists under its drawn parent, in the module the drawing says, is
retryable exactly when the drawing says so, and every error class in src/ is drawn.

How a drawing reads (the literal block after the docstring's first ``::``):

- the first line names the root; every other class follows ``├─`` or ``└─``, and its parent is
  the class whose name starts in the column of that glyph (box drawing, three columns a level);
- several siblings may share a line (``├─ A  ├─ B``); those have no children;
- ``(certsmith.x)`` on a class's line names its module; a class without one lives where its
  parent does, or for a child of the root, in the module whose docstring draws it;
- the word ``retryable`` after a name, before the next sibling, says ``cls.retryable`` is true.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from certsmith.errors import CertsmithError

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT = "CertsmithError"

_BRANCH_RE = re.compile(r"[├└]─ (\w+)")
_MODULE_RE = re.compile(r"\((certsmith(?:\.\w+)*)\)")
_RETRYABLE_RE = re.compile(r"\bretryable\b")


@dataclass(frozen=True)
class Drawn:
    name: str
    parent: str | None
    module: str
    retryable: bool
    line: int


def tree_block(docstring: str) -> list[str]:
    """The lines of the literal block after the first ``::`` (blank lines kept)."""
    lines = docstring.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("::")) + 1
    block: list[str] = []
    for line in lines[start:]:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    return block


def parse_tree(docstring: str, module: str) -> tuple[list[Drawn], list[str]]:
    """The classes drawn in ``docstring`` (of ``module``) and any lines that do not fit a tree."""
    drawn: list[Drawn] = []
    problems: list[str] = []
    spine: list[tuple[int, str, str]] = []  # (column of the name, name, module) of open parents
    for number, line in enumerate(tree_block(docstring), start=1):
        branches = list(_BRANCH_RE.finditer(line))
        if not spine:
            root = re.search(r"\w+", line)
            if root is None:
                continue
            own = _MODULE_RE.search(line)
            drawn.append(Drawn(root.group(), None, own.group(1) if own else module, False, number))
            spine.append((root.start(), root.group(), module))
            continue
        if not branches:
            if line.strip(" │"):
                problems.append(f"line {number} names no class after ├─ or └─: {line!r}")
            continue
        column = branches[0].start()
        while spine and spine[-1][0] > column:
            spine.pop()
        if not spine or spine[-1][0] != column:
            problems.append(f"line {number} is under no class: {line!r}")
            continue
        _, parent, parent_module = spine[-1]
        for i, branch in enumerate(branches):
            rest = line[branch.end() : branches[i + 1].start() if i + 1 < len(branches) else None]
            own = _MODULE_RE.search(rest)
            where = own.group(1) if own else parent_module
            retryable = bool(_RETRYABLE_RE.search(rest))
            drawn.append(Drawn(branch.group(1), parent, where, retryable, number))
            if len(branches) == 1:
                spine.append((branch.start(1), branch.group(1), where))
    return drawn, problems


def error_classes_in_src() -> dict[str, str]:
    """Name -> module of every class in src/certsmith deriving from CertsmithError (by the AST)."""
    classes: list[tuple[str, str, set[str]]] = []  # (name, module, names of its bases)
    for path in sorted((SRC / "certsmith").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                named = {getattr(b, "id", None) or getattr(b, "attr", "") for b in node.bases}
                classes.append((node.name, module, named))
    errors = [(ROOT, "certsmith.errors")]
    while True:
        names = {name for name, _ in errors}
        more = [(n, m) for n, m, bases in classes if bases & names and (n, m) not in errors]
        if not more:
            break
        errors += more
    found = dict(errors)
    assert len(found) == len(errors), f"two error classes share a name: {sorted(errors)}"
    return found


DRAWINGS = [("certsmith.errors", ROOT), ("certsmith.acme.errors", "AcmeError")]


@pytest.mark.parametrize(("module", "subtree"), DRAWINGS)
def test_the_drawn_exception_tree_is_the_classes(module: str, subtree: str) -> None:
    docstring = importlib.import_module(module).__doc__ or ""
    drawn, problems = parse_tree(docstring, module)
    assert not problems, "\n".join(problems)
    assert drawn and drawn[0].name == ROOT
    names = [d.name for d in drawn]
    assert len(names) == len(set(names)), "a class is drawn twice"
    real = error_classes_in_src()
    wrong = []
    for d in drawn:
        if d.name not in real:
            wrong.append(f"line {d.line}: {d.name} is no CertsmithError class in src/")
            continue
        cls = getattr(importlib.import_module(real[d.name]), d.name)
        if real[d.name] != d.module:
            wrong.append(f"line {d.line}: {d.name} is in {real[d.name]}, drawn in {d.module}")
        if d.parent is not None:
            parent = getattr(importlib.import_module(real[d.parent]), d.parent)
            if parent not in cls.__bases__:
                bases = ", ".join(b.__name__ for b in cls.__bases__)
                wrong.append(
                    f"line {d.line}: {d.name} derives from {bases}, drawn under {d.parent}"
                )
        if d.parent is not None and d.retryable != cls.retryable:
            wrong.append(f"line {d.line}: {d.name}.retryable is {cls.retryable}, drawn otherwise")
    assert not wrong, "\n".join(wrong)
    top = getattr(importlib.import_module(real[subtree]), subtree)
    in_subtree = {
        name
        for name, where in real.items()
        if issubclass(getattr(importlib.import_module(where), name), top)
    }
    assert in_subtree - set(names) == set(), "error classes missing from the drawing"


def test_the_tree_reader_finds_parents_siblings_modules_and_misdrawn_lines() -> None:
    doc = """Example::

        Root
        ├─ A                (certsmith.a)
        │  ├─ B  ├─ C (retryable)
        │  └─ D             retryable
        └─ E
              └─ F          drawn too deep

    The end.
    """
    drawn, problems = parse_tree(inspect.cleandoc(doc), "certsmith.root")
    assert [(d.name, d.parent, d.module, d.retryable) for d in drawn] == [
        ("Root", None, "certsmith.root", False),
        ("A", "Root", "certsmith.a", False),
        ("B", "A", "certsmith.a", False),
        ("C", "A", "certsmith.a", True),
        ("D", "A", "certsmith.a", True),
        ("E", "Root", "certsmith.root", False),
    ]
    assert len(problems) == 1 and "F" in problems[0]


def test_every_error_class_found_in_src_is_a_certsmith_error() -> None:
    real = error_classes_in_src()
    assert {"CertsmithError", "AcmeError", "RateLimited", "LockHeld", "HostPortError"} <= set(real)
    for name, module in real.items():
        assert issubclass(getattr(importlib.import_module(module), name), CertsmithError), name
