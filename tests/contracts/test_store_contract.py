"""The ObjectStore contract (ports/store.py), run on every implementation."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from guichet.indexing.notifications import parse_bucket_notification, sequencer_is_newer
from guichet.ports.store import InvalidKey, ObjectNotFound, ObjectStore
from guichet.ports.stores.local import LocalObjectStore

UNICODE_KEY = "dossier/Carte d'identité + passeport (été).xml"
BAD_KEYS = ["../x", "a/../../x", "/abs", "", "a//b", "a/./b", "nul\x00.txt"]


class StoreContract:
    @pytest.fixture
    def store(self) -> ObjectStore:
        raise NotImplementedError

    def test_put_get_head_delete(self, store: ObjectStore) -> None:
        data = b"<Publication>...</Publication>"
        stored = store.put("fiches/F1234.xml", data, "application/xml")
        assert (stored.key, stored.size, stored.etag) == (
            "fiches/F1234.xml",
            len(data),
            hashlib.md5(data).hexdigest(),
        )
        assert store.get("fiches/F1234.xml") == data
        head = store.head("fiches/F1234.xml")
        assert head is not None and (head.size, head.etag) == (len(data), stored.etag)
        store.delete("fiches/F1234.xml")
        assert store.head("fiches/F1234.xml") is None
        with pytest.raises(ObjectNotFound):
            store.get("fiches/F1234.xml")

    def test_overwrite_replaces_content(self, store: ObjectStore) -> None:
        store.put("a.txt", b"v1")
        second = store.put("a.txt", b"version 2")
        assert store.get("a.txt") == b"version 2"
        head = store.head("a.txt")
        assert head is not None and head.etag == second.etag == hashlib.md5(b"version 2").hexdigest()

    def test_missing_objects(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFound):
            store.get("absent.xml")
        assert store.head("absent.xml") is None
        store.delete("absent.xml")  # not an error

    def test_list_in_key_order_under_prefix(self, store: ObjectStore) -> None:
        keys = [f"lot/{i:03d}.txt" for i in range(25)]
        for key in reversed(keys):
            store.put(key, key.encode())
        store.put("lotissement.txt", b"x")
        store.put("autre/1.txt", b"x")
        assert [o.key for o in store.list("lot/")] == keys
        assert [o.key for o in store.list()] == sorted([*keys, "lotissement.txt", "autre/1.txt"])
        listed = next(iter(store.list("lot/000")))
        assert (listed.size, listed.etag) == (len(b"lot/000.txt"), hashlib.md5(b"lot/000.txt").hexdigest())
        assert list(store.list("rien/")) == []

    def test_unicode_keys_with_spaces_and_accents(self, store: ObjectStore) -> None:
        store.put(UNICODE_KEY, "contenu accentué".encode())
        assert store.get(UNICODE_KEY) == "contenu accentué".encode()
        assert [o.key for o in store.list("dossier/")] == [UNICODE_KEY]

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_invalid_keys_are_refused(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(InvalidKey):
            store.put(key, b"x")
        with pytest.raises(InvalidKey):
            store.get(key)
        with pytest.raises(InvalidKey):
            store.delete(key)

    def test_ping(self, store: ObjectStore) -> None:
        assert store.ping()


class TestLocalObjectStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ObjectStore:
        return LocalObjectStore(tmp_path / "store")

    def test_nothing_escapes_root_and_no_temp_files_remain(self, tmp_path: Path) -> None:
        store = LocalObjectStore(tmp_path / "store")
        store.put("a/b.txt", b"x")
        store.delete("a/b.txt")
        assert list((tmp_path / "store").rglob("*")) == [], "empty folders or temp files were left"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]

    def test_notify_emits_minio_events(self, tmp_path: Path) -> None:
        bodies: list[bytes] = []
        store = LocalObjectStore(tmp_path / "store", bucket="docs", notify=bodies.append)
        stored = store.put(UNICODE_KEY, b"contenu", "application/xml")
        store.put(UNICODE_KEY, b"contenu 2")
        store.delete(UNICODE_KEY)
        store.delete(UNICODE_KEY)  # missing: no event
        events = [event for body in bodies for event in parse_bucket_notification(body)]
        assert [(e.action, e.event_name) for e in events] == [
            ("created", "s3:ObjectCreated:Put"),
            ("created", "s3:ObjectCreated:Put"),
            ("removed", "s3:ObjectRemoved:Delete"),
        ]
        assert {(e.bucket, e.key) for e in events} == {("docs", UNICODE_KEY)}
        assert (events[0].size, events[0].etag) == (stored.size, stored.etag)
        sequencers = [e.sequencer for e in events]
        assert all(sequencer_is_newer(b, a) for a, b in itertools.pairwise(sequencers))

    def test_failed_notify_is_raised_after_the_write(self, tmp_path: Path) -> None:
        def broken(body: bytes) -> None:
            raise RuntimeError("broker down")

        store = LocalObjectStore(tmp_path / "store", notify=broken)
        with pytest.raises(RuntimeError):
            store.put("a.txt", b"x")
        assert store.get("a.txt") == b"x"  # durable; `guichet reconcile` repairs the missed event


@pytest.mark.s3
class TestS3ObjectStore(StoreContract):
    @pytest.fixture
    def store(self, moto_s3: str, unique_name: Callable[[str], str]) -> ObjectStore:
        from guichet.ports.stores.s3 import S3ObjectStore

        # A small page size makes the 25-key listing span several pages.
        return S3ObjectStore(unique_name("bucket"), endpoint_url=moto_s3, create_bucket=True, page_size=7)

    def test_missing_bucket(self, moto_s3: str, unique_name: Callable[[str], str]) -> None:
        from guichet.ports.store import StoreError
        from guichet.ports.stores.s3 import S3ObjectStore

        store = S3ObjectStore(unique_name("absent"), endpoint_url=moto_s3)
        assert not store.ping()
        with pytest.raises(StoreError):
            store.put("a.txt", b"x")

    def test_create_bucket_is_idempotent(self, moto_s3: str, unique_name: Callable[[str], str]) -> None:
        from guichet.ports.stores.s3 import S3ObjectStore

        name = unique_name("bucket")
        S3ObjectStore(name, endpoint_url=moto_s3, create_bucket=True)
        assert S3ObjectStore(name, endpoint_url=moto_s3, create_bucket=True).ping()
