"""Dependencies point one way: cli -> renewal -> {issuance, storage, challenges} -> acme."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "certsmith"

# For each layer, the certsmith modules it must never import.
FORBIDDEN = {
    "acme": {
        "challenges",
        "storage",
        "preflight",
        "renewal",
        "cli",
        "issuance",
        "crypto",
        "dnsutil",
    },
    "challenges": {"storage", "renewal", "cli", "issuance"},
    "storage": {"challenges", "preflight", "renewal", "cli", "issuance", "acme.client"},
    "preflight": {"storage", "renewal", "cli", "issuance"},
    "crypto": {"challenges", "storage", "preflight", "renewal", "cli", "issuance"},
    "issuance": {"storage", "renewal", "cli"},
    "renewal": {"cli", "installers"},
    "installers": {"cli"},
    # alerts and the status page: below the CLI, above storage (no engine, no protocol)
    "notify": {"cli", "installers", "issuance", "acme.client", "renewal.engine", "report"},
    "report": {"cli", "installers", "issuance", "acme", "renewal", "notify"},
    # check and schedule: storage and renewal.policy's pure rules; never the engine or the CLI
    "monitor": {"cli", "installers", "challenges", "issuance", "acme", "renewal.engine"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name.removeprefix("certsmith.") for name in found if name.startswith("certsmith.")}


def _layer_files(layer: str) -> list[Path]:
    folder = SRC / layer
    return sorted(folder.rglob("*.py")) if folder.is_dir() else [SRC / f"{layer}.py"]


def test_dependencies_point_one_way() -> None:
    violations = []
    checked = 0
    for layer, forbidden in FORBIDDEN.items():
        for path in _layer_files(layer):
            if not path.exists():
                continue
            checked += 1
            for module in _imports(path):
                if any(module == bad or module.startswith(bad + ".") for bad in forbidden):
                    violations.append(f"{path.relative_to(SRC)} imports certsmith.{module}")
    assert checked > 0
    assert violations == []


def test_only_cli_prints() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        if "cli" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"print", "input"}:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_only_storage_names_the_lineage_folders() -> None:
    """live/, archive/, renewal/ and accounts/ are the file backend's business: other code asks
    the stores (so a database backend needs no change elsewhere)."""
    folders = {"live", "archive", "renewal", "accounts"}
    offenders = []
    for path in SRC.rglob("*.py"):
        if "storage" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                parts = set(node.value.strip("/").split("/"))
                if node.value.strip("/") in folders or (len(parts) > 1 and parts & folders):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}")
    assert offenders == []
