"""Comparing a ``--dry-run`` diff with what the real command then writes."""

from __future__ import annotations

import difflib
from collections import Counter
from pathlib import Path


def added_in_preview(diff: str) -> Counter[str]:
    """The lines a unified diff adds (its ``+`` lines, headers left out)."""
    return Counter(
        line[1:]
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    )


def added_between(before: dict[Path, bytes], after: dict[Path, bytes]) -> Counter[str]:
    """The lines ``after`` has that ``before`` had not, over every file (new files whole)."""
    added: Counter[str] = Counter()
    for path, data in after.items():
        old = before.get(path, b"").decode().splitlines()
        for line in difflib.unified_diff(old, data.decode().splitlines(), lineterm=""):
            if line.startswith("+") and not line.startswith("+++"):
                added[line[1:]] += 1
    return added


def checkpoints(config_dir: Path) -> list[str]:
    root = config_dir / ".certsmith-checkpoints"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []
