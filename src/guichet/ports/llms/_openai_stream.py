"""The OpenAI chat-completion stream, read: SSE events → typed chunks → ChatDelta.

Only what guichet uses is kept: the first choice's text and finish_reason, and usage (which may come
in a last chunk whose `choices` is empty, when "stream_options": {"include_usage": true} was sent).
Unknown fields (vLLM's reasoning_content, llama.cpp's timings...) are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from guichet.ports.llm import ChatDelta, LLMUnavailable, Usage

DONE = "[DONE]"
# finish_reason values with which a server reports that it gave up, not that the answer ended: vLLM's
# "abort" (request aborted, e.g. engine shut down or out of KV cache) and "error" (engine failure).
_FAILED = frozenset({"abort", "error"})


@dataclass(frozen=True)
class ChatChunk:
    """One `chat.completion.chunk` (or a whole non-streamed `chat.completion`), first choice only."""

    text: str
    finish_reason: str | None
    usage: Usage | None
    error: str | None = None  # some servers report a failure as a data event: {"error": {...}}

    @classmethod
    def parse(cls, data: str) -> ChatChunk:
        try:
            body = json.loads(data)
            if not isinstance(body, dict):
                raise TypeError(type(body).__name__)
            if body.get("error"):
                return cls("", None, None, error=_error_message(body))
            choices = body.get("choices") or []
            choice = choices[0] if choices else {}
            part = choice.get("delta") or choice.get("message") or {}
            reason = choice.get("finish_reason") or None
            return cls(_utf8(str(part.get("content") or "")), reason, _usage(body.get("usage")))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            raise LLMUnavailable(f"fragment illisible dans la réponse du modèle : {data[:200]!r}") from exc


def sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The data of each server-sent event: its `data:` lines joined by newlines (other fields ignored)."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
        # ":" comments (keep-alive pings) and event/id/retry fields carry nothing we use
    if data:  # a last event without its blank line: lenient, the finish_reason check still applies
        yield "\n".join(data)


def deltas(events: Iterable[str]) -> Iterator[ChatDelta]:
    """ChatDelta items from the data events; the last one carries finish_reason and usage.

    The chunk carrying finish_reason is held back until usage (a later chunk) or the end of the stream.
    A stream that ends before any finish_reason, or that ends with a failure reason (_FAILED), is a broken
    stream: LLMUnavailable. "length" (and any other reason but "stop") is passed on: the caller must treat
    the answer as cut.
    """
    finish: ChatChunk | None = None
    usage: Usage | None = None
    for data in events:
        if data.strip() == DONE:
            break
        chunk = ChatChunk.parse(data)
        if chunk.error is not None:
            raise LLMUnavailable(f"le modèle a signalé une erreur en cours de réponse : {chunk.error}")
        usage = chunk.usage or usage
        if finish is not None:
            continue  # after finish_reason only usage is expected
        if chunk.finish_reason is not None:
            finish = chunk
        elif chunk.text:
            yield ChatDelta(chunk.text)
    if finish is None:
        raise LLMUnavailable("la réponse du modèle s'est interrompue avant sa fin (aucun finish_reason)")
    if finish.finish_reason in _FAILED:
        raise LLMUnavailable(f"le modèle a abandonné la réponse (finish_reason {finish.finish_reason})")
    yield ChatDelta(finish.text, finish.finish_reason, usage)


def error_message(body: str) -> str:
    """The `error.message` of an OpenAI-style error body, else the body itself (shortened)."""
    try:
        return _error_message(json.loads(body))
    except (ValueError, TypeError, AttributeError):
        return body[:300]


def _error_message(body: Any) -> str:
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)[:300]
    if isinstance(body, dict) and "detail" in body:  # FastAPI's own validation errors
        return str(body["detail"])[:300]
    return str(error)[:300]


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    return Usage(int(value.get("prompt_tokens") or 0), int(value.get("completion_tokens") or 0))


def _utf8(text: str) -> str:
    """A lone surrogate (JSON "\\ud800" from the server) replaced: it could be neither stored nor sent."""
    return text.encode("utf-8", "replace").decode("utf-8")
