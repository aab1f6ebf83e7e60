"""The engine simulator over HTTP: guichet's OpenAI client against it (the same contract as the fake and
llama.cpp servers), and vLLM's queueing seen through its /metrics."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import httpx
import pytest

from guichet.capacity.simulator import load_profile
from guichet.capacity.simulator.server import create_app, serving
from guichet.ports.llm import ChatMessage, ChatModel
from guichet.ports.llms.openai_compat import OpenAICompatChatModel
from guichet.testing.helpers import wait_for
from tests.contracts.test_llm_contract import ChatModelContract, VllmProtocol, answer

# A 1,024-token context (the contract's TOO_LONG prompt is ~1,800 tokens), fast steps.
PROFILE = dataclasses.replace(load_profile(), max_model_len=1024, output_tokens=30)


@pytest.fixture(scope="module")
def simulator() -> Iterator[str]:
    with serving(create_app(PROFILE, speed=20.0, model_name="sim-8b")) as base:
        yield base


class TestOpenAICompatWithSimulator(ChatModelContract, VllmProtocol):
    expected_name = served_name = "sim-8b"
    context_tokens = PROFILE.max_model_len
    # 1,000 tokens of 1,024: the answer (≥ 30 tokens) is cut at the context's end
    near_full = (ChatMessage("user", "a" * round(1000 * PROFILE.chars_per_token)),)

    @pytest.fixture
    def base(self, simulator: str) -> str:
        return simulator

    @pytest.fixture
    def model(self, simulator: str) -> Iterator[ChatModel]:
        model = OpenAICompatChatModel(simulator)
        yield model
        model.close()

    def test_natural_answer_stops_and_cites(self, model: ChatModel) -> None:
        deltas = answer(model, max_tokens=700)
        text = "".join(d.text for d in deltas)
        assert deltas[-1].finish_reason == "stop" and "[1]" in text
        usage = deltas[-1].usage
        assert usage is not None and usage.completion_tokens == len(text.split())


def test_non_streamed_completion(simulator: str) -> None:
    body = {"model": "sim-8b", "messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 8}
    reply = httpx.post(f"{simulator}/chat/completions", json=body, timeout=30).json()
    assert reply["object"] == "chat.completion" and reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"] == {"prompt_tokens": 100, "completion_tokens": 8, "total_tokens": 108}


def metric(base: str, name: str) -> float:
    text = httpx.get(base.removesuffix("/v1") + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + "{") and 'model_name="sim-8b"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} absent de /metrics")


def test_two_slots_four_requests_two_wait_then_all_finish() -> None:
    slow = dataclasses.replace(PROFILE, max_num_seqs=2, output_tokens=400)
    with serving(create_app(slow, speed=1.0, model_name="sim-8b")) as base:
        model = OpenAICompatChatModel(base)
        results: list[str | None] = [None] * 4

        def run(slot: int) -> None:
            deltas = list(model.stream([ChatMessage("user", "Bonjour")], max_tokens=700, temperature=0.0))
            results[slot] = deltas[-1].finish_reason

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: metric(base, "vllm:num_requests_waiting") == 2, timeout=30)
        assert metric(base, "vllm:num_requests_running") == 2
        assert metric(base, "vllm:kv_cache_usage_perc") > 0
        for thread in threads:
            thread.join(timeout=120)
        model.close()
        assert results == ["stop"] * 4
        assert metric(base, "vllm:num_requests_waiting") == 0
        assert metric(base, "vllm:time_to_first_token_seconds_count") == 4
        assert metric(base, "vllm:generation_tokens_total") >= 4 * 400
        assert metric(base, "vllm:prompt_tokens_total") > 0
