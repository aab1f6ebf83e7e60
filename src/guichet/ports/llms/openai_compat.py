"""Any OpenAI-compatible POST {base_url}/chat/completions, streamed (vLLM, llama.cpp server, Ollama...).

No retry here, but for a request cut before any answer (see _send): the caller decides
(LLMUnavailable is worth retrying later, ContextTooLong needs a shorter prompt, LLMError will fail
again). Error statuses map as the port says; a prompt too long for the model is recognised from the body
(message, code) of a 400/413/422, since servers agree on no error code for it (vLLM: "This model's
maximum context length is...", llama-cpp-python: the same plus code "context_length_exceeded", llama.cpp's
own server: "...exceeds the available context size", vLLM V1: "...longer than the maximum model
length", TGI: 422 "...must be <= ..."): see _CONTEXT.

`model` empty: the first id of GET {base_url}/models, asked once, on first use (name or stream).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx

from guichet.ports.llm import ChatDelta, ChatMessage, ContextTooLong, LLMError, LLMUnavailable
from guichet.ports.llms._openai_stream import deltas, error_message, sse_data

# The connection was cut (not the server's answer): worth sending once more if nothing was delivered
_CUT = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)

_CONTEXT = re.compile(
    r"context.length|maximum context|context window|context size|exceed_context|too many tokens"
    r"|maximum (?:model|prompt) length|(?:prompt|input) is too long|reduce the length of the messages"
    r"|tokens? \+ `max_new_tokens` must be",
    re.IGNORECASE,
)
_CONTEXT_STATUS = frozenset({400, 413, 422})
_UNAVAILABLE_STATUS = frozenset({408, 425, 429})  # and every 5xx
_PING_TIMEOUT_S = 5.0


class OpenAICompatChatModel:
    def __init__(
        self,
        base_url: str,
        *,
        model: str = "",
        api_key: str = "",
        timeout: float = 60.0,
        max_duration: float = 600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """timeout: the longest wait for a byte; max_duration: the longest a whole generation may take
        (a server sending keep-alive comments but no token would otherwise hold a worker slot forever)."""
        if timeout <= 0 or max_duration <= 0:
            raise ValueError("timeout et max_duration doivent être positifs")
        self._max_duration = max_duration
        self._base = base_url.rstrip("/")
        self._model = model
        self._discovery = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # timeout bounds the wait for each read, so the first token (prompt processing) too.
        limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._client = httpx.Client(timeout=limits, headers=headers, transport=transport)

    @property
    def name(self) -> str:
        """The configured model, else the server's first: may raise LLMUnavailable/LLMError on first use."""
        if not self._model:
            with self._discovery:
                if not self._model:
                    self._model = self._discover()
        return self._model

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Generator[ChatDelta, None, None]:
        url = f"{self._base}/chat/completions"
        payload: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        with _mapped_errors(url):
            for attempt in (1, 2):
                delivered = False
                try:
                    response = self._send("POST", url, payload=payload, resend=False)
                    try:
                        for delta in self._deltas(response, url):
                            delivered = True
                            yield delta
                        return
                    finally:
                        response.close()  # also when the caller closes the generator early
                except _CUT:
                    # Cut before the caller saw anything, whether before the answer's headers or after
                    # (uvicorn closes a kept-alive connection after a failed stream, and llama-cpp-python
                    # may answer 200 on it first): asked once more; after a delta, never.
                    if delivered or attempt == 2:
                        raise

    def _deltas(self, response: httpx.Response, url: str) -> Iterator[ChatDelta]:
        if not response.is_success:
            response.read()
            raise refusal(url, response.status_code, response.text)
        if response.headers.get("content-type", "").startswith("application/json"):
            # a server that ignores "stream": the whole completion in one body
            yield from deltas([response.read().decode("utf-8", "replace")])
        else:
            deadline = time.monotonic() + self._max_duration
            yield from deltas(sse_data(_until(deadline, response.iter_lines(), url)))

    def ping(self) -> bool:
        try:
            response = self._send("GET", f"{self._base}/models", timeout=_PING_TIMEOUT_S)
            response.read()  # read, not dropped: the connection goes back to the pool
            return response.status_code == 200
        except (httpx.HTTPError, httpx.InvalidURL):
            return False

    def close(self) -> None:
        self._client.close()

    def _send(
        self, method: str, url: str, *, payload: Any = None, timeout: float | None = None, resend: bool = True
    ) -> httpx.Response:
        """The response, body not read yet. Sent once more (resend) if the connection was cut before any
        answer: a kept-alive connection the server had just closed (uvicorn does after a failed stream)."""
        request = self._client.build_request(
            method, url, json=payload, timeout=timeout if timeout is not None else self._client.timeout
        )
        try:
            return self._client.send(request, stream=True)
        except _CUT:
            if not resend:
                raise
            return self._client.send(request, stream=True)

    def _discover(self) -> str:
        url = f"{self._base}/models"
        with _mapped_errors(url):
            response = self._send("GET", url)
            response.read()
        if not response.is_success:
            raise refusal(url, response.status_code, response.text)
        try:
            ids = [str(model["id"]) for model in response.json()["data"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise LLMError(f"réponse inattendue de {url} (liste de modèles attendue)") from exc
        if not ids:
            raise LLMError(f"le serveur de modèle {url} ne sert aucun modèle")
        return ids[0]


@contextmanager
def _mapped_errors(url: str) -> Iterator[None]:
    try:
        yield
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:  # configuration: retrying is pointless
        raise LLMError(f"adresse du modèle invalide ({url}) : {_describe(exc)}") from exc
    except httpx.TimeoutException as exc:
        raise LLMUnavailable(f"le modèle n'a pas répondu à temps ({url}) : {_describe(exc)}") from exc
    except httpx.TransportError as exc:  # refused, reset, closed mid-stream
        raise LLMUnavailable(
            f"modèle injoignable ou coupé en cours de réponse ({url}) : {_describe(exc)}"
        ) from exc
    except httpx.HTTPError as exc:
        raise LLMUnavailable(f"échange interrompu avec le modèle ({url}) : {_describe(exc)}") from exc


def refusal(url: str, status: int, body: str) -> LLMError:
    """The error for an HTTP error answer (public so that tests can check real servers' bodies)."""
    message = error_message(body)
    described = f"le modèle ({url}) a répondu {status} : {message}"
    if status >= 500 or status in _UNAVAILABLE_STATUS:
        return LLMUnavailable(described)
    if status in _CONTEXT_STATUS and _CONTEXT.search(body[:2000]):
        return ContextTooLong(f"question et extraits trop longs pour le modèle : {message}")
    return LLMError(described)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _until(deadline: float, lines: Iterator[str], url: str) -> Iterator[str]:
    for line in lines:
        if time.monotonic() > deadline:
            raise LLMUnavailable(f"{url} : génération trop longue, abandonnée")
        yield line
