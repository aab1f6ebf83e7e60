"""The index worker's handler against reordered, duplicated and non-content events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from guichet.indexing.handler import IndexEventHandler
from guichet.indexing.indexer import ConcurrentUpdate, Indexer, content_hash
from guichet.indexing.notifications import build_bucket_notification
from guichet.ports.indexes.embedded import EmbeddedIndex
from guichet.ports.records import Envelope, Vector
from guichet.ports.stores.local import LocalObjectStore
from guichet.testing.fake_embedder import HashingEmbedder

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"
KEY = "fiches/une fiche.xml"


class CountingEmbedder(HashingEmbedder):
    calls = 0

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        self.calls += len(texts)
        return super().embed_passages(texts)


class Setup:
    def __init__(self, root: Path) -> None:
        self.store = LocalObjectStore(root / "store")
        self.embedder = CountingEmbedder()
        self.index = EmbeddedIndex(root / "index", dimension=self.embedder.dimension)
        self.handler = IndexEventHandler(
            self.store, Indexer(self.index, self.embedder), max_document_bytes=10**6
        )

    def event(self, name: str, sequencer: int, key: str = KEY) -> None:
        head = self.store.head(key)
        body = build_bucket_notification(
            name,
            "guichet",
            key,
            size=head.size if head else 0,
            etag=head.etag if head and "Created" in name else "",
            sequencer=f"{sequencer:016X}",
        )
        self.handler(Envelope(body=body, message_id=str(sequencer)))


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def fiche(n: int = 0) -> bytes:
    return sorted(SAMPLES.glob("*.xml"))[n].read_bytes()


def test_late_removal_after_recreation_keeps_the_document(setup: Setup) -> None:
    setup.store.put(KEY, fiche())
    setup.event("s3:ObjectCreated:Put", 1)
    setup.store.delete(KEY)  # removal S2 ...
    setup.store.put(KEY, fiche())  # ... then the same bytes again, S3
    setup.event("s3:ObjectCreated:Put", 3)  # S3 arrives before S2
    setup.event("s3:ObjectRemoved:Delete", 2)
    state = setup.index.document_state(KEY)
    assert state is not None and not state.deleted
    assert state.sequencer == f"{3:016X}"


def test_late_removal_is_stale_even_when_the_object_is_gone_again(setup: Setup) -> None:
    setup.store.put(KEY, fiche())
    setup.event("s3:ObjectCreated:Put", 5)
    setup.store.delete(KEY)
    setup.event("s3:ObjectRemoved:Delete", 4)  # older than what the index applied
    state = setup.index.document_state(KEY)
    assert state is not None and not state.deleted


def test_duplicate_created_event_costs_nothing(setup: Setup) -> None:
    setup.store.put(KEY, fiche())
    setup.event("s3:ObjectCreated:Put", 1)
    calls = setup.embedder.calls
    assert calls > 0
    setup.event("s3:ObjectCreated:Put", 1)
    setup.event("s3:ObjectCreated:CompleteMultipartUpload", 2)
    assert setup.embedder.calls == calls


def test_tagging_event_on_a_changed_object_does_not_reindex(setup: Setup) -> None:
    setup.store.put(KEY, fiche(0))
    setup.event("s3:ObjectCreated:Put", 1)
    before = setup.index.document_state(KEY)
    setup.store.put(KEY, fiche(1))  # content changed, but only a tagging event is delivered
    calls = setup.embedder.calls
    setup.event("s3:ObjectCreated:PutTagging", 2)
    setup.event("s3:ObjectCreated:PutRetention", 3)
    assert setup.embedder.calls == calls
    assert setup.index.document_state(KEY) == before
    setup.event("s3:ObjectCreated:Put", 4)  # the real write event does reindex
    assert setup.embedder.calls > calls


class InterruptingEmbedder(HashingEmbedder):
    """Runs `interrupt` once, in the middle of the first embedding: another writer at the worst time."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupt: Callable[[], None] | None = None

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        interrupt, self.interrupt = self.interrupt, None
        if interrupt is not None:
            interrupt()
        return super().embed_passages(texts)


def test_a_writer_racing_the_worker_never_leaves_the_older_version(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "store")
    embedder = InterruptingEmbedder()
    index = EmbeddedIndex(tmp_path / "index", dimension=embedder.dimension)
    handler = IndexEventHandler(store, Indexer(index, embedder), max_document_bytes=10**6)
    other_writer = Indexer(index, HashingEmbedder())
    old, new = fiche(0), fiche(1)
    stored = store.put(KEY, old)

    def ingest_newer_version() -> None:
        store.put(KEY, new)
        other_writer.index_object(KEY, new)

    embedder.interrupt = ingest_newer_version
    event = build_bucket_notification(
        "s3:ObjectCreated:Put", "guichet", KEY, size=stored.size, etag=stored.etag, sequencer=f"{1:016X}"
    )
    handler(Envelope(body=event, message_id="1"))
    state = index.document_state(KEY)
    assert state is not None and state.content_hash == content_hash(new)


def test_indexer_refuses_to_overwrite_a_state_that_changed_meanwhile(tmp_path: Path) -> None:
    embedder = InterruptingEmbedder()
    index = EmbeddedIndex(tmp_path / "index", dimension=embedder.dimension)
    other_writer = Indexer(index, HashingEmbedder())
    embedder.interrupt = lambda: other_writer.index_object(KEY, fiche(1))
    with pytest.raises(ConcurrentUpdate):
        Indexer(index, embedder).index_object(KEY, fiche(0))
    state = index.document_state(KEY)
    assert state is not None and state.content_hash == content_hash(fiche(1))


def test_ingest_racing_an_upload_indexes_what_the_store_holds(tmp_path: Path) -> None:
    from guichet.indexing.bulk_ingest import ingest_into
    from guichet.settings import Settings
    from guichet.wiring import Stack

    embedder = InterruptingEmbedder()
    settings = Settings(data_dir=tmp_path)
    index = EmbeddedIndex(settings.index_path, dimension=embedder.dimension)
    stack = Stack(settings, embedder=embedder, index=index, announce_writes=False)
    source = tmp_path / "F1.xml"
    source.write_bytes(fiche(0))
    key = "service-public/" + sorted(SAMPLES.glob("*.xml"))[0].stem + ".xml"
    newer = fiche(0).replace(b"</Paragraphe>", " Version plus récente.</Paragraphe>".encode(), 1)

    def upload_newer_version() -> None:  # POST /v1/documents and its worker, while ingest embeds
        stack.store.put(key, newer)
        Indexer(index, HashingEmbedder()).index_object(key, newer)

    embedder.interrupt = upload_newer_version
    report = ingest_into(stack, [source], progress=False)
    state = index.document_state(key)
    assert report.errors == {} and state is not None
    assert state.content_hash == content_hash(newer) == content_hash(stack.store.get(key))


def test_removal_is_ignored_while_the_object_exists_again(setup: Setup) -> None:
    """Removed (S2) then written again (S3), with S2 delivered first: no gap without the document."""
    setup.store.put(KEY, fiche())
    setup.event("s3:ObjectCreated:Put", 1)
    setup.store.delete(KEY)
    setup.store.put(KEY, fiche(1))
    setup.event("s3:ObjectRemoved:Delete", 2)  # newer than what is indexed, but the object is back
    state = setup.index.document_state(KEY)
    assert state is not None and not state.deleted
