"""WeaviateIndex through the real weaviate-client, with only the transport replaced (no server).

FakeWeaviate stands in for the gRPC and REST calls of one connection: it decodes the protobuf
requests the client builds from the adapter's arguments (batch objects, batch delete, search,
aggregate, schema), keeps objects in memory, and answers with the protobuf replies the client
then parses. So every client-side step the adapter relies on (argument validation, filter and
vector encoding, property and vector decoding, the insert_many / delete_many return objects) runs
for real; only the server's ranking is approximated (plain BM25, cosine, relative-score fusion).
"""

from __future__ import annotations

import json
import math
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import weaviate
from google.protobuf.json_format import MessageToDict
from weaviate.connect.base import ConnectionParams
from weaviate.proto.v1 import (
    aggregate_pb2,
    base_pb2,
    batch_delete_pb2,
    properties_pb2,
    search_get_pb2,
)
from weaviate.util import _ServerVersion

from guichet.ports.index import IndexBackendError, VectorIndex
from guichet.ports.indexes import _weaviate_search as adapter_search
from guichet.ports.indexes import weaviate as adapter
from guichet.ports.indexes.fusion import LEXICAL_WEIGHT, RRF_K, VECTOR_WEIGHT, candidate_depth
from guichet.ports.records import DocumentState, SearchFilters, chunk_uuid
from tests.contracts.test_index_contract import CNI, DIM, EMBEDDER, IndexContract, make_chunks, put

INT_PROPS = {"ordinal", "chunk_count"}


def _floats(data: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(data) // 4}f", data))


def _query_vector(msg: Any) -> list[float]:
    if msg.vector_bytes:
        return _floats(msg.vector_bytes)
    for target in msg.vector_for_targets:
        if target.vector_bytes:
            return _floats(target.vector_bytes)
        return _floats(target.vectors[0].vector_bytes)
    return _floats(msg.vectors[0].vector_bytes)


def _cosine(a: list[float], b: list[float]) -> float:
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb) if na and nb else 0.0


def _value(name: str, v: Any) -> properties_pb2.Value:
    if isinstance(v, bool):
        return properties_pb2.Value(bool_value=v)
    if isinstance(v, list):
        return properties_pb2.Value(list_value=properties_pb2.ListValue(text_values={"values": v}))
    if name in INT_PROPS:
        return properties_pb2.Value(int_value=int(v))
    return properties_pb2.Value(text_value=v)


