"""Chat model port: a streamed chat completion from an OpenAI-compatible server.

Implementations: llms/openai_compat.py (vLLM, llama.cpp server, Ollama, Albert API... through
POST {base_url}/chat/completions with "stream": true), llms/scripted.py (a deterministic in-process model
for tests: it replays a given text, can fail on demand).

Semantics every implementation honours (tests/contracts/test_llm_contract.py):
- stream(messages, ...) yields ChatDelta items in order; the concatenation of their text is the answer.
  The last delta carries finish_reason ("stop", "length", ...) and, when the server reports it, usage.
  Only "stop" means the model ended its answer: "length" is a cut, by max_tokens or, on vLLM, by the
  context (prompt + max_tokens over it is not refused: usage.completion_tokens < max_tokens then tells).
  A server's own failure reasons ("abort", "error") raise LLMUnavailable.
- Before yielding anything, an unreachable server, a timeout, a 5xx or a 429 raises LLMUnavailable
  (worth retrying later); a prompt longer than the model's context raises ContextTooLong (retrying the
  same prompt is pointless: send fewer extracts); any other refusal raises LLMError.
- A failure after some deltas were yielded raises LLMUnavailable too: the caller decides whether the
  partial text is usable (it is not: guichet restarts or falls back).
- The generator may be closed early (generator.close()): the HTTP stream is then closed at once, so
  that the server stops generating for nobody.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


class LLMError(Exception):
    """The model server refused the request (not worth retrying as is)."""


class LLMUnavailable(LLMError):
    """The model server could not be reached, timed out, was overloaded or broke the stream."""


class ContextTooLong(LLMError):
    """The prompt does not fit in the model's context window."""


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ChatDelta:
    text: str
    finish_reason: str | None = None
    usage: Usage | None = None


class ChatModel(Protocol):
    @property
    def name(self) -> str:
        """The model's identifier as the server names it (recorded in the answer record)."""
        ...

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Generator[ChatDelta, None, None]: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
