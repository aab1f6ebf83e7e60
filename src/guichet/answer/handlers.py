"""The answer worker's handlers: one job in, one durable answer record out, then the ack.

Redelivery is expected (a worker died mid-answer, a broker failover): a job whose record is already final
is not answered twice, its final event is republished for readers still waiting. A job that keeps failing
is recorded "failed" on its last allowed delivery; one whose worker died on that delivery is dead-lettered
by the broker, and DeadJobHandler records it "failed" from the dead-letter queue: no answer stays
"running" forever. A worker that stops mid-answer hands the job back uncounted (Requeue, ADR 0009). An
index outage is waited out without spending attempts, up to a bound, then recorded failed with its
reason (index_wait.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from guichet import metrics
from guichet.answer.generation import GenerationStopped
from guichet.answer.index_wait import INDEX_DOWN_CODE, IndexOutage
from guichet.answer.live_events import EventWriter
from guichet.answer.pipeline import Answerer
from guichet.answer.record import AnswerRecord, AskJob
from guichet.answer.store import AnswerRepository, valid_answer_id
from guichet.ports.answer_stream import AnswerStream
from guichet.ports.broker import REASON_HEADER, Reject, Requeue
from guichet.ports.records import Envelope
from guichet.ports.store import StoreError

log = logging.getLogger(__name__)

FAILED_MESSAGE = (
    "La réponse n'a pas pu être produite après {attempts} tentative(s). Reformulez la question ou "
    "réessayez plus tard ; si le problème persiste, signalez-le à l'équipe technique."
)
UNREADABLE = "message illisible : ce n'est pas une demande de réponse"
UNREADABLE_RECORD = "enregistrement de réponse illisible ({error}) : remplacé par un échec"


FinalHook = Callable[[AnswerRecord], None]


def _nothing(_record: AnswerRecord) -> None:
    return None


class AnswerJobHandler:
    """on_final(record): called once the final record is stored, and again on a redelivery that finds it
    (the pilotage event, pilotage/publish.py: if it raises, the job is redelivered and it is retried)."""

    def __init__(
        self,
        answers: AnswerRepository,
        stream: AnswerStream,
        answerer: Answerer,
        *,
        max_deliveries: int,
        on_final: FinalHook = _nothing,
    ) -> None:
        self._answers = answers
        self._stream = stream
        self._answerer = answerer
        self._max_deliveries = max_deliveries
        self._on_final = on_final

    def __call__(self, envelope: Envelope) -> None:
        job = _parse(envelope)
        if job is None:
            _record_unreadable(self._answers, envelope)
            raise Reject(UNREADABLE)
        if not valid_answer_id(job.id):
            raise Reject(f"identifiant de réponse invalide : {job.id[:40]!r}")
        attempt = envelope.delivery_count + 1
        events = EventWriter(self._stream, job.id, attempt)
        record = self._answers.get(job.id) or AnswerRecord.queued(job)
        if record.final:
            events.final(record)  # a redelivery after the record was stored: readers may still wait
            self._on_final(record)
            return
        metrics.ANSWERS_IN_FLIGHT.inc()
        try:
            final = self._answer(job, record.running(attempt), events, attempt)
        finally:
            metrics.ANSWERS_IN_FLIGHT.dec()
        current = self._answers.get(job.id)
        if current is not None and current.final:
            # A duplicate of this job (a publish retried after a lost confirm) finished first: keep its
            # record rather than overwrite what readers may already show.
            events.final(current)
            return
        self._answers.put(final)  # durable before the handler returns, i.e. before the ack
        events.final(final)
        _observe(final)
        self._on_final(final)

    def _answer(self, job: AskJob, running: AnswerRecord, events: EventWriter, attempt: int) -> AnswerRecord:
        try:
            self._answers.put(running)
            events.emit("status", {"status": "running", "attempt": attempt})
            return self._answerer.answer(job, running, events)
        except GenerationStopped as exc:
            # Shutting down: handed back uncounted for another worker, even on the last delivery.
            raise Requeue(str(exc)) from exc
        except IndexOutage as exc:
            # Waited out up to its bound (index_wait.py): the record says why, and the job is done.
            log.warning("answer %s: %s", job.id, exc)
            return running.failed(INDEX_DOWN_CODE, exc.message)
        except Exception as exc:
            if attempt < self._max_deliveries:
                raise  # requeued with backoff by the broker
            log.exception("answer %s: permanent failure on attempt %d", job.id, attempt)
            failed = running.failed("echec_generation", FAILED_MESSAGE.format(attempts=attempt))
            self._answers.put(failed)
            events.final(failed)
            _observe(failed)
            self._on_final(failed)
            raise Reject(f"échec après {attempt} tentatives : {type(exc).__name__}") from exc


class DeadJobHandler:
    """Consumes the ask dead-letter queue: a job there whose record is not final is recorded failed.

    The record keeps the question, audience and situation: the dead message holds nothing more, so it is
    acknowledged once the record is written. An answer store outage (StoreError) is transient: waited
    out here, for as long as it lasts. Anything else is permanent (a body that is not a job, a record
    that does not parse): the message is parked in "<ask>.dead.dead" with its reason (Reject) and the
    consumer goes on with the next one: one bad message never stalls the queue.
    """

    def __init__(
        self,
        answers: AnswerRepository,
        stream: AnswerStream,
        stop: threading.Event | None = None,
        *,
        on_final: FinalHook = _nothing,
    ) -> None:
        self._answers = answers
        self._stream = stream
        self._stop = stop or threading.Event()
        self._on_final = on_final

    def __call__(self, envelope: Envelope) -> None:
        metrics.DEAD_LETTERS.labels(kind="ask").inc()
        delay = 1.0
        while True:
            try:
                return self._record_failure(envelope)
            except (Reject, Requeue):
                raise
            except StoreError as exc:
                log.warning("failure not recorded (%r): retrying in %.0f s", exc, delay)
                if self._stop.wait(delay):
                    raise Requeue("arrêt du worker pendant une panne du stockage des réponses") from exc
                delay = min(delay * 2, 30.0)
            except Exception as exc:
                log.exception("dead-lettered message %s cannot be recorded: parked", envelope.message_id)
                raise Reject(f"message illisible ({type(exc).__name__}) : mis de côté") from exc

    def _record_failure(self, envelope: Envelope) -> None:
        job = _parse(envelope)
        if job is None:
            _record_unreadable(self._answers, envelope)
            raise Reject(UNREADABLE)
        try:
            record = self._answers.get(job.id) or AnswerRecord.queued(job)
        except StoreError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # The record itself does not parse: replace it by a failed one built from the job.
            failed = AnswerRecord.queued(job).failed("echec_generation", FAILED_MESSAGE.format(attempts=1))
            self._answers.put(failed)
            EventWriter(self._stream, job.id, 1).final(failed)
            _observe(failed)
            raise Reject(UNREADABLE_RECORD.format(error=type(exc).__name__)) from exc
        if record.final:
            return
        reason = envelope.headers.get(REASON_HEADER, "")
        log.warning("answer %s dead-lettered (%s): recorded as failed", job.id, reason)
        attempts = max(record.attempt, 1)
        failed = record.failed("echec_generation", FAILED_MESSAGE.format(attempts=attempts))
        self._answers.put(failed)
        EventWriter(self._stream, job.id, record.attempt + 1).final(failed)
        _observe(failed)
        self._on_final(failed)


def _parse(envelope: Envelope) -> AskJob | None:
    try:
        return AskJob.from_json(envelope.body)
    except (ValueError, KeyError, TypeError):
        return None


def _record_unreadable(answers: AnswerRepository, envelope: Envelope) -> None:
    """A malformed job whose id can still be read gets a failed record, so that its reader learns why."""
    answer_id = envelope.message_id
    if not valid_answer_id(answer_id):
        try:
            answer_id = str(json.loads(envelope.body).get("id", ""))
        except (ValueError, AttributeError):
            return
    try:
        record = answers.get(answer_id) if valid_answer_id(answer_id) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        record = None  # unreadable too: nothing to tell its reader
    if record is not None and not record.final:
        answers.put(record.failed("demande_invalide", "La demande reçue par le worker est illisible."))


def _observe(record: AnswerRecord) -> None:
    metrics.ANSWERS.labels(status=record.status, mode=record.mode or "none").inc()
    if record.status == "done":
        for stage in ("queued_s", "retrieval_s", "first_token_s", "total_s"):
            value = getattr(record.timings, stage)
            if stage != "first_token_s" or value > 0:
                metrics.ANSWER_STAGE_SECONDS.labels(stage=stage.removesuffix("_s")).observe(value)
        if record.mode == "generated":  # the decoding time; an extractive draft has none worth a histogram
            generation = max(0.0, record.timings.total_s - record.timings.first_token_s)
            metrics.ANSWER_STAGE_SECONDS.labels(stage="generation").observe(generation)
            # What `guichet sizing` targets (ttft-p95) and the alert watches: queue wait included.
            asked = record.timings.queued_s + record.timings.first_token_s
            metrics.ANSWER_STAGE_SECONDS.labels(stage="ask_to_first_token").observe(asked)
