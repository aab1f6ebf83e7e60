"""The short-lived CLI commands, over a Stack built from the settings (cli.py only parses arguments)."""

from __future__ import annotations

from pathlib import Path

from guichet.answer.retrieval import Passage
from guichet.corpus.model import SAMPLE_PREFIX
from guichet.indexing.bulk_ingest import IngestReport, ingest_into
from guichet.indexing.reconcile import ReconcileReport, reconcile
from guichet.ports.records import SearchMode
from guichet.settings import Settings
from guichet.wiring import Stack, build_stack


class EmptyIndex(Exception):
    """A search before anything was ingested: say what to do rather than print no result."""


def ingest_paths(
    settings: Settings, paths: list[Path], *, prefix: str = "", replace_samples: bool = False
) -> tuple[IngestReport, int]:
    """(the report, sample fiches removed). replace_samples: the demo's sample fiches (SAMPLE_PREFIX
    keys) are removed from the store and the index first, so that real fiches answer alone."""
    # Indexed inline: announcing the writes would only queue events that find every document current.
    stack = build_stack(settings, announce_writes=False)
    try:
        removed = drop_samples(stack) if replace_samples else 0
        return ingest_into(stack, paths, prefix=prefix), removed
    finally:
        stack.close()


def drop_samples(stack: Stack) -> int:
    """Removes the demo's sample fiches from the store (the truth) and the index; how many."""
    keys = [stored.key for stored in stack.store.list(f"{SAMPLE_PREFIX}/")]
    for key in keys:
        stack.store.delete(key)
        stack.indexer.remove_object(key)
    return len(keys)


def samples_indexed(settings: Settings) -> int:
    """Sample fiches still in the store: the CLI then says how to drop them."""
    stack = build_stack(settings, announce_writes=False)
    try:
        return sum(1 for _ in stack.store.list(f"{SAMPLE_PREFIX}/"))
    finally:
        stack.close()


def search_passages(
    settings: Settings, query: str, *, audience: str | None, k: int, mode: SearchMode
) -> list[Passage]:
    stack = build_stack(settings)
    try:
        if stack.index.chunk_count() == 0:
            raise EmptyIndex("l'index est vide : lancez « guichet ingest CHEMIN… » ou « guichet demo »")
        return stack.retriever.passages(query, audience=audience, k=k, mode=mode)
    finally:
        stack.close()


def reconcile_stack(settings: Settings) -> ReconcileReport:
    stack = build_stack(settings)
    try:
        return reconcile(
            stack.store, stack.index, stack.indexer, max_document_bytes=settings.max_document_bytes
        )
    finally:
        stack.close()
