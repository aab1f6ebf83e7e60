"""The embedded stack: writes into the local store emit MinIO-shaped events that the index worker applies."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.commands import index_handler, ingest_into
from guichet.ports.broker import REASON_HEADER, dead_letter_queue
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.embedders.fake import HashingEmbedder
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.reconcile import reconcile
from guichet.runner import consume_in_thread
from guichet.settings import Settings
from guichet.wiring import Stack, build_store

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    settings = Settings(data_dir=tmp_path)
    broker = MemoryBroker(settings.broker_path)
    embedder = HashingEmbedder()
    stack = Stack(
        settings,
        broker,
        build_store(settings, broker),
        embedder,
        EmbeddedIndex(settings.index_path, dimension=embedder.dimension),
    )
    yield stack
    stack.close()


@pytest.fixture
def worker(stack: Stack) -> Iterator[MemoryBroker]:
    stop = threading.Event()
    thread = consume_in_thread(stack.broker, stack.settings.index_queue, index_handler(stack), stop)
    assert isinstance(stack.broker, MemoryBroker)
    yield stack.broker
    stop.set()
    thread.join(timeout=5)


def test_store_write_is_indexed_and_delete_removes(stack: Stack, worker: MemoryBroker) -> None:
    data = sorted(SAMPLES.glob("*.xml"))[0].read_bytes()
    stack.store.put("dossier/ma fiche.xml", data)
    worker.join(stack.settings.index_queue)
    state = stack.index.document_state("dossier/ma fiche.xml")
    assert state is not None and state.chunk_count > 0 and not state.deleted
    stack.store.delete("dossier/ma fiche.xml")
    worker.join(stack.settings.index_queue)
    state = stack.index.document_state("dossier/ma fiche.xml")
    assert state is not None and state.deleted


def test_poisoned_document_goes_to_dead_letters_with_reason(stack: Stack, worker: MemoryBroker) -> None:
    stack.store.put("cassé.xml", "<Publication><dc:title>non fermé".encode())
    stack.store.put("notes.docx", b"PK\x03\x04")
    stack.store.put("bon.txt", "Le chèque énergie est envoyé automatiquement.".encode())
    worker.join(stack.settings.index_queue)
    dead = worker.messages(dead_letter_queue(stack.settings.index_queue))
    reasons = sorted(e.headers[REASON_HEADER] for e in dead)
    assert len(reasons) == 2
    assert any("format non pris en charge" in r for r in reasons)
    assert stack.index.document_state("bon.txt") is not None


def test_ingest_then_events_cost_nothing(stack: Stack, worker: MemoryBroker) -> None:
    report = ingest_into(stack, [SAMPLES], prefix="exemples", progress=False)
    assert report.outcomes["indexed"] == len(list(SAMPLES.glob("*.xml")))
    worker.join(stack.settings.index_queue)
    again = ingest_into(stack, [SAMPLES], prefix="exemples", progress=False)
    assert again.embedded == 0 and again.outcomes["unchanged"] == report.outcomes["indexed"]
    assert worker.messages(dead_letter_queue(stack.settings.index_queue)) == []


def test_reconcile_repairs_lost_events(stack: Stack) -> None:
    files = sorted(SAMPLES.glob("*.xml"))[:3]
    for path in files:
        stack.store.put(f"perdus/{path.name}", path.read_bytes())  # nobody consumes: events "lost"
    stack.index.delete_document("fantome.xml")
    report = reconcile(stack.store, stack.index, stack.indexer)
    assert report.outcomes["indexed"] == 3
    assert all(stack.index.document_state(f"perdus/{p.name}") is not None for p in files)
    stack.store.delete(f"perdus/{files[0].name}")
    second = reconcile(stack.store, stack.index, stack.indexer)
    assert second.outcomes["removed"] == 1 and second.outcomes["in_sync"] == 2


def test_ingest_zip_dump_and_rejects_unsafe_members(stack: Stack, tmp_path: Path) -> None:
    dump = tmp_path / "vosdroits-latest.zip"
    files = sorted(SAMPLES.glob("*.xml"))[:2]
    with zipfile.ZipFile(dump, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.name)
        archive.writestr("../evil.xml", "<Publication/>")
        archive.writestr("bombe.xml", "<a>" + " " * 5_000_000 + "</a>")
    report = ingest_into(stack, [dump], progress=False)
    assert report.outcomes["indexed"] == 2
    assert set(report.errors) == {"vosdroits-latest/../evil.xml", "vosdroits-latest/bombe.xml"}
    assert stack.index.document_state(f"vosdroits-latest/{files[0].name}") is not None