class FakeWeaviate:
    def __init__(self, max_results: int = 10_000) -> None:
        self.max_results = max_results  # QUERY_MAXIMUM_RESULTS
        self.schemas: dict[str, dict[str, Any]] = {}
        self.data: dict[str, dict[str, tuple[dict[str, Any], dict[str, list[float]]]]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.reject: set[str] = set()  # uuids whose insertion the "server" refuses

    # -- REST ------------------------------------------------------------------------------------
    def send(self, method: str, *, url: str, weaviate_object: Any = None, **_: Any) -> httpx.Response:
        path = url.split("/v1", 1)[1]
        self.calls.append((f"{method} {path}", weaviate_object))
        request = httpx.Request(method, url)
        if method == "GET" and path.startswith("/schema/"):
            name = path.removeprefix("/schema/")
            return httpx.Response(200 if name in self.schemas else 404, json={}, request=request)
        if method == "POST" and path == "/schema":
            self.schemas[weaviate_object["class"]] = weaviate_object
            self.data.setdefault(weaviate_object["class"], {})
            return httpx.Response(200, json=weaviate_object, request=request)
        if method == "DELETE" and path.startswith("/schema/"):
            self.schemas.pop(path.removeprefix("/schema/"), None)
            return httpx.Response(200, json={}, request=request)
        if method == "GET" and path in ("/.well-known/ready", "/.well-known/live"):
            return httpx.Response(200, request=request)
        raise AssertionError(f"unexpected REST call {method} {path}")

    # -- gRPC ------------------------------------------------------------------------------------
    def grpc_batch_objects(self, request: Any, timeout: float, max_retries: float) -> dict[int, str]:
        self.calls.append(("batch", request))
        errors = {}
        for i, obj in enumerate(request.objects):
            if obj.uuid in self.reject:
                errors[i] = f"refusé {obj.uuid}"
                continue
            props = MessageToDict(obj.properties.non_ref_properties)
            props.update({a.prop_name: list(a.values) for a in obj.properties.text_array_properties})
            props.update({name: [] for name in obj.properties.empty_list_props})
            vectors = {v.name: _floats(v.vector_bytes) for v in obj.vectors}
            self.data[obj.collection][obj.uuid] = (props, vectors)
        return errors

    def grpc_batch_delete(self, request: Any) -> batch_delete_pb2.BatchDeleteReply:
        self.calls.append(("delete", request))
        store = self.data[request.collection]
        matched = [u for u, (p, _) in sorted(store.items()) if self._match(request.filters, u, p)]
        matched = matched[: self.max_results]
        for u in matched:
            del store[u]
        return batch_delete_pb2.BatchDeleteReply(matches=len(matched), successful=len(matched), failed=0)

    def grpc_aggregate(self, request: Any) -> aggregate_pb2.AggregateReply:
        count = len(self.data[request.collection])
        return aggregate_pb2.AggregateReply(single_result={"objects_count": count})

    def grpc_search(self, request: Any) -> search_get_pb2.SearchReply:
        self.calls.append(("search", request))
        store = self.data[request.collection]
        rows = [(u, p, v) for u, (p, v) in sorted(store.items())]
        if request.HasField("filters"):
            rows = [r for r in rows if self._match(request.filters, r[0], r[1])]
        if request.after:
            rows = [r for r in rows if r[0] > request.after]
        scored = self._rank(request, rows)
        limit = request.limit or 10  # proto3: 0 means "not set", the server applies its default
        page = scored[request.offset : request.offset + limit]
        return search_get_pb2.SearchReply(results=[self._result(request, *s) for s in page])

    def _rank(self, request: Any, rows: list[Any]) -> list[tuple[Any, float | None, float | None]]:
        if request.HasField("bm25_search"):
            bm = self._bm25(request.bm25_search.query, rows)
            return sorted(((r, bm[r[0]], None) for r in rows if bm[r[0]] > 0), key=lambda x: -x[1])
        if request.HasField("near_vector"):
            q = _query_vector(request.near_vector)
            dist = [(r, None, 1.0 - _cosine(q, r[2]["default"])) for r in rows]
            return sorted(dist, key=lambda x: x[2])
        if request.HasField("hybrid_search"):
            h = request.hybrid_search
            q = _query_vector(h)
            vec = {r[0]: _cosine(q, r[2]["default"]) for r in rows}
            lex = self._bm25(h.query, rows) if h.query else {}
            alpha = h.alpha_param if h.use_alpha_param else h.alpha

            def norm(d: dict[str, float]) -> dict[str, float]:
                lo, hi = min(d.values(), default=0.0), max(d.values(), default=0.0)
                return {k: (x - lo) / (hi - lo) if hi > lo else 1.0 for k, x in d.items()}

            nl, nv = norm({k: x for k, x in lex.items() if x > 0}), norm(vec)
            fused = {r[0]: alpha * nv.get(r[0], 0.0) + (1 - alpha) * nl.get(r[0], 0.0) for r in rows}
            return sorted(((r, fused[r[0]], None) for r in rows), key=lambda x: -x[1])
        return [(r, None, None) for r in rows]

    @staticmethod
    def _bm25(query: str, rows: list[Any]) -> dict[str, float]:
        docs = {u: p.get("analyzed", "").split() for u, p, _ in rows}
        avg = sum(map(len, docs.values())) / max(len(docs), 1)
        scores = dict.fromkeys(docs, 0.0)
        for term in set(query.split()):
            df = sum(term in d for d in docs.values())
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            for u, d in docs.items():
                tf = d.count(term)
                scores[u] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(d) / avg)) if tf else 0.0
        return scores

    def _result(self, request: Any, row: Any, score: float | None, dist: float | None) -> Any:
        u, props, vectors = row
        wanted = [p for p in request.properties.non_ref_properties] or list(props)
        meta = search_get_pb2.MetadataResult(id_as_bytes=uuid.UUID(u).bytes)
        if score is not None:
            meta.score, meta.score_present = score, True
        if dist is not None:
            meta.distance, meta.distance_present = dist, True
        if request.metadata.creation_time_unix:  # fetch_object_by_id asserts the server sent them
            meta.creation_time_unix, meta.creation_time_unix_present = 1_700_000_000_000, True
            meta.last_update_time_unix, meta.last_update_time_unix_present = 1_700_000_000_000, True
        for name in request.metadata.vectors:
            vec = struct.pack(f"<{len(vectors[name])}f", *vectors[name])
            meta.vectors.append(base_pb2.Vectors(name=name, vector_bytes=vec))
        fields = {k: _value(k, props[k]) for k in wanted if k in props}
        return search_get_pb2.SearchResult(
            properties=search_get_pb2.PropertiesResult(
                non_ref_props=properties_pb2.Properties(fields=fields)
            ),
            metadata=meta,
        )

    def _match(self, f: Any, u: str, props: dict[str, Any]) -> bool:
        if f.operator == base_pb2.Filters.OPERATOR_AND:
            return all(self._match(sub, u, props) for sub in f.filters)
        name = f.target.property
        value = u if name == "_id" else props.get(name)
        if f.operator == base_pb2.Filters.OPERATOR_EQUAL:
            return bool(value == f.value_text)
        if f.operator == base_pb2.Filters.OPERATOR_CONTAINS_ANY:
            have = set(value) if isinstance(value, list) else {value}
            return bool(have & set(f.value_text_array.values))
        if f.operator == base_pb2.Filters.OPERATOR_CONTAINS_ALL:  # a whitespace-tokenized text property
            tokens = set(value) if isinstance(value, list) else set(str(value or "").split())
            return set(f.value_text_array.values) <= tokens
        raise AssertionError(f"unexpected filter operator {f.operator}")


