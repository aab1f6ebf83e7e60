"""`guichet ask` without --url: the question goes through the local stack's real path (queue → answer
worker → answer store), answered by a worker started in this process (or by a `guichet serve` sharing
the data folder, whichever takes the job first), the live text read from the answer stream."""

from __future__ import annotations

import threading
from collections.abc import Callable

from guichet.answer.record import AnswerRecord, AskJob, new_answer_id
from guichet.answer.store import AnswerRepository
from guichet.answer.worker import answer_consumers, enqueue
from guichet.cli.commands import EmptyIndex
from guichet.ports.answer_stream import AnswerStream
from guichet.process.consumers import Consumer
from guichet.settings import Settings
from guichet.wiring import build_stack

ASK_TIMEOUT_S = 600.0
# on_token(text, reset): reset=True means the draft shown so far is void (the model restarted).
TokenPrinter = Callable[[str, bool], None]


class AskTimeout(Exception):
    pass


def ask_local(
    settings: Settings, question: str, *, audience: str, situation: str, on_token: TokenPrinter
) -> AnswerRecord:
    stack = build_stack(settings)
    stop = threading.Event()
    consumers: list[Consumer] = []
    try:
        if stack.index.chunk_count() == 0:
            raise EmptyIndex("l'index est vide : lancez « guichet ingest CHEMIN… » ou « guichet demo »")
        consumers = answer_consumers(stack, stop, concurrency=1)
        job = AskJob(new_answer_id(), question, audience, situation)
        enqueue(stack, job)
        return follow(stack.answers, stack.answer_stream, job, on_token, stop)
    finally:
        stop.set()
        for consumer in consumers:
            consumer.join(timeout=30)
        stack.close()


def follow(
    answers: AnswerRepository,
    stream: AnswerStream,
    job: AskJob,
    on_token: TokenPrinter,
    stop: threading.Event,
    timeout: float = ASK_TIMEOUT_S,
) -> AnswerRecord:
    """Relays the live text until the record is final (read on the terminal event or when quiet).
    Gives up with AskTimeout after timeout, or at the next heartbeat once stop is set."""
    expired = threading.Event()  # not stop: the caller's process may go on serving after a timeout
    timer = threading.Timer(timeout, expired.set)
    timer.start()
    try:
        attempt = 0
        for event in stream.subscribe(job.id, since=job.created_at, stop=expired, heartbeat=1.0):
            if stop.is_set():
                break
            if event is not None and event.attempt != attempt:
                if event.attempt < attempt:
                    continue  # a late event of an attempt already abandoned
                if attempt:
                    on_token("", True)  # another worker took the job over: its draft starts afresh
                attempt = event.attempt
            if event is not None and event.kind == "token":
                on_token(str(event.data.get("text", "")), False)
            elif event is not None and event.kind == "status" and event.data.get("reset"):
                on_token("", True)
            if event is None or event.terminal:
                record = answers.get(job.id)
                if record is not None and record.final:
                    return record
    finally:
        timer.cancel()
    raise AskTimeout(f"pas de réponse après {timeout:.0f} s")
