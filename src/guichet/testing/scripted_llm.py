"""A deterministic in-process ChatModel for tests: replays a text, fails on demand, records its calls.

"Tokens" here are the pieces of delta_chars characters it yields: max_tokens=3 yields at most 3 pieces
(then finish_reason "length"), usage.completion_tokens counts them and usage.prompt_tokens is the
messages' length in characters. Failures are raised on the first next(), as an HTTP client's would be.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence

from guichet.ports.llm import ChatDelta, ChatMessage, ContextTooLong, LLMUnavailable, Usage

Reply = str | Callable[[Sequence[ChatMessage]], str]


class ScriptedChatModel:
    def __init__(
        self,
        text: Reply,
        *,
        delta_chars: int = 8,
        delay: float = 0.0,
        fail_first: int = 0,
        fail_after_chars: int | None = None,
        context_chars: int | None = None,
        cut_at_context: bool = False,
        name: str = "scripted",
    ) -> None:
        """delay: seconds before each piece; fail_first: the first N calls raise LLMUnavailable;
        fail_after_chars: every call yields that many characters, then raises LLMUnavailable;
        context_chars: messages longer than this in total raise ContextTooLong;
        cut_at_context: like vLLM, the answer of a prompt that fits also counts against context_chars
        (delta_chars per piece): it stops at the context's end, "length" with fewer pieces than max_tokens."""
        if delta_chars < 1:
            raise ValueError("delta_chars doit être au moins 1")
        self._reply = text
        self._delta_chars = delta_chars
        self._delay = delay
        self._fail_first = fail_first
        self._fail_after_chars = fail_after_chars
        self._context_chars = context_chars
        self._cut_at_context = cut_at_context
        self._name = name
        self._lock = threading.Lock()
        self._calls: list[list[ChatMessage]] = []
        self._closed = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def calls(self) -> list[list[ChatMessage]]:
        """The messages of every call so far, failed ones included, oldest first."""
        with self._lock:
            return [list(messages) for messages in self._calls]

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float
    ) -> Generator[ChatDelta, None, None]:
        with self._lock:
            self._calls.append(list(messages))
            attempt = len(self._calls)
        if attempt <= self._fail_first:
            raise LLMUnavailable(f"modèle scripté indisponible (appel {attempt} sur {self._fail_first})")
        prompt_chars = sum(len(m.content) for m in messages)
        if self._context_chars is not None and prompt_chars > self._context_chars:
            raise ContextTooLong(
                f"{prompt_chars} caractères, le modèle scripté en accepte {self._context_chars}"
            )
        if self._cut_at_context and self._context_chars is not None:
            max_tokens = min(max_tokens, (self._context_chars - prompt_chars) // self._delta_chars)
        text = self._reply if isinstance(self._reply, str) else self._reply(messages)
        pieces = _split(text, self._delta_chars) or [""]
        reason = "length" if len(pieces) > max_tokens else "stop"
        pieces = pieces[: max(max_tokens, 1)]
        if self._fail_after_chars is not None:  # the stream breaks before any finish_reason
            for piece in _split("".join(pieces)[: self._fail_after_chars], self._delta_chars):
                self._pause()
                yield ChatDelta(piece)
            raise LLMUnavailable(f"modèle scripté coupé après {self._fail_after_chars} caractères")
        for piece in pieces[:-1]:
            self._pause()
            yield ChatDelta(piece)
        self._pause()
        yield ChatDelta(pieces[-1], reason, Usage(prompt_chars, sum(1 for p in pieces if p)))

    def ping(self) -> bool:
        return not self._closed

    def close(self) -> None:
        self._closed = True

    def _pause(self) -> None:
        if self._delay:
            time.sleep(self._delay)


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
