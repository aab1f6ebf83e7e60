"""Streaming a generation from the chat model, relaying guarded text, with bounded retries.

A failure before the first token is retried after a backoff; a failure mid-answer restarts the draft
(readers are told to discard it). A prompt too long for the model is retried with fewer extracts, and
so is an answer the model's context cut short: vLLM does not refuse a prompt whose tokens plus max_tokens
exceed its context, it stops at the context's end with finish_reason "length" and fewer completion tokens
than max_tokens (only usage tells that cut from one by max_tokens). With one extract left, such a cut
answer is returned as it is, finish_reason "length": the caller must not present it as complete.
When every attempt failed, generate() returns None and the caller answers extractively.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from guichet import metrics
from guichet.answer.guard import StreamGuard
from guichet.answer.live_events import EventWriter
from guichet.ports.llm import ChatMessage, ChatModel, ContextTooLong, LLMError, LLMUnavailable, Usage

log = logging.getLogger(__name__)

# Builds the prompt with the first n extracts (n shrinks when the model's context is too small), and
# gives the texts the facts of an answer built on those n extracts may come from.
PromptBuilder = Callable[[int], list[ChatMessage]]
AllowedTexts = Callable[[int], Sequence[str]]


class CutByContext(ContextTooLong):
    """The model stopped at the end of its context, before max_tokens: fewer extracts leave it room."""

    def __init__(self, generation: Generation) -> None:
        super().__init__("answer cut by the model's context before max_tokens")
        self.generation = generation


class GenerationStopped(Exception):
    """The worker is shutting down while waiting to retry: the job must be redelivered, not degraded."""


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
    extracts_used: int  # the prompt held the first extracts_used extracts


def generate(
    model: ChatModel,
    build_prompt: PromptBuilder,
    allowed_for: AllowedTexts,
    extracts: int,
    events: EventWriter,
    options: GenerationOptions,
    stop: threading.Event | None = None,
) -> Generation | None:
    """None when the model could not answer: unavailable after every retry, refused, or the prompt does
    not fit even with one extract. Shrinking the prompt does not use up the retries."""
    started = time.perf_counter()
    failures = 0
    while True:
        try:
            messages = build_prompt(extracts)
            return _stream_once(model, messages, allowed_for(extracts), events, options, started, extracts)
        except ContextTooLong as exc:
            if extracts <= 1 and isinstance(exc, CutByContext):
                log.warning("answer cut by the model's context even with a single extract")
                metrics.LLM_REQUESTS.labels(outcome="ok").inc()
                return exc.generation  # finish_reason "length": kept as a cut answer, never as complete
            _discard_draft(events)
            metrics.LLM_REQUESTS.labels(outcome="context_too_long").inc()
            if extracts <= 1:
                log.warning("prompt too long even with a single extract")
                return None
            extracts = max(1, extracts // 2)
        except LLMUnavailable as exc:
            _discard_draft(events)
            metrics.LLM_REQUESTS.labels(outcome="unavailable").inc()
            failures += 1
            log.warning("model unavailable (failure %d/%d): %s", failures, options.retries + 1, exc)
            if failures > options.retries:
                return None
            if _wait(options.retry_backoff * 2 ** (failures - 1), stop):
                raise GenerationStopped("arrêt du worker pendant l'attente d'un nouvel essai") from exc
        except LLMError as exc:
            _discard_draft(events)
            metrics.LLM_REQUESTS.labels(outcome="refused").inc()
            log.warning("the model refused the request: %s", exc)
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
    usage: Usage | None = None
    deltas = model.stream(messages, max_tokens=options.max_tokens, temperature=options.temperature)
    try:
        for delta in deltas:
            if guard is None:
                guard = StreamGuard(allowed)
            text = delta.text
            if text and not parts:
                first_token_s = time.perf_counter() - started
            parts.append(text)
            events.token(guard.feed(text))
            finish_reason = delta.finish_reason or finish_reason
            usage = delta.usage or usage
    finally:
        deltas.close()  # on an error, the HTTP stream is closed now rather than at garbage collection
    if usage is not None:
        metrics.LLM_TOKENS.labels(kind="prompt").inc(usage.prompt_tokens)
        metrics.LLM_TOKENS.labels(kind="completion").inc(usage.completion_tokens)
    if guard is not None and finish_reason == "stop":
        # A cut answer's last words are an unfinished sentence: the draft never shows them (the final
        # record keeps the complete sentences only).
        events.token(guard.finish())
    generation = Generation("".join(parts), model.name, first_token_s, finish_reason, extracts)
    if finish_reason == "length" and usage is not None and usage.completion_tokens < options.max_tokens:
        raise CutByContext(generation)
    metrics.LLM_REQUESTS.labels(outcome="ok").inc()
    return generation


def _discard_draft(events: EventWriter) -> None:
    if events.streamed_chars:
        events.restart_draft("le modèle s'est interrompu")


def _wait(seconds: float, stop: threading.Event | None) -> bool:
    """Sleeps; True when stop was set meanwhile (the worker is shutting down: give up retrying)."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)
