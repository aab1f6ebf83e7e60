"""Running the answer worker: N generation consumers on the ask queue, one on its dead-letter queue.

vLLM batches the requests it has in flight, so one job at a time would leave the GPU idle: each of the
answer_concurrency consumers holds one job (prefetch 1) and streams its generation, N in flight per
process. Each consumer has its own broker connection (pika is not thread-safe).
"""

from __future__ import annotations

import logging
import threading

from guichet import metrics
from guichet.answer import submission
from guichet.answer.generation import GenerationOptions
from guichet.answer.handlers import AnswerJobHandler, DeadJobHandler
from guichet.answer.pipeline import Answerer, AnswerOptions
from guichet.answer.record import AskJob
from guichet.ports.broker import dead_letter_queue
from guichet.process.consumers import Consumer, consume_in_thread, join_all, stop_on_signals
from guichet.settings import Settings
from guichet.wiring import Stack, build_stack

log = logging.getLogger(__name__)


# After SIGTERM, the longest generation (llm_max_duration) plus this to store its record and ack it; the
# Helm chart's terminationGracePeriodSeconds for answer workers is larger still (docs/decisions/0013).
SHUTDOWN_MARGIN_S = 30.0


class AnswerWorkerCrashed(Exception):
    """A consumer thread of the answer worker died: the process exits non-zero to be restarted."""


def answer_options(settings: Settings) -> AnswerOptions:
    generation = GenerationOptions(
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        retries=settings.llm_retries,
        retry_backoff=settings.llm_retry_backoff,
    )
    return AnswerOptions(
        extracts=settings.answer_extracts,
        prompt_chars=settings.llm_prompt_chars,
        generation=generation,
        source_max_age_days=settings.source_max_age_days,
        index_outage_wait=settings.index_outage_wait,
    )


def answer_consumers(
    stack: Stack, stop: threading.Event, *, concurrency: int | None = None
) -> list[Consumer]:
    settings = stack.settings
    if not settings.llm_url:
        log.info("no LLM configured (GUICHET_LLM_URL is empty): answers are extractive")
    answerer = Answerer(stack.retriever, stack.index, stack.chat_model, answer_options(settings), stop)
    publish = stack.analytics_publisher.answer  # the pilotage event of each final answer
    handler = AnswerJobHandler(
        stack.answers, stack.answer_stream, answerer, max_deliveries=settings.max_deliveries, on_final=publish
    )
    queue = settings.ask_queue
    slots = concurrency or settings.answer_concurrency
    metrics.ANSWER_CONCURRENCY.set(slots)
    consumers = [consume_in_thread(stack.broker, queue, handler, stop) for _ in range(slots)]
    dead = DeadJobHandler(stack.answers, stack.answer_stream, stop, on_final=publish)
    consumers.append(consume_in_thread(stack.broker, dead_letter_queue(queue), dead, stop))
    consumers.append(analytics_consumer(stack, stop))
    return consumers


def analytics_consumer(stack: Stack, stop: threading.Event) -> Consumer:
    """Every answer worker (and `guichet serve`) also fills the analytics store (pilotage/consumer.py)."""
    from guichet.pilotage.consumer import AnalyticsHandler

    handler = AnalyticsHandler(stack.analytics)
    return consume_in_thread(stack.broker, stack.settings.analytics_queue, handler, stop)


def run_answer_worker(settings: Settings) -> None:
    stack = build_stack(settings)
    try:
        with stop_on_signals() as stop, metrics.worker_endpoint(settings, lambda q: stack.broker.depth(q)):
            if stack.chat_model is None:
                log.warning("GUICHET_LLM_URL not set: extractive answers only")
            consumers = answer_consumers(stack, stop)
            log.info(
                "answer worker: %d generation(s) in flight on %s", len(consumers) - 2, settings.ask_queue
            )
            wait_for(consumers, stop, timeout=settings.llm_max_duration + SHUTDOWN_MARGIN_S)
    finally:
        stack.close()


def wait_for(consumers: list[Consumer], stop: threading.Event, *, timeout: float) -> None:
    """Returns when stop is set and every consumer finished its job in hand (or timeout passed: the jobs
    still in hand are requeued when the process exits); raises if one crashed."""
    while not stop.wait(1.0):  # the main thread stays free to receive SIGTERM
        pass
    join_all(consumers, timeout)  # a generation in hand finishes and is acknowledged
    crashed = [c.error for c in consumers if c.error is not None]
    if crashed:
        raise AnswerWorkerCrashed(f"un consommateur du worker de réponses s'est arrêté : {crashed[0]!r}")


def enqueue(stack: Stack, job: AskJob) -> None:
    """What POST /v1/ask does, on this stack (submission.py)."""
    submission.enqueue(stack.answers, stack.broker, stack.settings.ask_queue, job)
