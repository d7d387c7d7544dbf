"""No two certsmith modules import each other, even lazily or only for the type checker.

The graph is read from the source (``ast``), so it sees what a run may never reach: imports
inside functions and under ``if TYPE_CHECKING:``. A module's edges go to the modules it names:

- ``import certsmith.a.b`` -> ``certsmith.a.b``;
- ``from certsmith.a import b`` -> ``certsmith.a.b`` when that is a module (file or package),
  else -> ``certsmith.a`` (its ``__init__``), because ``b`` is a name defined there;
- relative imports are resolved against the importing module's package first.

Python also runs ``certsmith.a``'s ``__init__`` before ``certsmith.a.b``; that implicit edge is
not counted (every submodule would otherwise be in a cycle with a package that imports it). An
explicit one is: a submodule that takes a name from its package's ``__init__`` while that
``__init__`` imports the submodule is a real cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

Graph = dict[str, set[str]]


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of ``package`` under ``root``."""
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _base_package(module: str, path: Path, level: int) -> str:
    """The package a ``from .`` (level 1), ``from ..`` (level 2), ... import starts from."""
    parts = module.split(".")
    if path.name != "__init__.py":
        parts.pop()  # a plain module's "." is the package that holds it
    return ".".join(parts[: len(parts) - (level - 1)])


def imports_of(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """The modules of ``known`` that ``module`` (read from ``path``) names in any import."""
    modules = set(known)
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = _base_package(module, path, node.level)
                source = f"{base}.{source}" if source else base
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in modules else source)
    return {target for target in targets if target in modules and target != module}


def import_graph(root: Path, package: str) -> Graph:
    """Every module of ``package`` -> the modules of ``package`` it imports."""
    files = module_files(root, package)
    return {module: imports_of(module, path, files) for module, path in files.items()}


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, without recursion; each sorted, by first name."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(sorted(graph.get(start, ()))))]
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return sorted(components)


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The components of more than one module: each is at least one import cycle."""
    return [component for component in strongly_connected(graph) if len(component) > 1]


def describe(graph: Mapping[str, set[str]], component: list[str]) -> str:
    """A cycle's modules and the edges that hold it together."""
    members = set(component)
    edges = [f"    {a} -> {b}" for a in component for b in sorted(graph[a] & members)]
    return "  cycle of " + ", ".join(component) + ":\n" + "\n".join(edges)


def test_certsmith_modules_import_each_other_in_no_cycle() -> None:
    graph = import_graph(SRC, "certsmith")
    assert len(graph) > 50 and sum(map(len, graph.values())) > 100  # the walk saw the code
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(describe(graph, c) for c in found)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_detector_finds_a_lazy_cycle_and_ignores_the_implicit_parent_edge(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.sub import b\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/a.py": "def f():\n    from pkg.sub import b\n    return b\n",
            "pkg/sub/b.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from .a import f\n",
            "pkg/sub/c.py": "import pkg.sub.a\nfrom pkg.sub.b import f\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.sub.a"}
    assert graph["pkg.sub.c"] == {"pkg.sub.a", "pkg.sub.b"}
    assert graph["pkg"] == {"pkg.sub.b"}  # pkg.sub.b's run of pkg's __init__ is not an edge
    assert cycles(graph) == [["pkg.sub.a", "pkg.sub.b"]]


def test_detector_counts_a_submodule_taking_a_name_from_its_package(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.impl import helper\nVERSION = 1\n",
            "pkg/impl.py": "from pkg import VERSION\ndef helper(): return VERSION\n",
            "pkg/other.py": "from . import impl\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.other"] == {"pkg.impl"}
    assert cycles(graph) == [["pkg", "pkg.impl"]]


def test_tarjan_separates_two_cycles_joined_by_a_one_way_edge() -> None:
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"c", "e"}, "e": set()}
    assert cycles(graph) == [["a", "b"], ["c", "d"]]
    deep = {f"m{i}": {f"m{i + 1}"} for i in range(5000)} | {"m5000": {"m0"}}
    assert [len(c) for c in cycles(deep)] == [5001]  # no recursion limit
