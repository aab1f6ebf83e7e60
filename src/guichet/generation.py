"""Streaming a generation from the chat model, relaying guarded text, with bounded retries.

A failure before the first token is retried after a backoff; a failure mid-answer restarts the draft
(readers are told to discard it). A prompt too long for the model is retried with fewer extracts.
When every attempt failed, generate() returns None and the caller answers extractively.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from guichet import metrics
from guichet.answer_events import EventWriter
from guichet.guard import StreamGuard
from guichet.ports.llm import ChatMessage, ChatModel, ContextTooLong, LLMError, LLMUnavailable

log = logging.getLogger(__name__)

# Builds the prompt with at most n extracts (n shrinks when the model's context is too small).
PromptBuilder = Callable[[int], list[ChatMessage]]


@dataclass(frozen=True)
class GenerationOptions:
    max_tokens: int = 700
    temperature: float = 0.1
    retries: int = 2
    retry_backoff: float = 0.5


@dataclass(frozen=True)
class Generation:
    text: str  # as the model wrote it: the final guard runs on it against the cited sources only
    model: str
    first_token_s: float  # from the first request of the job
    finish_reason: str
    extracts_used: int


def generate(
    model: ChatModel,
    build_prompt: PromptBuilder,
    extracts: int,
    allowed: Sequence[str],
    events: EventWriter,
    options: GenerationOptions,
    stop: threading.Event | None = None,
) -> Generation | None:
    started = time.perf_counter()
    attempts = options.retries + 1
    for attempt in range(attempts):
        try:
            return _stream_once(model, build_prompt(extracts), allowed, events, options, started, extracts)
        except ContextTooLong:
            _discard_draft(events)
            metrics.LLM_REQUESTS.labels(outcome="context_too_long").inc()
            if extracts <= 1:
                log.warning("prompt trop long même avec un seul extrait")
                return None
            extracts = max(1, extracts // 2)
        except LLMUnavailable as exc:
            _discard_draft(events)
            metrics.LLM_REQUESTS.labels(outcome="unavailable").inc()
            log.warning("modèle indisponible (essai %d/%d) : %s", attempt + 1, attempts, exc)
            if attempt + 1 < attempts and _wait(options.retry_backoff * 2**attempt, stop):
                break
        except LLMError as exc:
            _discard_draft(events)
            metrics.LLM_REQUESTS.labels(outcome="refused").inc()
            log.warning("le modèle a refusé la requête : %s", exc)
            break
    return None


def _stream_once(
    model: ChatModel,
    messages: list[ChatMessage],
    allowed: Sequence[str],
    events: EventWriter,
    options: GenerationOptions,
    started: float,
    extracts: int,
) -> Generation:
    # Built on the first delta, not before the request: scanning the extracts for facts takes tens of ms,
    # which the model's prefill then hides instead of delaying the request.
    guard: StreamGuard | None = None
    parts: list[str] = []
    first_token_s = 0.0
    finish_reason = ""
    deltas = model.stream(messages, max_tokens=options.max_tokens, temperature=options.temperature)
    try:
        for delta in deltas:
            if guard is None:
                guard = StreamGuard(allowed)
            if delta.text and not parts:
                first_token_s = time.perf_counter() - started
            parts.append(delta.text)
            events.token(guard.feed(delta.text))
            finish_reason = delta.finish_reason or finish_reason
            if delta.usage is not None:
                metrics.LLM_TOKENS.labels(kind="prompt").inc(delta.usage.prompt_tokens)
                metrics.LLM_TOKENS.labels(kind="completion").inc(delta.usage.completion_tokens)
    finally:
        deltas.close()  # on an error, the HTTP stream is closed now rather than at garbage collection
    if guard is not None:
        events.token(guard.finish())
    metrics.LLM_REQUESTS.labels(outcome="ok").inc()
    return Generation("".join(parts), model.name, first_token_s, finish_reason, extracts)


def _discard_draft(events: EventWriter) -> None:
    if events.streamed_chars:
        events.restart_draft("le modèle s'est interrompu")


def _wait(seconds: float, stop: threading.Event | None) -> bool:
    """Sleeps; True when stop was set meanwhile (the worker is shutting down: give up retrying)."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)
