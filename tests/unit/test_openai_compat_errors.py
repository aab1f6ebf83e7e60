"""OpenAICompatEmbedder's failures: every one is an EmbedderError in French, retries are bounded."""

from __future__ import annotations

import inspect
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from guichet.ports.embedder import EmbedderError
from guichet.ports.embedders.openai_compat import OpenAICompatEmbedder

URL = "http://embed.test/v1"
Answer = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry pauses, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("guichet.ports.embedders.openai_compat.time.sleep", recorded.append)
    return recorded


def embedder_answering(answer: Answer, **options: Any) -> tuple[OpenAICompatEmbedder, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return answer(request)

    options = {"model": "m", **options}
    return OpenAICompatEmbedder(URL, transport=httpx.MockTransport(handler), **options), requests


def test_200_that_is_not_json(pauses: list[float]) -> None:
    embedder, requests = embedder_answering(lambda _r: httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(EmbedderError, match="JSON attendu") as caught:
        embedder.embed_query("bonjour")
    assert "<html>proxy</html>" in str(caught.value)
    assert len(requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"error": "surchargé"},
        [],
        {"data": "pas une liste"},
        {"data": [{"index": 0}]},
        {"data": [{"embedding": [1.0, 0.0]}]},
        {"data": [{"index": 0, "embedding": "abc"}]},
        {"data": [{"index": 0, "embedding": None}]},
        {"data": [{"index": 0, "embedding": []}]},
        {"data": []},
    ],
)
def test_200_without_the_expected_fields(body: Any, pauses: list[float]) -> None:
    embedder, _ = embedder_answering(lambda _r: httpx.Response(200, json=body))
    with pytest.raises(EmbedderError, match="service d'embedding"):
        embedder.embed_query("bonjour")


def test_server_error_is_retried_then_succeeds(pauses: list[float]) -> None:
    answers = [
        httpx.Response(500, text="redémarrage"),
        httpx.Response(503),
        httpx.Response(200, json={"data": [{"index": 0, "embedding": [0.6, 0.8]}]}),
    ]
    embedder, requests = embedder_answering(lambda _r: answers.pop(0), retries=2)
    assert embedder.embed_query("bonjour") == [0.6, 0.8]
    assert len(requests) == 3
    assert pauses == [0.5, 1.0]
    assert requests[0].content == requests[-1].content  # the same payload, resent


def test_server_error_gives_up_after_the_retries(pauses: list[float]) -> None:
    embedder, requests = embedder_answering(lambda _r: httpx.Response(502, text="passerelle"), retries=1)
    with pytest.raises(EmbedderError, match="502") as caught:
        embedder.embed_query("bonjour")
    assert len(requests) == 2
    assert "abandon après 2 essais" in str(caught.value)


def test_client_error_is_not_retried(pauses: list[float]) -> None:
    answer = httpx.Response(400, json={"error": {"message": "entrée trop longue"}})
    embedder, requests = embedder_answering(lambda _r: answer, retries=3)
    with pytest.raises(EmbedderError, match="a répondu 400") as caught:
        embedder.embed_query("bonjour")
    assert "entrée trop longue" in str(caught.value)
    assert len(requests) == 1
    assert pauses == []


def test_connection_refused(pauses: list[float]) -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    embedder = OpenAICompatEmbedder(f"http://127.0.0.1:{port}/v1", model="m", retries=1, timeout=2)
    with pytest.raises(EmbedderError, match="injoignable") as caught:
        embedder.embed_query("bonjour")
    assert "abandon après 2 essais" in str(caught.value)
    assert pauses == [0.5]
    embedder.close()


def test_transport_errors_are_embedder_errors(pauses: list[float]) -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("", request=request)  # httpx's timeouts may carry no message

    embedder, requests = embedder_answering(time_out, retries=1)
    with pytest.raises(EmbedderError, match=r"injoignable.*ReadTimeout"):
        embedder.embed_query("bonjour")
    assert len(requests) == 2


def test_total_time_is_bounded() -> None:
    # Real pauses: 0.5 s after the first 503; the next pause (1 s) would leave less than the minimum.
    embedder, requests = embedder_answering(lambda _r: httpx.Response(503), retries=10, total_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(EmbedderError, match="503"):
        embedder.embed_query("bonjour")
    assert time.monotonic() - started < 1.5
    assert len(requests) == 2


def test_each_attempt_timeout_is_cut_to_the_time_left(pauses: list[float]) -> None:
    embedder, requests = embedder_answering(
        lambda _r: httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0]}]}),
        timeout=10,
        total_timeout=3,
    )
    embedder.embed_query("bonjour")
    timeouts = requests[0].extensions["timeout"]
    assert 0 < timeouts["read"] <= 3 and 0 < timeouts["connect"] <= 3


def test_default_retries_fit_in_twenty_seconds() -> None:
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(OpenAICompatEmbedder).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    assert min(defaults["timeout"] * (defaults["retries"] + 1), defaults["total_timeout"]) <= 20
