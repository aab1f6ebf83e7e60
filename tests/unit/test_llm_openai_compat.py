"""OpenAICompatChatModel: the request it sends, and how each failure maps onto the port's errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Iterator

import httpx
import pytest

from guichet.ports.llm import ChatDelta, ChatMessage, ContextTooLong, LLMError, LLMUnavailable
from guichet.ports.llms.openai_compat import OpenAICompatChatModel
from guichet.testing.fake_llm_server import FakeOpenAIServer

REPLY = "Prenez rendez-vous en mairie avec votre ancienne carte et une photo d'identité récente."
QUESTION = [ChatMessage("user", "Comment renouveler ma carte d'identité ?")]
LLAMA_CPP_PYTHON_400 = (
    "This model's maximum context length is 512 tokens. However, you requested 1226 tokens"
    " (1210 in the messages, 16 in the completion). Please reduce the length of the messages or completion."
)
LLAMA_SERVER_400 = "the request exceeds the available context size, try increasing it"
VLLM_V1_400 = "The decoder prompt (length 5000) is longer than the maximum model length of 4096."


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(REPLY, delta_chars=8, context_chars=500) as server:
        yield server


@pytest.fixture
def model(server: FakeOpenAIServer) -> Iterator[OpenAICompatChatModel]:
    model = OpenAICompatChatModel(server.url, model="m", timeout=5)
    yield model
    model.close()


def answer(model: OpenAICompatChatModel, max_tokens: int = 100) -> list[ChatDelta]:
    return list(model.stream(QUESTION, max_tokens=max_tokens, temperature=0.2))


def mocked(
    handler: Callable[[httpx.Request], httpx.Response], *, model: str = "", api_key: str = ""
) -> OpenAICompatChatModel:
    transport = httpx.MockTransport(handler)
    return OpenAICompatChatModel("http://llm.test/v1", model=model, api_key=api_key, transport=transport)


def test_sends_a_streamed_openai_request(model: OpenAICompatChatModel, server: FakeOpenAIServer) -> None:
    assert "".join(d.text for d in answer(model, max_tokens=77)) == REPLY
    assert server.requests[-1].body == {
        "model": "m",
        "messages": [{"role": "user", "content": QUESTION[0].content}],
        "max_tokens": 77,
        "temperature": 0.2,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_overload_and_server_errors_are_unavailable(
    model: OpenAICompatChatModel, server: FakeOpenAIServer, status: int
) -> None:
    server.fail_with(status)
    with pytest.raises(LLMUnavailable, match=str(status)):
        answer(model)
    assert answer(model)[-1].finish_reason == "stop"  # the fault was for one request only


@pytest.mark.parametrize("message", [LLAMA_CPP_PYTHON_400, LLAMA_SERVER_400, VLLM_V1_400])
def test_context_errors_of_other_servers_are_context_too_long(
    model: OpenAICompatChatModel, server: FakeOpenAIServer, message: str
) -> None:
    server.fail_with(400, message=message)
    with pytest.raises(ContextTooLong, match="trop longs"):
        answer(model)


def test_vllm_context_error_is_context_too_long(model: OpenAICompatChatModel) -> None:
    with pytest.raises(ContextTooLong, match="maximum context length is 500"):
        list(model.stream([ChatMessage("user", "x" * 501)], max_tokens=5, temperature=0.0))


def test_tgi_validation_error_is_context_too_long() -> None:
    body = {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4090"
            " `inputs` tokens and 16 `max_new_tokens`", "error_type": "validation"}  # fmt: skip
    model = mocked(lambda request: httpx.Response(422, json=body), model="m")
    with pytest.raises(ContextTooLong):
        answer(model)


@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "temperature must be positive"), (401, "invalid api key"), (404, "no route")],
)
def test_other_refusals_are_plain_llm_errors(
    model: OpenAICompatChatModel, server: FakeOpenAIServer, status: int, message: str
) -> None:
    server.fail_with(status, message=message)
    with pytest.raises(LLMError) as raised:
        answer(model)
    assert raised.type is LLMError
    assert f"a répondu {status} : {message}" in str(raised.value)


def test_broken_stream_is_unavailable_after_the_partial_text(
    model: OpenAICompatChatModel, server: FakeOpenAIServer
) -> None:
    server.break_after(20)
    received: list[str] = []
    with pytest.raises(LLMUnavailable):
        for delta in model.stream(QUESTION, max_tokens=100, temperature=0.0):
            received.append(delta.text)
    assert "".join(received) == REPLY[:20]
    assert answer(model)[-1].finish_reason == "stop"


def test_stream_cut_before_any_text_is_asked_once_more(
    model: OpenAICompatChatModel, server: FakeOpenAIServer
) -> None:
    # llama-cpp-python's uvicorn answers 200 on a kept-alive connection it then closes (after a failed
    # stream): nothing reached the caller, so a fresh connection is tried once.
    asked = len(server.requests)
    server.break_after(0)
    assert "".join(d.text for d in answer(model)) == REPLY
    assert len(server.requests) - asked == 2


def test_stream_cut_twice_before_any_text_is_unavailable(
    model: OpenAICompatChatModel, server: FakeOpenAIServer
) -> None:
    asked = len(server.requests)
    server.break_after(0, n=2)
    with pytest.raises(LLMUnavailable):
        answer(model)
    assert len(server.requests) - asked == 2
    assert answer(model)[-1].finish_reason == "stop"


def test_server_down_is_unavailable_then_recovers(
    model: OpenAICompatChatModel, server: FakeOpenAIServer
) -> None:
    server.down()
    with pytest.raises(LLMUnavailable, match="injoignable"):
        answer(model)
    assert not model.ping()
    server.up()
    assert model.ping()
    assert answer(model)[-1].finish_reason == "stop"


def test_read_timeout_is_unavailable() -> None:
    with FakeOpenAIServer(REPLY, delay=2.0) as slow:
        model = OpenAICompatChatModel(slow.url, model="m", timeout=0.2)
        with pytest.raises(LLMUnavailable, match="à temps"):
            answer(model)
        model.close()


def test_closing_early_closes_the_http_stream() -> None:
    with FakeOpenAIServer("mot " * 2000, delta_chars=4, delay=0.002) as server:
        model = OpenAICompatChatModel(server.url, model="m")
        stream = model.stream(QUESTION, max_tokens=5000, temperature=0.0)
        assert isinstance(stream, Generator)
        assert next(stream).text == "mot "
        stream.close()
        deadline = time.monotonic() + 10
        while server.aborted == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.aborted == 1  # the server saw the client go before the end of its answer
        model.close()


def test_model_is_discovered_once_from_models() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "albert-large"}, {"id": "other"}]})
        assert json.loads(request.content)["model"] == "albert-large"
        return _sse_response('{"choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]}')

    model = mocked(handler)
    assert model.name == "albert-large"
    assert answer(model)[-1] == ChatDelta("ok", "stop", None)
    answer(model)
    assert paths == ["GET /v1/models", "POST /v1/chat/completions", "POST /v1/chat/completions"]


def test_failed_discovery_is_retried_on_next_use(server: FakeOpenAIServer) -> None:
    model = OpenAICompatChatModel(server.url)
    server.fail_with(503)
    with pytest.raises(LLMUnavailable):
        answer(model)
    assert model.name == "fake-model"
    model.close()


def test_server_serving_no_model_is_an_error() -> None:
    model = mocked(lambda request: httpx.Response(200, json={"object": "list", "data": []}))
    with pytest.raises(LLMError, match="aucun modèle"):
        _ = model.name


def test_api_key_is_sent_as_bearer() -> None:
    headers: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("authorization"))
        return _sse_response('{"choices":[{"delta":{},"finish_reason":"stop"}]}')

    answer(mocked(handler, model="m", api_key="s3cret"))
    answer(mocked(handler, model="m"))
    assert headers == ["Bearer s3cret", None]


def test_non_streamed_answer_is_accepted() -> None:
    message = {"role": "assistant", "content": "Bonjour."}
    completion = {
        "choices": [{"message": message, "finish_reason": "stop"}],
        "usage": {"completion_tokens": 3},
    }
    deltas = answer(mocked(lambda request: httpx.Response(200, json=completion), model="m"))
    assert [(d.text, d.finish_reason, d.usage and d.usage.completion_tokens) for d in deltas] == [
        ("Bonjour.", "stop", 3)
    ]


def test_connection_closed_before_any_answer_is_sent_once_more() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:  # as a kept-alive connection the server had just closed
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return _sse_response('{"choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]}')

    assert answer(mocked(handler, model="m"))[-1].text == "ok"
    assert len(calls) == 2


def test_connection_closed_twice_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    with pytest.raises(LLMUnavailable):
        answer(mocked(handler, model="m"))


def test_invalid_url_is_a_plain_llm_error() -> None:
    model = OpenAICompatChatModel("ftp://llm.test/v1", model="m")
    with pytest.raises(LLMError) as raised:
        answer(model)
    assert raised.type is LLMError


def _sse_response(*events: str) -> httpx.Response:
    body = "".join(f"data: {event}\n\n" for event in (*events, "[DONE]"))
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


def test_a_generation_longer_than_max_duration_is_unavailable() -> None:
    # Each piece arrives well within the read timeout, but the whole answer would take ~2 s.
    with FakeOpenAIServer("x" * 40, delta_chars=2, delay=0.1) as slow:
        model = OpenAICompatChatModel(slow.url, model="m", timeout=5.0, max_duration=0.5)
        with pytest.raises(LLMUnavailable, match="trop longue"):
            list(model.stream(QUESTION, max_tokens=100, temperature=0.0))
        model.close()
