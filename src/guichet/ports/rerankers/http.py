"""A rerank endpoint: a cross-encoder served over HTTP scores each passage against the question.

Two request/response shapes, both POST {base_url}/rerank:
- "tei" (Hugging Face text-embeddings-inference): {"query", "texts", "truncate": true} ->
  [{"index", "score"}, ...] (sorted by score);
- "albert" (Albert API, base URL ending in /v1): {"prompt", "input", "model"} ->
  {"object": "list", "data": [{"index", "score"}, ...]}.
Each passage is sent with its context (title, section, case: Chunk.indexed_text), as it is embedded.

One attempt, bounded by `timeout`: a rerank sits on every question's path, and the Retriever keeps the
index's own order when it fails (ports/reranker.py), so a retry would only delay the answer. Every
failure is a RerankerError with a French message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import httpx

from guichet.ports.records import SearchHit
from guichet.ports.reranker import RerankerError

RerankApi = Literal["tei", "albert"]


class HttpReranker:
    def __init__(
        self,
        base_url: str,
        *,
        api: RerankApi = "tei",
        model: str = "",
        api_key: str = "",
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if api not in ("tei", "albert"):
            raise ValueError(f"API de rerank inconnue : {api!r} (tei ou albert)")
        if api == "albert" and not model:
            raise ValueError("l'API Albert demande un modèle de rerank (GUICHET_RERANK_MODEL)")
        self._url = base_url.rstrip("/") + "/rerank"
        self._api = api
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # transport: for tests (httpx.MockTransport); None is httpx's own network transport.
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    @property
    def name(self) -> str:
        return f"{self._api}:{self._model or self._url}"

    def rerank(self, query: str, hits: Sequence[SearchHit]) -> list[SearchHit]:
        if not hits:
            return []
        texts = [h.chunk.indexed_text for h in hits]
        if self._api == "tei":
            payload: dict[str, Any] = {"query": query, "texts": texts, "truncate": True}
        else:
            payload = {"prompt": query, "input": texts, "model": self._model}
        scores = self._scores(self._post(payload), len(hits))
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))
        return [replace(hits[i], score=scores[i]) for i in order]

    def close(self) -> None:
        self._client.close()

    def _post(self, payload: dict[str, Any]) -> Any:
        try:
            response = self._client.post(self._url, json=payload)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise RerankerError(f"service de rerank injoignable ({self._url}) : {_describe(exc)}") from exc
        if response.status_code >= 400:
            raise RerankerError(
                f"le service de rerank {self._url} a répondu {response.status_code} : {response.text[:200]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise RerankerError(
                f"réponse illisible du service de rerank {self._url} (JSON attendu) : {response.text[:200]!r}"
            ) from exc

    def _scores(self, body: Any, expected: int) -> list[float]:
        """One score per passage, by index; every passage must be scored exactly once."""
        items = body.get("data") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise RerankerError(f"réponse inattendue du service de rerank {self._url} : notes attendues")
        scores: dict[int, float] = {}
        try:
            for item in items:
                scores[int(item["index"])] = float(item["score"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RerankerError(
                f'réponse inattendue du service de rerank {self._url} ("index" ou "score" absent'
                f" ou invalide) : {_describe(exc)}"
            ) from exc
        if sorted(scores) != list(range(expected)) or len(items) != expected:
            raise RerankerError(
                f"le service de rerank {self._url} a noté {len(items)} passages pour {expected} envoyés"
            )
        return [scores[i] for i in range(expected)]


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
