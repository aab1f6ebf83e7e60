"""The two LLM test doubles: ScriptedChatModel's fault modes, FakeOpenAIServer's wire format and faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence

import httpx
import pytest

from guichet.ports.llm import ChatMessage, ContextTooLong, LLMUnavailable, Usage
from guichet.testing.fake_llm_server import FakeOpenAIServer
from guichet.testing.scripted_llm import ScriptedChatModel

QUESTION = [ChatMessage("system", "Sois bref."), ChatMessage("user", "Quels papiers ?")]


def text_of(
    model: ScriptedChatModel, messages: Sequence[ChatMessage] = QUESTION, max_tokens: int = 100
) -> str:
    return "".join(d.text for d in model.stream(messages, max_tokens=max_tokens, temperature=0.0))


def test_scripted_pieces_and_usage() -> None:
    deltas = list(
        ScriptedChatModel("abcdefghij", delta_chars=4).stream(QUESTION, max_tokens=9, temperature=0)
    )
    assert [d.text for d in deltas] == ["abcd", "efgh", "ij"]
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage == Usage(prompt_tokens=25, completion_tokens=3)


def test_scripted_max_tokens_counts_pieces() -> None:
    deltas = list(
        ScriptedChatModel("abcdefghij", delta_chars=4).stream(QUESTION, max_tokens=2, temperature=0)
    )
    assert [(d.text, d.finish_reason) for d in deltas] == [("abcd", None), ("efgh", "length")]


def test_scripted_answers_from_the_prompt_and_records_calls() -> None:
    model = ScriptedChatModel(lambda messages: messages[-1].content.upper())
    assert text_of(model) == "QUELS PAPIERS ?"
    assert model.calls == [QUESTION]


def test_scripted_fail_first_then_answers() -> None:
    model = ScriptedChatModel("ok", fail_first=2)
    for _ in range(2):
        with pytest.raises(LLMUnavailable):
            text_of(model)
    assert text_of(model) == "ok"
    assert len(model.calls) == 3  # failed calls are recorded too


def test_scripted_fail_after_chars_yields_that_much_first() -> None:
    model = ScriptedChatModel("abcdefghij", delta_chars=4, fail_after_chars=6)
    received: list[str] = []
    with pytest.raises(LLMUnavailable):
        for delta in model.stream(QUESTION, max_tokens=100, temperature=0):
            assert delta.finish_reason is None
            received.append(delta.text)
    assert received == ["abcd", "ef"]


def test_scripted_context_limit() -> None:
    model = ScriptedChatModel("ok", context_chars=25)
    assert text_of(model) == "ok"  # exactly 25 characters fit
    with pytest.raises(ContextTooLong):
        text_of(model, [*QUESTION, ChatMessage("user", "!")])


def test_scripted_is_thread_safe() -> None:
    model = ScriptedChatModel("réponse", fail_first=5)
    failures: list[int] = []

    def call() -> None:
        try:
            text_of(model)
        except LLMUnavailable:
            failures.append(1)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(failures) == 5 and len(model.calls) == 20


def test_fake_server_non_streamed_completion_and_models() -> None:
    with FakeOpenAIServer(lambda messages: f"{len(messages)} messages", model="albert") as server:
        models = httpx.get(f"{server.url}/models").json()
        body = {"model": "albert", "messages": [{"role": "user", "content": "abc"}]}
        completion = httpx.post(f"{server.url}/chat/completions", json=body).json()
    assert [m["id"] for m in models["data"]] == ["albert"]
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": "1 messages"}
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["prompt_tokens"] == 3


def test_fake_server_stream_is_openai_wire_format() -> None:
    body = {"messages": [{"role": "user", "content": "q"}], "stream": True, "max_tokens": 2}
    with FakeOpenAIServer("abcdefghij", delta_chars=4) as server:
        response = httpx.post(f"{server.url}/chat/completions", json=body)
    assert response.headers["content-type"] == "text/event-stream"
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "abcd", "efgh", None]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all("usage" not in c for c in chunks)  # only sent when stream_options.include_usage asks


def test_fake_server_records_requests_in_order_with_their_time() -> None:
    with FakeOpenAIServer("ok") as server:
        before = time.monotonic()
        server.fail_with(503)
        for content in ("un", "deux"):
            httpx.post(
                f"{server.url}/chat/completions", json={"messages": [{"role": "user", "content": content}]}
            )
        recorded = server.requests
    assert [r.body["messages"][0]["content"] for r in recorded] == ["un", "deux"]
    assert before <= recorded[0].at <= recorded[1].at


def test_fake_server_fault_counts_and_unknown_paths() -> None:
    with FakeOpenAIServer("ok") as server:
        server.fail_with(429, n=2)
        statuses = [httpx.get(f"{server.url}/models").status_code for _ in range(3)]
        missing = httpx.get(f"{server.url}/nothing-here").status_code
    assert statuses == [429, 429, 200]
    assert missing == 404


def test_fake_server_down_refuses_connections_and_exit_frees_the_port() -> None:
    with FakeOpenAIServer("ok") as server:
        url = server.url
        server.down()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/models")
        server.up()
        assert server.url == url
        assert httpx.get(f"{url}/models").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models")
