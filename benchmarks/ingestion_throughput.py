"""Ingestion throughput as a ratio of the embedder's raw speed, measured in one run.

Usage: python benchmarks/ingestion_throughput.py [--fiches 25]
1. chunks N real fiches and times the bundled embedder alone on exactly those chunk texts (raw passages/s);
2. ingests the same fiches into a fresh embedded stack (parse + chunk + embed + upsert + store) → docs/s,
   chunks/s, and the ratio chunks/s ÷ raw passages/s (1.0 = ingestion costs nothing beyond embedding);
3. re-ingests them unchanged → embedded passages must be 0, and its docs/s.
Target (issue 15): ingestion ≥ 80 % of the raw embedder's passages/s, the embedder using both cores;
--check exits 1 when it is missed (or when an unchanged re-ingestion embeds anything).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import SHARED_FICHES

TARGET_RATIO = 0.80


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fiches", type=int, default=25)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not SHARED_FICHES.exists():
        print(f"skipped: {SHARED_FICHES} not found", file=sys.stderr)
        return 0
    from guichet.corpus.chunking import chunk_document
    from guichet.corpus.loader import parse_document
    from guichet.indexing.bulk_ingest import ingest_into
    from guichet.settings import Settings
    from guichet.wiring import build_stack

    fiches = sorted((SHARED_FICHES / "xml").glob("F*.xml"))[: args.fiches]
    texts = []
    for path in fiches:
        doc = parse_document(path.name, path.read_bytes(), max_bytes=20_000_000)
        texts += [c.indexed_text for c in chunk_document(doc, path.name)]
    with tempfile.TemporaryDirectory() as tmp:
        stack = build_stack(Settings(data_dir=Path(tmp)), announce_writes=False)
        stack.embedder.embed_passages(texts[:2])  # load the model outside the timings

        def raw_rate() -> float:
            t0 = time.perf_counter()
            for start in range(0, len(texts), 16):
                stack.embedder.embed_passages(texts[start : start + 16])
            return len(texts) / (time.perf_counter() - t0)

        raw_before = raw_rate()
        staging = Path(tmp) / "fiches"
        staging.mkdir()
        for path in fiches:
            (staging / path.name).write_bytes(path.read_bytes())
        t0 = time.perf_counter()
        first = ingest_into(stack, [staging], progress=False)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = ingest_into(stack, [staging], progress=False)
        warm = time.perf_counter() - t0
        raw_after = raw_rate()  # measured on both sides of the ingestion: CPU clocks drift
        stack.close()
    raw = (raw_before + raw_after) / 2
    words = sum(len(t.split()) for t in texts) / len(texts)
    print(f"fiches: {len(fiches)}, chunks: {len(texts)} (avg {words:.0f} words)")
    print(f"raw embedder:        {raw:8.2f} passages/s (before {raw_before:.2f}, after {raw_after:.2f})")
    print(
        f"ingestion (cold):    {len(fiches) / cold:8.2f} docs/s  {first.chunks / cold:8.2f} chunks/s  "
        f"embedded {first.embedded}"
    )
    ratio = first.chunks / cold / raw
    print(f"ratio chunks/s ÷ raw passages/s: {ratio:.3f} (target ≥ {TARGET_RATIO})")
    print(
        f"re-ingestion (unchanged): {len(fiches) / warm:8.2f} docs/s, embedded {again.embedded} "
        f"({again.summary()})"
    )
    met = ratio >= TARGET_RATIO and again.embedded == 0
    print(f"target: {'met' if met else 'MISSED'}")
    return int(args.check and not met)


if __name__ == "__main__":
    sys.exit(main())