def fake_client(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> weaviate.WeaviateClient:
    params = ConnectionParams.from_params(
        http_host="weaviate.test", http_port=8080, http_secure=False,
        grpc_host="weaviate.test", grpc_port=50051, grpc_secure=False,
    )  # fmt: skip
    client = weaviate.WeaviateClient(params, skip_init_checks=True)
    conn: Any = client._connection
    conn._weaviate_version = _ServerVersion.from_string("1.32.0")
    conn._connected = True
    conn._client = object()  # _send asserts an HTTP client exists; our send replaces the call
    for name in ("grpc_batch_objects", "grpc_batch_delete", "grpc_aggregate", "grpc_search"):
        monkeypatch.setattr(conn, name, getattr(fake, name))

    def send(method: str, **kw: Any) -> httpx.Response:
        # The client's own status check (403, unexpected codes -> UnexpectedStatusCodeError) still runs.
        check = conn._ConnectionBase__handle_response
        return check(fake.send(method, **kw), kw["error_msg"], kw["status_codes"])  # type: ignore[no-any-return]

    monkeypatch.setattr(conn, "_send", send)
    monkeypatch.setattr(conn, "_ping_grpc", lambda colour: None)  # gRPC health check answers
    monkeypatch.setattr(conn, "close", lambda colour: None)
    return client


@pytest.fixture
def fake() -> FakeWeaviate:
    return FakeWeaviate()


def open_index(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> adapter.WeaviateIndex:
    client = fake_client(fake, monkeypatch)
    monkeypatch.setattr(adapter.weaviate, "connect_to_custom", lambda **kw: client)
    return adapter.WeaviateIndex("http://weaviate.test:8080", collection="GuichetTest", dimension=DIM)


class TestWeaviateAdapterContract(IndexContract):
    """The whole port contract, through the real client against the fake transport."""

    @pytest.fixture
    def index(self, fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> Iterator[VectorIndex]:
        index = open_index(fake, monkeypatch)
        yield index
        index.close()


# -- schema ----------------------------------------------------------------------------------------


def test_collections_created_once_with_self_provided_cosine_vector(
    fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_index(fake, monkeypatch)
    assert set(fake.schemas) == {"GuichetTest", "GuichetTestDocument"}
    chunk = fake.schemas["GuichetTest"]
    vector = chunk["vectorConfig"]["default"]
    assert vector["vectorizer"] == {"none": {}}
    assert vector["vectorIndexType"] == "hnsw" and vector["vectorIndexConfig"]["distance"] == "cosine"
    assert chunk["invertedIndexConfig"]["stopwords"]["preset"] == "none"
    props = {p["name"]: p for p in chunk["properties"]}
    assert props["analyzed"]["tokenization"] == "whitespace" and props["analyzed"]["dataType"] == ["text"]
    assert props["audience"]["dataType"] == ["text[]"] and props["audience"]["tokenization"] == "field"
    assert props["doc_key"]["tokenization"] == "field" and props["ordinal"]["dataType"] == ["int"]
    assert props["text"]["indexSearchable"] is False
    state = {p["name"]: p for p in fake.schemas["GuichetTestDocument"]["properties"]}
    assert state["deleted"]["dataType"] == ["boolean"] and state["metadata_json"]["indexFilterable"] is False
    assert state["embedder"]["dataType"] == ["text"] and state["embedder"]["tokenization"] == "field"
    assert "vectorizer" not in fake.schemas["GuichetTestDocument"]  # no module vectorizes states
    posts = [c for c, _ in fake.calls if c == "POST /schema"]
    open_index(fake, monkeypatch)  # a second process finds them: no second creation
    assert [c for c, _ in fake.calls if c == "POST /schema"] == posts


def test_lost_creation_race_is_not_an_error(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    real_send = fake.send

    def send(method: str, *, url: str, weaviate_object: Any = None, **kw: Any) -> httpx.Response:
        if method == "POST":  # the other process created it between our exists() and create()
            fake.schemas[weaviate_object["class"]] = weaviate_object
            fake.data.setdefault(weaviate_object["class"], {})
            return httpx.Response(
                422, json={"error": [{"message": "already exists"}]}, request=httpx.Request(method, url)
            )
        return real_send(method, url=url, weaviate_object=weaviate_object, **kw)

    monkeypatch.setattr(fake, "send", send)
    index = open_index(fake, monkeypatch)
    assert index.chunk_count() == 0


def test_connection_failure_is_a_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(**kw: Any) -> Any:
        raise weaviate.exceptions.WeaviateStartUpError("Could not connect")

    monkeypatch.setattr(adapter.weaviate, "connect_to_custom", refuse)
    with pytest.raises(IndexBackendError, match="connexion à http://nowhere:8080"):
        adapter.WeaviateIndex("http://nowhere:8080", dimension=DIM)


# -- writes ----------------------------------------------------------------------------------------


def test_chunks_sent_with_uuid5_ids_named_vector_and_analyzed_text(
    fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = open_index(fake, monkeypatch)
    chunks = put(index, "fiches/F1.xml", "F1", [CNI])
    batch = next(r for c, r in fake.calls if c == "batch" and r.objects[0].collection == "GuichetTest")
    obj = batch.objects[0]
    assert obj.uuid == chunk_uuid("fiches/F1.xml", 0) == chunks[0].id
    assert [v.name for v in obj.vectors] == ["default"] and not obj.vector_bytes
    assert _floats(obj.vectors[0].vector_bytes) == pytest.approx(
        EMBEDDER.embed_passages([chunks[0].indexed_text])[0]
    )
    props = MessageToDict(obj.properties.non_ref_properties)
    assert "renouvel" in props["analyzed"].split() and "identit" in props["analyzed"].split()
    assert [(a.prop_name, list(a.values)) for a in obj.properties.text_array_properties] == [
        ("audience", ["particuliers"])
    ]
    state = fake.data["GuichetTestDocument"][adapter.state_uuid("fiches/F1.xml")][0]
    assert state["key"] == "fiches/F1.xml" and state["chunk_count"] == 1 and state["embedder"] == ""
    assert adapter.state_uuid("fiches/F1.xml") == str(uuid.uuid5(adapter.STATE_NAMESPACE, "fiches/F1.xml"))


def test_replace_inserts_before_deleting_stale_ids(
    fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = open_index(fake, monkeypatch)
    put(index, "fiches/F1.xml", "F1", [CNI, "deux", "trois"])
    fake.calls.clear()
    put(index, "fiches/F1.xml", "F1", ["un seul"])
    kinds = [c for c, _ in fake.calls if c in ("batch", "delete")]
    # chunks upserted, then stale ids deleted (a second call confirms 0 matches), then the state
    assert kinds == ["batch", "delete", "delete", "batch"]
    delete = next(r for c, r in fake.calls if c == "delete")
    assert delete.filters.target.property == "_id"
    assert set(delete.filters.value_text_array.values) == {chunk_uuid("fiches/F1.xml", i) for i in (1, 2)}
    assert set(fake.data["GuichetTest"]) == {chunk_uuid("fiches/F1.xml", 0)}


def test_delete_loops_past_the_per_call_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeWeaviate(max_results=2)
    index = open_index(fake, monkeypatch)
    put(index, "fiches/F1.xml", "F1", [f"texte {i}" for i in range(5)])
    put(index, "fiches/F2.xml", "F2", [CNI])
    fake.calls.clear()
    assert index.delete_document("fiches/F1.xml", sequencer="09") == 5
    assert len([c for c, _ in fake.calls if c == "delete"]) == 4  # 2 + 2 + 1, then 0 matches
    assert index.chunk_count() == 1


def test_partially_refused_batch_is_a_backend_error(
    fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = open_index(fake, monkeypatch)
    fake.reject.add(chunk_uuid("fiches/F1.xml", 1))
    with pytest.raises(
        IndexBackendError, match=f"refusé 1 objets : {chunk_uuid('fiches/F1.xml', 1)}: refusé"
    ):
        put(index, "fiches/F1.xml", "F1", [CNI, "deux"])
    assert index.document_state("fiches/F1.xml") is None  # no state recorded for a failed replacement


def test_fully_refused_batch_is_a_backend_error(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    # insert_many raises WeaviateInsertManyAllFailedError (no BatchObjectReturn) when all objects fail.
    index = open_index(fake, monkeypatch)
    fake.reject.add(adapter.state_uuid("fiches/F1.xml"))
    with pytest.raises(IndexBackendError, match=r"enregistrement de l'état de fiches/F1\.xml"):
        index.record_state(DocumentState(key="fiches/F1.xml", doc_id="F1", content_hash="h"))


def test_query_failure_is_a_backend_error(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    index = open_index(fake, monkeypatch)

    def broken(request: Any) -> Any:
        raise weaviate.exceptions.WeaviateQueryError("vector lengths don't match", "GRPC search")

    monkeypatch.setattr(index._client._connection, "grpc_search", broken)
    with pytest.raises(IndexBackendError, match="échec de la recherche"):
        index.search("carte", EMBEDDER.embed_query("carte"), mode="vector")
    with pytest.raises(IndexBackendError, match="liste des documents"):
        list(index.documents())


# -- reads -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["lexical", "vector", "hybrid"])
def test_search_requests(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    index = open_index(fake, monkeypatch)
    put(index, "fiches/F1.xml", "F1", [CNI])
    fake.calls.clear()
    filters = SearchFilters(audience="particuliers", doc_ids=("F1", "F2"))
    hits = index.search("Renouveler la carte", EMBEDDER.embed_query("x"), k=3, filters=filters, mode=mode)  # type: ignore[arg-type]
    request = next(r for c, r in fake.calls if c == "search")
    # Hybrid reads both rankings to the embedded index's depth and fuses them here (RRF).
    assert request.limit == (candidate_depth(3) if mode == "hybrid" else 3)
    assert request.filters.operator == base_pb2.Filters.OPERATOR_AND
    audience, doc_ids = request.filters.filters
    assert (audience.target.property, list(audience.value_text_array.values)) == (
        "audience",
        ["particuliers"],
    )
    assert (doc_ids.target.property, list(doc_ids.value_text_array.values)) == ("doc_id", ["F1", "F2"])
    if mode == "lexical":
        assert request.bm25_search.query == "renouvel cart" and list(request.bm25_search.properties) == [
            "analyzed"
        ]
        assert request.metadata.score and hits[0].lexical_rank == 1
    elif mode == "vector":
        assert list(request.near_vector.targets.target_vectors) == ["default"] and request.metadata.distance
        assert hits[0].score == pytest.approx(
            _cosine(EMBEDDER.embed_query("x"), EMBEDDER.embed_passages([cni_text()])[0])
        )
    else:
        lexical, dense = [r for c, r in fake.calls if c == "search"]
        assert lexical.bm25_search.query == "renouvel cart" and dense.HasField("near_vector")
        assert not lexical.HasField("hybrid_search") and not dense.HasField("hybrid_search")
        assert (hits[0].lexical_rank, hits[0].vector_rank) == (1, 1)
        assert hits[0].vector_score == pytest.approx(
            _cosine(EMBEDDER.embed_query("x"), EMBEDDER.embed_passages([cni_text()])[0])
        )
        # reciprocal_rank_fusion: rank 1 in both rankings
        assert hits[0].score == pytest.approx((LEXICAL_WEIGHT + VECTOR_WEIGHT) / (RRF_K + 1))
    assert [h.chunk.doc_id for h in hits] == ["F1"]


def cni_text() -> str:  # the indexed text of the single chunk put above
    return make_chunks("fiches/F1.xml", "F1", [CNI])[0].indexed_text


def test_lexical_query_adds_the_fiches_words(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    """The equivalents of guichet.lexical are searched by Weaviate as by the embedded index."""
    index = open_index(fake, monkeypatch)
    put(index, "fiches/F1.xml", "F1", [CNI])
    fake.calls.clear()
    index.search("Elle vend sa voiture", [], k=3, mode="lexical")
    request = next(r for c, r in fake.calls if c == "search")
    assert request.bm25_search.query == "vend voitur vehicul"


def test_hybrid_without_terms_is_vector_only(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    index = open_index(fake, monkeypatch)
    put(index, "fiches/F1.xml", "F1", [CNI])
    fake.calls.clear()
    assert [h.chunk.doc_id for h in index.search("de la", EMBEDDER.embed_query("carte"), mode="hybrid")] == [
        "F1"
    ]
    # No terms left after analysis: only the vector ranking is asked for.
    (request,) = [r for c, r in fake.calls if c == "search"]
    assert request.HasField("near_vector")


def test_k_zero_asks_nothing(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    index = open_index(fake, monkeypatch)
    put(index, "fiches/F1.xml", "F1", [CNI])
    fake.calls.clear()
    assert index.search("carte", EMBEDDER.embed_query("carte"), k=0) == []
    assert fake.calls == []  # limit=0 would reach the server as "unset", i.e. its default of 10


def test_reusable_vectors_ask_for_the_named_vector(
    fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = open_index(fake, monkeypatch)
    put(index, "fiches/F1.xml", "F1", [CNI])
    fake.calls.clear()
    assert len(index.reusable_vectors("fiches/F1.xml")) == 1
    request = next(r for c, r in fake.calls if c == "search")
    assert list(request.metadata.vectors) == ["default"]
    assert (request.filters.target.property, request.filters.value_text) == ("doc_key", "fiches/F1.xml")


def test_documents_pages_with_the_cursor(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    index = open_index(fake, monkeypatch)
    for n in range(5):
        index.record_state(DocumentState(key=f"fiches/F{n}.xml", doc_id=f"F{n}", content_hash="h"))
    monkeypatch.setattr(weaviate.collections.iterator, "ITERATOR_CACHE_SIZE", 2)
    fake.calls.clear()
    assert {s.key for s in index.documents()} == {f"fiches/F{n}.xml" for n in range(5)}
    pages = [r for c, r in fake.calls if c == "search"]
    assert len(pages) == 4 and not pages[0].after and all(r.after for r in pages[1:])  # 2 + 2 + 1 + 0


def test_a_phrase_is_looked_for_page_by_page_up_to_a_bound(
    fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BM25 has no phrase query: the passages holding every term are read a page at a time.
    index = open_index(fake, monkeypatch)
    monkeypatch.setattr(adapter_search, "PHRASE_PAGE", 2)
    texts = [
        "prime versée par la Caf",
        "la prime est versée",
        "une prime exceptionnelle versée",
        "prime versée",
    ]
    put(index, "fiches/F1.xml", "F1", texts[:3])
    put(index, "fiches/F2.xml", "F2", texts[3:])
    fake.calls.clear()
    assert index.mentions("Prime versée")
    assert not index.mentions("versée prime")  # all four hold both terms, none in that order
    pages = [r for c, r in fake.calls if c == "search"]
    assert [r.offset for r in pages][-3:] == [0, 2, 4]  # 2 + 2 + 0: every passage read, then False
    monkeypatch.setattr(adapter_search, "PHRASE_SCAN", 2)
    assert index.mentions("versée prime")  # more passages hold both than were read: taken as known


def test_embedder_round_trips_and_survives_the_tombstone(
    fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = open_index(fake, monkeypatch)
    state = DocumentState(key="fiches/F1.xml", doc_id="F1", content_hash="h", embedder="hashing:64")
    index.record_state(state)
    assert fake.data["GuichetTestDocument"][adapter.state_uuid(state.key)][0]["embedder"] == "hashing:64"
    assert index.document_state(state.key) == state
    index.delete_document(state.key, sequencer="0B")
    tombstone = index.document_state(state.key)
    assert tombstone is not None and tombstone.deleted and tombstone.embedder == "hashing:64"


def test_state_with_empty_or_missing_text_reads_back() -> None:
    # Tombstones carry "" (content_hash, doc_id); a server may send them as null or leave them out.
    # A state written before `embedder` existed has no such property: it reads back as "".
    state = adapter._state_from_properties({"key": "k", "doc_id": None, "deleted": True, "chunk_count": 0})
    assert state == DocumentState(key="k", doc_id="", content_hash="", deleted=True)
    assert json.loads(state.metadata_json) == {}


def test_ping(fake: FakeWeaviate, monkeypatch: pytest.MonkeyPatch) -> None:
    index = open_index(fake, monkeypatch)
    assert index.ping()
    monkeypatch.setattr(index._client, "is_live", lambda: False)  # gRPC down, HTTP up
    assert not index.ping()
