"""The embedded stack: writes into the local store emit MinIO-shaped events that the index worker applies."""

from __future__ import annotations

import re
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from guichet.indexing.bulk_ingest import ingest_into
from guichet.indexing.notifications import build_bucket_notification, parse_bucket_notification
from guichet.indexing.reconcile import reconcile
from guichet.indexing.worker import index_handler
from guichet.ports.broker import REASON_HEADER, dead_letter_queue
from guichet.ports.brokers.memory import MemoryBroker
from guichet.process.consumers import consume_in_thread
from guichet.wiring import Stack

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"


@pytest.fixture
def stack(embedded_stack: Stack) -> Stack:
    return embedded_stack


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
    good = stack.index.document_state("bon.txt")
    assert good is not None and not good.deleted and good.chunk_count == 1


def test_ingest_is_idempotent_and_queues_nothing(stack: Stack, worker: MemoryBroker) -> None:
    # As `guichet ingest` does: index inline through a store that does not announce its writes.
    quiet = Stack(stack.settings, embedder=stack.embedder, index=stack.index, announce_writes=False)
    report = ingest_into(quiet, [SAMPLES], prefix="exemples", progress=False)
    assert report.outcomes == {"indexed": len(list(SAMPLES.glob("*.xml")))} and report.embedded > 0
    assert worker.messages(stack.settings.index_queue) == []
    again = ingest_into(quiet, [SAMPLES], prefix="exemples", progress=False)
    assert again.embedded == 0 and again.outcomes == {"unchanged": report.outcomes["indexed"]}


def test_store_key_conflict_is_reported_per_file(stack: Stack, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "guide.md").mkdir(parents=True)  # a folder where a later file wants a key
    (docs / "a.md").write_text("# A\n\nPremier document.", encoding="utf-8")
    (docs / "z.md").write_text("# Z\n\nDernier document.", encoding="utf-8")
    stack.store.put("docs/a.md/x.txt", b"un objet qui occupe la place")
    report = ingest_into(stack, [docs], progress=False)
    assert set(report.errors) == {"docs/a.md"} and "conflit" in report.errors["docs/a.md"]
    assert stack.index.document_state("docs/a.md") is None  # never indexed without being stored
    assert report.outcomes["indexed"] == 1 and stack.index.document_state("docs/z.md") is not None


def test_reconcile_repairs_lost_events(stack: Stack) -> None:
    files = sorted(SAMPLES.glob("*.xml"))[:3]
    for path in files:
        stack.store.put(f"perdus/{path.name}", path.read_bytes())  # nobody consumes: events "lost"
    stack.index.delete_document("fantome.xml")
    limit = stack.settings.max_document_bytes
    report = reconcile(stack.store, stack.index, stack.indexer, max_document_bytes=limit)
    assert report.outcomes["indexed"] == 3
    assert all(stack.index.document_state(f"perdus/{p.name}") is not None for p in files)
    stack.store.delete(f"perdus/{files[0].name}")
    stack.store.put("perdus/énorme.txt", b"mot " * 1000)
    second = reconcile(stack.store, stack.index, stack.indexer, max_document_bytes=3000)
    assert second.outcomes["removed"] == 1 and second.outcomes["in_sync"] == 2
    assert second.outcomes["rejected"] == 1 and "trop volumineux" in second.errors["perdus/énorme.txt"]


