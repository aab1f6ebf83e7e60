"""Helpers shared by the benchmark scripts (not part of the product)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_FICHES = REPO.parent / "shared" / "fiches"


def load_cases(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def hit_and_rr(ranked_doc_ids: list[str], expected: set[str], k: int = 5) -> tuple[bool, float]:
    """hit@k and reciprocal rank of the first expected document among ranked (deduplicated) doc ids."""
    seen: list[str] = []
    for doc_id in ranked_doc_ids:
        if doc_id not in seen:
            seen.append(doc_id)
    rank = next((i for i, d in enumerate(seen, 1) if d in expected), None)
    return (rank is not None and rank <= k), (1.0 / rank if rank else 0.0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
