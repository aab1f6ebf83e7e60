"""The HTTP functions that exist so far: documents, search, health, errors in French."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from guichet.api.app import create_app
from guichet.ports.brokers.memory import MemoryBroker
from guichet.ports.embedder import EmbedderError
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.wiring import Stack

SAMPLES = Path(__file__).resolve().parents[2] / "src" / "guichet" / "samples" / "fiches"


@pytest.fixture
def stack(embedded_stack: Stack) -> Stack:
    return embedded_stack


@pytest.fixture
def client(stack: Stack) -> TestClient:
    return TestClient(create_app(stack))


def error_of(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


def test_upload_stores_and_announces_the_document(client: TestClient, stack: Stack) -> None:
    data = sorted(SAMPLES.glob("*.xml"))[0].read_bytes()
    response = client.post(
        "/v1/documents", files={"file": ("fiche.xml", data, "text/xml")}, data={"key": "a/b.xml"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["key"] == "a/b.xml" and response.json()["size"] == len(data)
    assert stack.store.get("a/b.xml") == data
    assert isinstance(stack.broker, MemoryBroker)
    assert len(stack.broker.messages(stack.settings.index_queue)) == 1


@pytest.mark.parametrize(
    ("name", "key", "payload", "status", "code"),
    [
        ("virus.exe", "", b"MZ", 415, "format_non_pris_en_charge"),
        ("ok.xml", "../etc/passwd.xml", b"<x/>", 422, "cle_invalide"),
        ("gros.txt", "", b"x" * 100_001, 413, "trop_volumineux"),
        ("vide.txt", "", b"", 422, "document_vide"),
    ],
)
def test_upload_refuses_bad_documents(
    client: TestClient, stack: Stack, name: str, key: str, payload: bytes, status: int, code: str
) -> None:
    response = client.post("/v1/documents", files={"file": (name, payload)}, data={"key": key})
    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert list(stack.store.list()) == []


def test_delete_document(client: TestClient, stack: Stack) -> None:
    stack.store.put("x.txt", b"du texte")
    assert client.delete("/v1/documents/x.txt").status_code == 204
    assert stack.store.head("x.txt") is None
    missing = client.delete("/v1/documents/x.txt")
    assert missing.status_code == 404 and "Aucun document" in error_of(missing)["message"]


def test_search_validation_is_french(client: TestClient) -> None:
    response = client.get("/v1/search", params={"q": "x", "audience": "martiens"})
    assert response.status_code == 422
    assert error_of(response)["message"].startswith("Requête invalide")
    assert client.get("/v1/search", params={"q": "   "}).status_code == 422
    assert client.get("/v1/search").status_code == 422


def test_search_returns_passages(client: TestClient, stack: Stack) -> None:
    path = sorted(SAMPLES.glob("*.xml"))[0]
    stack.indexer.index_object("f.xml", path.read_bytes())
    response = client.get("/v1/search", params={"q": "demande", "k": 3, "mode": "lexical"})
    assert response.status_code == 200
    hits = response.json()
    assert 0 < len(hits) <= 3
    assert {"id", "title", "url", "branch", "score", "text"} <= set(hits[0])


def test_health_and_readiness(client: TestClient, stack: Stack) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "store": True,
        "index": True,
        "broker": True,
        "answers": True,
    }
    stack.broker.close()
    down = client.get("/readyz")
    assert down.status_code == 503 and "broker" in error_of(down)["message"]


def test_unknown_route_and_openapi(client: TestClient) -> None:
    assert error_of(client.get("/nulle-part"))["code"] == "introuvable"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/documents", "/v1/documents/{key}", "/v1/search", "/healthz", "/readyz"} <= set(paths)


def test_metrics_expose_the_index_size(client: TestClient, stack: Stack) -> None:
    from guichet import metrics

    metrics.track_index_size(stack.index.chunk_count)
    stack.indexer.index_object("f.txt", "Le chèque énergie est envoyé chaque année.".encode())
    body = client.get("/metrics").text
    assert "guichet_index_chunks 1.0" in body


def test_upload_key_conflicts_are_client_errors(client: TestClient) -> None:
    first = client.post("/v1/documents", files={"file": ("a.txt", b"Du texte.")}, data={"key": "conf.txt"})
    assert first.status_code == 201
    clash = client.post("/v1/documents", files={"file": ("b.txt", b"Autre.")}, data={"key": "conf.txt/b.txt"})
    assert clash.status_code == 409 and error_of(clash)["code"] == "conflit_de_cle"
    reserved = client.post(
        "/v1/documents", files={"file": ("c.txt", b"x")}, data={"key": ".guichet-tmp-x.txt"}
    )
    assert reserved.status_code == 422 and error_of(reserved)["code"] == "cle_invalide"


class FailingEmbedder(HashingEmbedder):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def embed_query(self, text: str) -> list[float]:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (EmbedderError("service d'embedding injoignable"), 503, "service_indisponible"),
        (RuntimeError("a bug"), 500, "erreur_interne"),
    ],
)
def test_failures_are_french_json(stack: Stack, error: Exception, status: int, code: str) -> None:
    failing = Stack(stack.settings, embedder=FailingEmbedder(error), index=stack.index, store=stack.store)
    client = TestClient(create_app(failing), raise_server_exceptions=False)
    response = client.get("/v1/search", params={"q": "carte grise"})
    assert response.status_code == status and error_of(response)["code"] == code
    assert "a bug" not in response.text


def test_upload_whose_event_cannot_be_queued_is_stored_and_says_so(client: TestClient, stack: Stack) -> None:
    stack.broker.close()  # the embedded queue is gone: the write succeeds, its announcement fails
    response = client.post(
        "/v1/documents", files={"file": ("a.txt", b"Du texte utile.")}, data={"key": "a.txt"}
    )
    assert response.status_code == 201 and response.json()["indexing"] == "delayed"
    assert stack.store.get("a.txt") == b"Du texte utile."


def test_requests_are_counted_by_route_template(client: TestClient, stack: Stack) -> None:
    stack.store.put("compte.txt", b"x")
    client.delete("/v1/documents/compte.txt")
    body = client.get("/metrics").text
    assert 'guichet_http_requests_total{route="/v1/documents/{key:path}",status="204"}' in body
    assert "compte.txt" not in body


def test_delete_whose_event_cannot_be_queued_says_so(client: TestClient, stack: Stack) -> None:
    stack.store.put("b.txt", b"Du texte.")
    stack.broker.close()
    response = client.delete("/v1/documents/b.txt")
    assert response.status_code == 202 and response.json() == {"key": "b.txt", "indexing": "delayed"}
    assert stack.store.head("b.txt") is None