def test_ingest_zip_dump_and_rejects_unsafe_members(stack: Stack, tmp_path: Path) -> None:
    dump = tmp_path / "vosdroits-latest.zip"
    files = sorted(SAMPLES.glob("*.xml"))[:2]
    with zipfile.ZipFile(dump, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(files[0], files[0].name)
        archive.write(files[1], f"./sous//{files[1].name}")  # as some zip tools write names
        archive.writestr("../evil.xml", "<Publication/>")
        archive.writestr("bombe.xml", "<a>" + " " * 5_000_000 + "</a>")
    report = ingest_into(stack, [dump], progress=False)
    assert report.outcomes["indexed"] == 2
    assert set(report.errors) == {"vosdroits-latest/../evil.xml", "vosdroits-latest/bombe.xml"}
    for path in files:  # fiches are keyed by their own ID (EX-… for samples), not by the archive's layout
        key = f"service-public/{_publication_id(path)}.xml"
        assert stack.index.document_state(key) is not None
        assert stack.store.head(key) is not None


def test_next_months_dump_replaces_instead_of_duplicating(stack: Stack, tmp_path: Path) -> None:
    fiche = sorted(SAMPLES.glob("*.xml"))[0]
    for month, member in (("2025-01", fiche.name), ("2025-02", "fiches/autre-nom.xml")):
        with zipfile.ZipFile(tmp_path / f"vosdroits-{month}.zip", "w") as archive:
            archive.write(fiche, member)
    ingest_into(stack, [tmp_path / "vosdroits-2025-01.zip"], progress=False)
    again = ingest_into(stack, [tmp_path / "vosdroits-2025-02.zip", SAMPLES / fiche.name], progress=False)
    assert again.outcomes == {"unchanged": 2}
    assert [s.key for s in stack.index.documents()] == [f"service-public/{_publication_id(fiche)}.xml"]


def test_dila_service_records_are_ignored_not_rejected(stack: Stack, tmp_path: Path) -> None:
    record = tmp_path / "R54755.xml"
    record.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<ServiceComplementaire ID="R54755" type="Téléservice">'
        "<dc:title xmlns:dc='http://purl.org/dc/elements/1.1/'>Simulateur</dc:title></ServiceComplementaire>",
        encoding="utf-8",
    )
    report = ingest_into(stack, [record], progress=False)
    assert report.outcomes == {"ignored": 1} and report.errors == {}
    stack.store.put("dump/R54755.xml", record.read_bytes())
    result = index_handler(stack).apply(
        next(iter(parse_bucket_notification(minio_created("dump/R54755.xml", stack))))
    )
    assert result is not None and result.outcome == "ignored"


def test_dila_drafts_are_ignored_not_indexed(stack: Stack, tmp_path: Path) -> None:
    # The 2020 dump holds four unpublished guided searches titled "**…" ("**CNI -Perte majeur"), which
    # ranked above the published fiches they copy.
    fiche = sorted(SAMPLES.glob("*.xml"))[0]
    xml = fiche.read_text("utf-8")
    title = re.search(r"<dc:title>([^<]*)</dc:title>", xml)
    assert title is not None
    draft = tmp_path / "draft.xml"
    draft.write_text(xml.replace(title.group(0), f"<dc:title>**{title.group(1)}</dc:title>", 1), "utf-8")
    report = ingest_into(stack, [draft], progress=False)
    assert report.outcomes == {"ignored": 1} and report.errors == {}
    assert stack.index.chunk_count() == 0
    stack.store.put("dump/draft.xml", draft.read_bytes())
    event = next(iter(parse_bucket_notification(minio_created("dump/draft.xml", stack))))
    result = index_handler(stack).apply(event)
    assert result is not None and result.outcome == "ignored"
    assert stack.index.chunk_count() == 0
    ingest_into(stack, [fiche], progress=False)
    assert stack.index.chunk_count() > 0  # the published fiche is indexed


def minio_created(key: str, stack: Stack) -> bytes:
    head = stack.store.head(key)
    assert head is not None
    return build_bucket_notification(
        "s3:ObjectCreated:Put", "guichet", key, size=head.size, etag=head.etag, sequencer="00000000000000FF"
    )


def test_reconcile_does_not_remove_a_document_stored_after_its_listing(stack: Stack) -> None:
    """An ingest beside a reconcile: the key is written after the bucket listing, before the removals."""
    data = sorted(SAMPLES.glob("*.xml"))[0].read_bytes()
    stack.store.put("arrive-pendant.xml", data)
    stack.indexer.index_object("arrive-pendant.xml", data)

    class ListingTakenEarlier:
        def __init__(self, store: object) -> None:
            self._store = store

        def list(self, prefix: str = "") -> list[object]:
            return []  # the listing was taken before the ingest stored the key

        def __getattr__(self, name: str) -> object:
            return getattr(self._store, name)

    report = reconcile(ListingTakenEarlier(stack.store), stack.index, stack.indexer, max_document_bytes=10**6)  # type: ignore[arg-type]
    state = stack.index.document_state("arrive-pendant.xml")
    assert report.outcomes["removed"] == 0 and state is not None and not state.deleted


def _publication_id(path: Path) -> str:
    found = re.search(r'<Publication\b[^>]*?\bID="([^"]+)"', path.read_text("utf-8"))
    assert found is not None
    return found.group(1)
