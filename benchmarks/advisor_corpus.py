"""The index behind issue 18's figures and screenshots: the fiches the evaluation set expects plus those
the six advisor questions need, embedded once through the evaluation's cache (~/.cache/guichet).

Usage: python benchmarks/advisor_corpus.py [--data-dir .data/advisor] [--samples] [--budget N]
  --budget   passages at most (default 650: ~2 minutes per 100 passages on 2 busy cores): the six
             questions' fiches, then the cases with expected facts whose fiches are lightest first;
             the cases kept are written to <data-dir>/questions.jsonl (what composer_quality.py runs)
  --samples  also index the demo's sample fiches first (what `make demo` then the README's ingest step
             give), for the page; without it, the real fiches only (the evaluation set is written on them)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _common import REPO, SHARED_FICHES

# The six questions of issue 18 and the real fiches that answer them.
SIX_QUESTIONS = (
    ("identite", "Carte d'identité périmée, comment la renouveler ?"),
    ("passeport-mineur", "Quels papiers pour le passeport de son fils de 12 ans ?"),
    ("prime-activite", "Comment demander la prime d'activité ?"),
    ("carte-grise", "Comment changer l'adresse sur la carte grise ?"),
    ("permis-perdu", "Il a perdu son permis de conduire, que faire ?"),
    ("rsa-30-ans", "RSA pour une personne de 30 ans vivant seule"),
)
SIX_FICHES = ("F21089", "F1341", "F14930", "F21092", "F2882", "F12118", "F1028", "F19778", "F1344", "F1759")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=REPO / ".data" / "advisor")
    parser.add_argument("--samples", action="store_true")
    parser.add_argument("--samples-only", action="store_true", help="what `make demo` indexes, no real fiche")
    parser.add_argument("--budget", type=int, default=650)
    args = parser.parse_args()
    from guichet.evaluation.corpus import CORPUS_FILE, CorpusInfo, passage_counts
    from guichet.evaluation.embed_cache import CachingEmbedder, default_cache_path
    from guichet.indexing.bulk_ingest import ingest_into
    from guichet.process.serve import SAMPLE_PREFIX, sample_corpus_dir
    from guichet.settings import Settings
    from guichet.wiring import Stack, build_embedder

    settings = Settings(data_dir=args.data_dir)
    every = sorted((SHARED_FICHES / "xml").glob("*.xml"))
    counts = passage_counts(every, settings)
    wanted = set(SIX_FICHES)
    total = sum(counts[f] for f in wanted)
    lines = [
        raw for raw in (REPO / "evals" / "questions.jsonl").read_text("utf-8").splitlines() if raw.strip()
    ]
    cases = [json.loads(raw) for raw in lines]
    kept: list[str] = []
    for raw, case in sorted(zip(lines, cases, strict=True), key=lambda lc: _cost(lc[1], wanted, counts)):
        extra = _cost(case, wanted, counts)
        if case.get("expected_facts") and total + extra <= args.budget:
            wanted |= set(case["expected_sources"])
            total += extra
            kept.append(raw)
    paths = [] if args.samples_only else [p for p in every if p.stem in wanted]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    kept.sort(key=lines.index)
    (settings.data_dir / "questions.jsonl").write_text("".join(f"{raw}\n" for raw in kept), "utf-8")
    embedder = CachingEmbedder(build_embedder(settings), default_cache_path())
    stack = Stack(settings, embedder=embedder, announce_writes=False)
    started = time.perf_counter()
    try:
        if args.samples or args.samples_only:
            print(ingest_into(stack, [sample_corpus_dir()], prefix=SAMPLE_PREFIX).summary(), file=sys.stderr)
        report = ingest_into(stack, paths, progress=False)
        passages = stack.index.chunk_count()
    finally:
        stack.close()
        embedder.close()
    info = CorpusInfo(
        description=f"{len(paths)} fiches : 6 questions (ticket 18) + {len(kept)} cas",
        fiches=len(paths),
        passages=passages,
        embedded=embedder.misses,
        ids=tuple(p.stem for p in paths),
    )
    (settings.data_dir / CORPUS_FILE).write_text(json.dumps(info.to_json(), ensure_ascii=False), "utf-8")
    print(
        f"{report.summary()}; {passages} passages, {embedder.misses} embedded, "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return 0


def _cost(case: dict[str, list[str]], have: set[str], counts: dict[str, int]) -> int:
    return sum(counts.get(f, 10_000) for f in set(case["expected_sources"]) - have)


if __name__ == "__main__":
    sys.exit(main())
